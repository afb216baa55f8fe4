"""DDIM inversion and plain denoising loops against a `Denoiser`.

A Denoiser is any callable `(z, t, features=False) -> (eps, feature_maps)`: the UNet sees
the VP latent `z` with the timestep embedding of `t` (see nodes/host_unet.py).
"""
from typing import Callable

import torch

from .ddim import Schedule, ddim_step, eps_at_level

Denoiser = Callable[..., tuple]


def invert(denoiser: Denoiser, z0: torch.Tensor, schedule: Schedule, prediction: str = "eps") -> list:
    """Walk the clean latent up the schedule; returns [z0, z_t1, ..., z_T], ascending.

    Each step evaluates the UNet on the latent of the level it is at, with the timestep
    embedding of the level it moves to (the reference's convention). `prediction` "v":
    the denoiser's eps is re-derived at the latent's own level (ddim.eps_at_level), as
    diffusers' inverse DDIM does for v-prediction.
    """
    if prediction not in ("eps", "v"):
        raise ValueError(f"prediction: expected 'eps' or 'v', got {prediction!r}")
    latents = [z0]
    z = z0
    for t in reversed(schedule.timesteps):
        eps, _ = denoiser(z, t)
        a_from, a_to = schedule.alpha(schedule.prev(t)), schedule.alpha(t)
        if prediction == "v":
            eps = eps_at_level(eps, z, a_to, a_from)
        z = ddim_step(z, eps, a_from, a_to)
        latents.append(z)
    return latents


def denoise(denoiser: Denoiser, z: torch.Tensor, schedule: Schedule, timesteps) -> torch.Tensor:
    """Plain DDIM from the level of timesteps[0] down past the last of `timesteps`."""
    for t in timesteps:
        eps, _ = denoiser(z, t)
        z = ddim_step(z, eps, schedule.alpha(t), schedule.alpha(schedule.prev(t)))
    return z
