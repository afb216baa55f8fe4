"""DDIM (eta 0) in the variance-preserving form of the paper and the reference.

A latent at level `a` (an alphas_cumprod value) is `z = sqrt(a) x0 + sqrt(1 - a) eps`.
The host samples in the variance-exploding form `x = z / sqrt(a)`, with
`sigma = sqrt((1 - a) / a)`; `alphas_from_sigmas` converts the host's table.
"""
from dataclasses import dataclass

import torch


def sd15_alphas_cumprod(train_steps: int = 1000) -> torch.Tensor:
    """SD1.x's scaled-linear schedule (betas 0.00085..0.012), float64."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, train_steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def alphas_from_sigmas(sigmas: torch.Tensor) -> torch.Tensor:
    """alphas_cumprod from a host's discrete sigma table (sigma^2 = (1 - a) / a)."""
    sigmas = sigmas.to(torch.float64)
    return 1.0 / (1.0 + sigmas * sigmas)


def ddim_step(z: torch.Tensor, eps: torch.Tensor, a_from: float, a_to: float) -> torch.Tensor:
    """Move z from level a_from to level a_to along the predicted noise (either direction)."""
    x0 = (z - (1.0 - a_from) ** 0.5 * eps) / a_from ** 0.5
    return a_to ** 0.5 * x0 + (1.0 - a_to) ** 0.5 * eps


def eps_at_level(eps: torch.Tensor, z: torch.Tensor, a_assumed: float, a_actual: float) -> torch.Tensor:
    """A v-prediction model's noise for z at level a_actual, from the eps the host derived
    assuming level a_assumed (the level of the timestep it was given).

    The host turns v into eps with its sigma: eps = sqrt(a) v + sqrt(1 - a) z. For an eps
    model that is the raw output at any level; for v it is only right at z's own level,
    and DDIM inversion evaluates z at its level with the next level's timestep.
    """
    v = (eps - (1.0 - a_assumed) ** 0.5 * z) / a_assumed ** 0.5
    return a_actual ** 0.5 * v + (1.0 - a_actual) ** 0.5 * z


@dataclass(frozen=True)
class Schedule:
    """The timesteps one edit walks, and the levels between them.

    `timesteps` are the denoising timesteps actually used, descending (reference at 50
    steps, strength 0.75: 741, 721, ..., 1). The step below timestep t lands on level
    `alpha(t - step_ratio)`, where a negative timestep means alphas_cumprod[0]
    (set_alpha_to_one=False in the reference).
    """

    alphas_cumprod: tuple
    timesteps: tuple
    step_ratio: int

    def alpha(self, t: int) -> float:
        return self.alphas_cumprod[t] if t >= 0 else self.alphas_cumprod[0]

    def prev(self, t: int) -> int:
        return t - self.step_ratio


def make_schedule(alphas_cumprod: torch.Tensor, steps: int, strength: float, offset: int = 1) -> Schedule:
    """The reference's DDIM schedule ("leading" spacing, steps_offset 1), cut to `strength`."""
    train_steps = len(alphas_cumprod)
    if not 1 <= steps <= train_steps:
        raise ValueError(f"steps: must be between 1 and {train_steps}, got {steps}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"inversion_strength: must be in (0, 1], got {strength}")
    used = round(strength * steps)  # Python's round, as the reference
    if used < 1:
        raise ValueError(f"inversion_strength: {strength} x {steps} steps rounds to no step; raise either")
    ratio = train_steps // steps
    descending = [i * ratio + offset for i in reversed(range(steps))]
    if descending[0] >= train_steps:
        raise ValueError(f"steps: {steps} steps with offset {offset} run past timestep {train_steps - 1}")
    return Schedule(
        alphas_cumprod=tuple(float(a) for a in alphas_cumprod),
        timesteps=tuple(descending[steps - used:]),
        step_ratio=ratio,
    )
