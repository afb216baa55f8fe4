"""Progressive Backward Self-Intervention (the paper's Eq. 5-7), against a Denoiser.

Per PBSI timestep t (from T down to T'), K Adam iterations on the VP latent z_t minimise
    10 * sum_ops mean|F(z_t^k)[rho] - F'(z_t)[Pi]|
    + lambda * sum|(z_{t-1}(z_t^k) - z_{t-1}^orig) * (1 - M)|
then one DDIM step moves the optimised latent to the next timestep. A state that is skipped
(geometry.intermediate_state) adds no loss; when every operation's is, the iteration takes
no pass and no step.

method "reference" (the authors' released code) runs the point-drag stage (point_drag.py)
before PBSI in the first timesteps, takes the handle region as the filled external contour
holding the handle cell, the angle from the rounded cells, the reference's state geometry,
and the lambda term once per supervised operation.
"""
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .ddim import Schedule, ddim_step
from .features import sample_cells
from .geometry import (
    METHODS, CellOperation, grid_region, intermediate_state, moves_nothing, progress, ramping, reference_degrees,
    rotation_angle, to_cell,
)
from .point_drag import PointDragConfig, PointDragState, integer_patch, run_point_drag
from .reference_region import filled_contour_at

FEATURE_WEIGHT = 10.0  # the reference's weight on the feature term


@dataclass
class PBSIConfig:
    timesteps: int = 5
    iterations: int = 10
    lr: float = 0.02
    mask_weight: float = 0.2          # lambda
    schedule: str = "paper"           # progress schedule, see geometry.progress
    method: str = "paper"             # geometry.METHODS
    point_drag: PointDragConfig | None = None   # the reference's point-drag stage; None: off
    loss_scaling: bool = False        # dynamic loss scale for a UNet computing in float16

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
        if self.method not in METHODS:
            raise ValueError(f"method: unknown '{self.method}', expected one of {METHODS}")
        if self.point_drag is not None:
            self.point_drag.validate(self.timesteps)


@dataclass
class PBSIResult:
    edited: torch.Tensor              # edited latent at level alpha(prev(T'))
    original: torch.Tensor            # the original trajectory's latent at the same level
    losses: list = field(default_factory=list)   # (feature, mask) per PBSI iteration that took a step
    states: torch.Tensor | None = None           # predicted clean latent after each timestep (N, C, h, w)
    point_drag_steps: list = field(default_factory=list)  # Adam steps of the point-drag stage per timestep


def timestep_plan(ops, grid, config: PBSIConfig, i: int, device) -> list:
    """Timestep i's cell mappings, one list per iteration, built before its iterations and
    moved to the device together, so that the Adam loop makes no host-device copies; a
    timestep at a time, so that a large rotation's states neither hold the device's memory
    for every timestep nor delay the first pass."""
    ramp = ramping(config.schedule, i, config.timesteps)
    plan = []
    for k in range(1, config.iterations + 1):
        eta = progress(config.schedule, i, k, config.timesteps, config.iterations)
        states = [intermediate_state(op, eta, grid, config.method, ramp) for op in ops]
        plan.append([s.to(device) if s is not None and len(s) else None for s in states])
    return plan


def _handle_region(cells: np.ndarray, handle, index: int, method: str, warn: bool) -> np.ndarray:
    if method != "reference":
        return cells
    filled = filled_contour_at(cells, handle)
    if filled is None:
        # The reference stops here (its region lookup finds no contour); keep going instead.
        if warn:
            logging.warning("DragNeXt: operation %d's handle cell %s lies outside its region on the feature grid; "
                            "using the drawn region instead of the reference's filled contour", index + 1, handle)
        return cells
    return filled


def cell_operations(spec, grid, method: str = "paper", warn: bool = True) -> list:
    """Each drag operation's handle region and points on the feature grid (half resolution).

    paper: the drawn region, the angle from the image pixels. reference: the filled external
    contour holding the handle cell, the angle from the rounded cells.
    """
    ops = []
    for index, op in enumerate(spec.operations):
        handle, target = to_cell(op.handle), to_cell(op.target)
        center = to_cell(op.center) if op.center is not None else None
        cells = np.ascontiguousarray(grid_region(op.region))
        cells = _handle_region(cells, handle, index, method, warn)
        rows, cols = torch.nonzero(torch.from_numpy(cells), as_tuple=True)
        angle, degrees = 0.0, None
        if op.kind == "rotate" and method == "reference":
            degrees = reference_degrees(handle, target, center)
            angle = -math.radians(degrees)
        elif op.kind == "rotate":
            angle = rotation_angle(op.handle, op.target, op.center)
        ops.append(CellOperation(op.kind, rows, cols, handle, target, center, angle, degrees))
    return ops


def latent_keep_mask(spec, latent_hw, device) -> torch.Tensor | None:
    """(1 - M) at latent resolution (nearest), or None when everything is editable."""
    if spec.editable is None:
        return None
    fy, fx = spec.height // latent_hw[0], spec.width // latent_hw[1]
    editable = torch.from_numpy(np.ascontiguousarray(spec.editable[::fy, ::fx]))
    return (~editable).to(device=device, dtype=torch.float32)[None, None]


def original_references(denoiser, z_T, schedule: Schedule, steps, ops, grid, point_drag=None):
    """Denoise the original trajectory over the PBSI timesteps, once.

    Keeps, per timestep, the features of each handle region only (on the model's device),
    the point-drag stage's patch at each initial handle in its timesteps, and the next
    latent; these are the detached references of the losses.
    """
    refs, patches, nexts = [], [], []
    z = z_T
    with torch.no_grad():
        for i, t in enumerate(steps):
            eps, maps = denoiser(z, t, features=True)
            refs.append([sample_cells(maps, op.handle_rows, op.handle_cols, grid) for op in ops])
            if point_drag is not None and i < point_drag.timesteps:
                patches.append([integer_patch(maps, grid, op.handle, point_drag.motion_radius) for op in ops])
            z = ddim_step(z, eps, schedule.alpha(t), schedule.alpha(schedule.prev(t)))
            nexts.append(z)
    return refs, patches, nexts


def loss_scaled_step(scaler):
    """Adam's step through `scaler`: the loss is scaled for the backward pass and the
    gradient unscaled before the step, which is skipped (and the scale lowered) on inf/NaN."""
    def step(loss, optimizer):
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return step


def check_moves(spec, method: str):
    """Refuse, before any pass, an operation that PBSI could not supervise on the feature grid:
    a region with no cell on it, a rotation centre in the handle's or the target's cell where
    the reference measures its angle between cells, or a drag that moves no cell at full length
    (every state would be skipped and the edit would silently be none)."""
    grid = (spec.height // 2, spec.width // 2)
    for index, op in enumerate(cell_operations(spec, grid, method, warn=False)):  # run_pbsi warns
        f = f"drag: operations[{index}]"
        if not len(op.handle_rows):
            raise ValueError(f"{f}.region: covers no cell of the feature grid, which PBSI reads at every second "
                             "pixel (even rows and columns); draw the region at least 2 px wide and tall")
        if method == "reference" and op.kind == "rotate" and op.center in (op.handle, op.target):
            raise ValueError(f"{f}.center: in the same feature cell (2 px) as the handle or the target, where the "
                             "reference method's angle between cells is undefined; put the centre further away")
        state = intermediate_state(op, 1.0, grid, method, False)
        if state is None or not len(state) or moves_nothing(state, op):
            raise ValueError(f"{f}.target: at full length the drag moves no cell of the feature grid (a cell is "
                             "2 px); drag further")


def run_pbsi(denoiser, z_T, schedule: Schedule, spec, config: PBSIConfig, skip_passes=None) -> PBSIResult:
    """`skip_passes(n)`, when given, hears of the n passes that the plan allowed for but
    that were not needed (skipped states, a point-drag stage that stopped early)."""
    grid = (spec.height // 2, spec.width // 2)
    steps = schedule.timesteps[:config.timesteps]
    ops = cell_operations(spec, grid, config.method)
    keep = latent_keep_mask(spec, z_T.shape[-2:], z_T.device)
    drag = config.point_drag
    refs, patches, originals = original_references(denoiser, z_T, schedule, steps, ops, grid, drag)
    use_mask = keep is not None and config.mask_weight > 0
    # Float16 gradients of this loss fall below float16's normal range; bfloat16's do not.
    step = loss_scaled_step(torch.amp.GradScaler(z_T.device.type, enabled=config.loss_scaling))
    skip = skip_passes or (lambda n: None)
    drag_state = PointDragState([op.handle for op in ops], [op.target for op in ops]) if drag else None
    z = z_T.detach()
    losses, previews, drag_steps = [], [], []
    for i, t in enumerate(steps):
        a_t, a_prev = schedule.alpha(t), schedule.alpha(schedule.prev(t))
        if drag is not None and i < drag.timesteps:
            z, drag_losses, passes = run_point_drag(
                denoiser, z, t, a_t, a_prev, patches[i], originals[i], keep, config.mask_weight, config.lr,
                drag, drag_state, step, grid)
            drag_steps.append(len(drag_losses))
            skip(drag.passes_per_timestep - passes)
        z = z.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=config.lr)
        for states in timestep_plan(ops, grid, config, i, z.device):
            supervised = [(s, ref) for s, ref in zip(states, refs[i]) if s is not None]
            if not supervised:
                skip(1)
                continue  # every state skipped: no pass, no step
            eps, maps = denoiser(z, t, features=True)
            feature_loss = z.new_zeros(())
            for state, ref in supervised:
                current = sample_cells(maps, state.rows, state.cols, grid)
                moved = ref[:, state.source]
                feature_loss = feature_loss + FEATURE_WEIGHT * (current.float() - moved.float()).abs().mean()
            mask_loss = z.new_zeros(())
            if use_mask:
                z_prev = ddim_step(z, eps, a_t, a_prev)
                weight = config.mask_weight * (len(supervised) if config.method == "reference" else 1)
                mask_loss = weight * ((z_prev - originals[i]) * keep).abs().sum()
            step(feature_loss + mask_loss, optimizer)
            losses.append(torch.stack([feature_loss.detach(), mask_loss.detach()]))
        with torch.no_grad():
            eps, _ = denoiser(z, t)
            previews.append(ddim_step(z, eps, a_t, 1.0))  # the clean image this timestep aims at, from the same pass
            z = ddim_step(z, eps, a_t, a_prev)
    history = torch.stack(losses).cpu().tolist() if losses else []  # one copy, after the loop
    return PBSIResult(edited=z.detach(), original=originals[-1], losses=history, states=torch.cat(previews),
                      point_drag_steps=drag_steps)
