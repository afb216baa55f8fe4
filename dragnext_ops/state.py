"""What travels between the nodes (the custom sockets' payloads)."""
from dataclasses import dataclass, field

import torch

from .ddim import Schedule


@dataclass
class Inversion:
    """DDIM inversion of one image: the schedule and every latent, VP, in model space."""
    schedule: Schedule
    latents: list                   # [z0, z_t1, ..., z_T], ascending levels
    passes: dict = field(default_factory=dict)

    @property
    def inverted(self) -> torch.Tensor:
        return self.latents[-1]


@dataclass
class DragEdit:
    """PBSI's result: both branches at the level where denoising resumes."""
    inversion: Inversion
    pbsi_timesteps: int
    edited: torch.Tensor
    original: torch.Tensor
    losses: list
    passes: dict = field(default_factory=dict)

    @property
    def remaining_timesteps(self) -> tuple:
        return self.inversion.schedule.timesteps[self.pbsi_timesteps:]
