"""The reference code's point-drag stage, which the paper's text does not describe.

Before PBSI in each of the first timesteps (`dragnext_step` of the authors' pipeline):
DragDiffusion-style motion supervision with point tracking, on the same features as PBSI.
Per timestep, from the initial handles (the reference resets them every timestep):

- track every handle once on the current features;
- then, while fewer than `tracks` tracks were made: stop the stage (for this and every later
  timestep) when every handle is within `reach` cells of its target, or when `patience`
  tracks in a row changed no handle; else one Adam step on
      (2 r1)^2 * sum_h mean|F0 patch at the initial handle - F patch at p + d|  + lambda term,
  d = (g - p) / |g - p| * min(beta, |g - p|), the current patch bilinear at a fractional
  cell, and after every `steps_per_track` steps a track: each handle moves to the cell
  within +-r2 of it whose feature is nearest (L1) to F0 at the initial handle. As in the
  reference, a track reads the features of the step's pass, i.e. before that Adam step.

Where the reference slices past the grid's edge (a wrapped or truncated patch), this module
reads the nearest edge cell; a tracking window is clipped to the grid.
"""
import math
from dataclasses import dataclass

import torch

from .ddim import ddim_step
from .features import sample_cells


@dataclass
class PointDragConfig:
    timesteps: int = 3          # the reference's drag_end_step
    tracks: int = 10            # tracks per timestep (the reference's track_per_denoise)
    steps_per_track: int = 3    # Adam steps between tracks (max_drag_per_track)
    motion_radius: int = 4      # r1: the supervised patch is (2 r1 + 1)^2 cells
    track_radius: int = 12      # r2: tracking searches +-r2 cells
    max_step: float = 4.0       # beta: how far ahead of the handle the patch is pulled, in cells
    reach: float = 2.0          # a handle this close to its target (cells) has arrived
    patience: int = 10          # tracks in a row without a change before the stage stops

    def validate(self, pbsi_timesteps: int):
        ints = {"point_drag_timesteps": (self.timesteps, 0), "tracks_per_timestep": (self.tracks, 1),
                "steps_per_track": (self.steps_per_track, 1), "motion_radius": (self.motion_radius, 1),
                "track_radius": (self.track_radius, 0), "no_change_patience": (self.patience, 1)}
        for name, (value, least) in ints.items():
            if value < least:
                why = (" (the motion loss is weighted by (2 r1)^2, so r1 0 moves nothing; set point_drag_timesteps "
                       "to 0 for no point-drag stage)" if name == "motion_radius" else "")
                raise ValueError(f"{name}: must be at least {least}, got {value}{why}")
        if self.timesteps > pbsi_timesteps:
            raise ValueError(f"point_drag_timesteps: the point-drag stage runs before PBSI in its timesteps, so it "
                             f"must be at most pbsi_timesteps ({pbsi_timesteps}), got {self.timesteps}; lower it, "
                             f"or set it to 0 for no point-drag stage")
        if not self.max_step > 0:
            raise ValueError(f"motion_step: must be positive, got {self.max_step}")
        if not self.reach > 0:
            raise ValueError(f"reach_distance: must be positive, got {self.reach}")

    @property
    def passes_per_timestep(self) -> int:
        """The most UNet passes one timestep can take (each a forward+backward pass)."""
        return self.tracks * self.steps_per_track


@dataclass
class PointDragState:
    """What the stage carries across timesteps."""
    handles: list               # initial handle cells (row, col)
    targets: list
    no_change: int = 0          # tracks in a row that changed no handle (never reset, as the reference)
    active: bool = True


def _offsets(radius: int, device):
    # built on the maps' device: a host-to-device copy of indices would sync each pass
    d = torch.arange(-radius, radius + 1, device=device)
    dy, dx = torch.meshgrid(d, d, indexing="ij")
    return dy.flatten(), dx.flatten()


def _clamped(maps, rows, cols, grid):
    return sample_cells(maps, rows.clamp(0, grid[0] - 1), cols.clamp(0, grid[1] - 1), grid)


def integer_patch(maps, grid, cell, radius: int) -> torch.Tensor:
    """(C, (2r+1)^2) features of the resized maps around a whole cell (edge cells repeat)."""
    dy, dx = _offsets(radius, maps[0].device)
    return _clamped(maps, dy + int(cell[0]), dx + int(cell[1]), grid)


def bilinear_patch(maps, grid, y: float, x: float, radius: int) -> torch.Tensor:
    """(C, (2r+1)^2) features around the fractional cell (y, x), bilinear between cells
    (F.grid_sample with align_corners=True on the resized maps, away from the edges)."""
    y0, x0 = math.floor(y), math.floor(x)
    wy, wx = y - y0, x - x0
    dy, dx = _offsets(radius, maps[0].device)
    rows = torch.cat([dy + y0, dy + y0 + 1, dy + y0, dy + y0 + 1])
    cols = torch.cat([dx + x0, dx + x0, dx + x0 + 1, dx + x0 + 1])
    f00, f10, f01, f11 = _clamped(maps, rows, cols, grid).chunk(4, dim=1)
    return (f00 * ((1 - wy) * (1 - wx)) + f10 * (wy * (1 - wx))
            + f01 * ((1 - wy) * wx) + f11 * (wy * wx))


def track_point(f0: torch.Tensor, maps, grid, point, radius: int) -> tuple:
    """The cell within +-radius of `point` (clipped to the grid) whose feature is nearest
    to f0 (C,) in L1; the first in row-major order on ties, as torch's argmin."""
    r, c = int(point[0]), int(point[1])
    r0, r1 = max(r - radius, 0), min(r + radius, grid[0] - 1)
    c0, c1 = max(c - radius, 0), min(c + radius, grid[1] - 1)
    device = maps[0].device
    rows, cols = torch.meshgrid(torch.arange(r0, r1 + 1, device=device), torch.arange(c0, c1 + 1, device=device),
                                indexing="ij")
    with torch.no_grad():
        window = sample_cells(maps, rows.flatten(), cols.flatten(), grid)
        best = int((window.float() - f0.float()[:, None]).abs().sum(0).argmin())
    return (r0 + best // (c1 - c0 + 1), c0 + best % (c1 - c0 + 1))


def _distance(p, q) -> float:
    return math.hypot(q[0] - p[0], q[1] - p[1])


def motion_loss(maps, grid, handles, targets, originals, cfg: PointDragConfig) -> torch.Tensor:
    """(2 r1)^2 * sum of mean L1 between each original patch and the current features one
    step of at most beta cells from the handle towards its target; arrived handles add nothing."""
    loss = None
    for p, g, f0 in zip(handles, targets, originals):
        dist = _distance(p, g)
        if dist < cfg.reach:
            continue
        step = min(cfg.max_step, dist) / dist
        f1 = bilinear_patch(maps, grid, p[0] + (g[0] - p[0]) * step, p[1] + (g[1] - p[1]) * step,
                            cfg.motion_radius)
        term = (2 * cfg.motion_radius) ** 2 * (f1.float() - f0.float()).abs().mean()
        loss = term if loss is None else loss + term
    return loss


def _track_all(centres, maps, grid, handles, cfg):
    return [track_point(f0, maps, grid, p, cfg.track_radius) for f0, p in zip(centres, handles)]


def run_point_drag(denoiser, z, t, a_t: float, a_prev: float, originals, original_next, keep,
                   mask_weight: float, lr: float, cfg: PointDragConfig, state: PointDragState,
                   backward_step, grid):
    """One timestep of the stage; returns the latent, its losses (one per Adam step) and
    the number of UNet passes it took.

    `originals`: per handle, the original features' (C, (2 r1 + 1)^2) patch at its initial
    cell (its centre is the tracked feature); `backward_step(loss, optimizer)` takes the step
    (with loss scaling when the UNet computes in half precision).
    """
    if state.no_change >= cfg.patience:
        state.active = False  # the reference checks this before each timestep's stage
    if not state.active:
        return z, [], 0
    centre = (2 * cfg.motion_radius + 1) ** 2 // 2
    centres = [f0[:, centre] for f0 in originals]
    z = z.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    handles = list(state.handles)
    losses = []
    tracks = steps = passes = 0
    first = True
    while tracks < cfg.tracks:
        if not first and not _keep_going(state, handles, cfg):
            break  # decided on the last track's points: no pass needed
        eps, maps = denoiser(z, t, features=True)
        passes += 1
        if first:
            first = False
            handles = _track_all(centres, maps, grid, handles, cfg)
            if not _keep_going(state, handles, cfg):
                break
        loss = motion_loss(maps, grid, handles, state.targets, originals, cfg)
        if keep is not None and mask_weight > 0:
            mask_term = mask_weight * ((ddim_step(z, eps, a_t, a_prev) - original_next) * keep).abs().sum()
            loss = mask_term if loss is None else loss + mask_term
        backward_step(loss, optimizer)
        losses.append(loss.detach())
        steps += 1
        if steps == cfg.steps_per_track:
            tracks, steps = tracks + 1, 0
            moved = _track_all(centres, maps, grid, handles, cfg)
            state.no_change = state.no_change + 1 if moved == handles else 0
            handles = moved
    return z.detach(), losses, passes


def _keep_going(state: PointDragState, handles, cfg: PointDragConfig) -> bool:
    """The stopping rules; a stop turns the stage off for the later timesteps too."""
    if all(_distance(p, g) < cfg.reach for p, g in zip(handles, state.targets)):
        state.active = False
    elif state.no_change >= cfg.patience:
        state.active = False
    return state.active
