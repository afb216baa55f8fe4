"""Progressive Backward Self-Intervention (the paper's Eq. 5-7), against a Denoiser.

Per PBSI timestep t (from T down to T'), K Adam iterations on the VP latent z_t minimise
    10 * sum_ops mean|F(z_t^k)[rho] - F'(z_t)[Pi]|
    + lambda * sum|(z_{t-1}(z_t^k) - z_{t-1}^orig) * (1 - M)|
then one DDIM step moves the optimised latent to the next timestep.
"""
from dataclasses import dataclass, field

import numpy as np
import torch

from .ddim import Schedule, ddim_step
from .features import sample_cells
from .geometry import CellOperation, intermediate_state, progress, rotation_angle, to_cell

FEATURE_WEIGHT = 10.0  # the reference's weight on the feature term


@dataclass
class PBSIConfig:
    timesteps: int = 5
    iterations: int = 10
    lr: float = 0.02
    mask_weight: float = 0.2          # lambda
    schedule: str = "paper"           # progress schedule, see geometry.progress

    def validate(self, available: int):
        if not 1 <= self.timesteps <= available:
            raise ValueError(f"pbsi_timesteps: must be between 1 and the {available} inverted steps, got {self.timesteps}")
        if self.iterations < 1:
            raise ValueError(f"iterations: must be at least 1, got {self.iterations}")
        if not self.lr > 0:
            raise ValueError(f"lr: must be positive, got {self.lr}")
        if not self.mask_weight >= 0:
            raise ValueError(f"lambda: must be zero or positive, got {self.mask_weight}")
        progress(self.schedule, 0, 1, 1, 1)  # raises on an unknown schedule name


@dataclass
class PBSIResult:
    edited: torch.Tensor              # edited latent at level alpha(prev(T'))
    original: torch.Tensor            # the original trajectory's latent at the same level
    losses: list = field(default_factory=list)   # (feature, mask) per iteration
    states: torch.Tensor | None = None           # predicted clean latent after each timestep (N, C, h, w)


def state_plan(ops, grid, config: PBSIConfig, device) -> list:
    """Every iteration's cell mappings, built before the loop and moved to the device once,
    so the loop itself makes no host-device copies."""
    reference = config.schedule == "reference"
    plan = []
    for i in range(config.timesteps):
        for k in range(1, config.iterations + 1):
            eta = progress(config.schedule, i, k, config.timesteps, config.iterations)
            states = [intermediate_state(op, eta, grid, reference) for op in ops]
            plan.append([s.to(device) if s is not None and len(s) else None for s in states])
    return plan


def cell_operations(spec, grid) -> list:
    """Each drag operation's handle region and points on the feature grid (half resolution)."""
    ops = []
    for op in spec.operations:
        cells = torch.from_numpy(np.ascontiguousarray(op.region[::2, ::2]))  # nearest, as torch's
        rows, cols = torch.nonzero(cells, as_tuple=True)
        center = to_cell(op.center) if op.center is not None else None
        angle = rotation_angle(op.handle, op.target, op.center) if op.kind == "rotate" else 0.0
        ops.append(CellOperation(op.kind, rows, cols, to_cell(op.handle), to_cell(op.target), center, angle))
    return ops


def latent_keep_mask(spec, latent_hw, device) -> torch.Tensor | None:
    """(1 - M) at latent resolution (nearest), or None when everything is editable."""
    if spec.editable is None:
        return None
    fy, fx = spec.height // latent_hw[0], spec.width // latent_hw[1]
    editable = torch.from_numpy(np.ascontiguousarray(spec.editable[::fy, ::fx]))
    return (~editable).to(device=device, dtype=torch.float32)[None, None]


def original_references(denoiser, z_T, schedule: Schedule, steps, ops, grid):
    """Denoise the original trajectory over the PBSI timesteps, once.

    Keeps, per timestep, the features of each handle region only (on the model's device)
    and the next latent; these are the detached references of the loss.
    """
    refs, nexts = [], []
    z = z_T
    with torch.no_grad():
        for t in steps:
            eps, maps = denoiser(z, t, features=True)
            refs.append([sample_cells(maps, op.handle_rows, op.handle_cols, grid) for op in ops])
            z = ddim_step(z, eps, schedule.alpha(t), schedule.alpha(schedule.prev(t)))
            nexts.append(z)
    return refs, nexts


def run_pbsi(denoiser, z_T, schedule: Schedule, spec, config: PBSIConfig) -> PBSIResult:
    grid = (spec.height // 2, spec.width // 2)
    steps = schedule.timesteps[:config.timesteps]
    ops = cell_operations(spec, grid)
    keep = latent_keep_mask(spec, z_T.shape[-2:], z_T.device)
    refs, originals = original_references(denoiser, z_T, schedule, steps, ops, grid)
    plan = iter(state_plan(ops, grid, config, z_T.device))
    use_mask = keep is not None and config.mask_weight > 0
    z = z_T.detach()
    losses, previews = [], []
    for i, t in enumerate(steps):
        a_t, a_prev = schedule.alpha(t), schedule.alpha(schedule.prev(t))
        z = z.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=config.lr)
        for _ in range(config.iterations):
            states = next(plan)
            if not use_mask and all(s is None for s in states):
                continue  # nothing to supervise (the reference skips sub-cell states): no pass
            eps, maps = denoiser(z, t, features=True)
            feature_loss = z.new_zeros(())
            for state, ref in zip(states, refs[i]):
                if state is None:
                    continue
                current = sample_cells(maps, state.rows, state.cols, grid)
                moved = ref[:, state.source]
                feature_loss = feature_loss + FEATURE_WEIGHT * (current.float() - moved.float()).abs().mean()
            mask_loss = z.new_zeros(())
            if use_mask:
                z_prev = ddim_step(z, eps, a_t, a_prev)
                mask_loss = config.mask_weight * ((z_prev - originals[i]) * keep).abs().sum()
            optimizer.zero_grad(set_to_none=True)
            (feature_loss + mask_loss).backward()
            optimizer.step()
            losses.append(torch.stack([feature_loss.detach(), mask_loss.detach()]))
        with torch.no_grad():
            eps, _ = denoiser(z, t)
            previews.append(ddim_step(z, eps, a_t, 1.0))  # the clean image this timestep aims at, from the same pass
            z = ddim_step(z, eps, a_t, a_prev)
    history = torch.stack(losses).cpu().tolist() if losses else []  # one copy, after the loop
    return PBSIResult(edited=z.detach(), original=originals[-1], losses=history, states=torch.cat(previews))
