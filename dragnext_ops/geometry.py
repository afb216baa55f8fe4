"""Intermediate drag states on the feature grid: progress, translation, rotation.

Points are image pixels (x, y); the feature grid has half the image resolution, and cells
are (row, col). A state maps handle-region cells (sources) to target cells: the target
mask `rho` is the set of targets, and `Pi` pairs each target with its source.
"""
import math
from dataclasses import dataclass

import torch

PROGRESS_SCHEDULES = ("paper", "reference", "final")
METHODS = ("paper", "reference")       # the paper's text, the authors' released code
REFERENCE_RAMP_TIMESTEPS = 3      # the reference's drag_end_step
REFERENCE_ANGLE_STEP_DEG = 2.0    # the reference rounds intermediate angles to 2 degrees


def progress(schedule: str, step: int, iteration: int, timesteps: int, iterations: int) -> float:
    """eta for PBSI timestep `step` (0 = the first, T) and iteration `iteration` (1..K).

    paper: eta = (K*(T - t) + k) / (K*(T - T' + 1)), reaching 1 at the last iteration.
    reference: the same ramp over the first 3 timesteps, then 1.
    final: 1 throughout (the ablation "without intermediate states").
    """
    if schedule == "final":
        return 1.0
    if schedule == "paper":
        ramp = timesteps
    elif schedule == "reference":
        ramp = min(REFERENCE_RAMP_TIMESTEPS, timesteps)
    else:
        raise ValueError(f"progress_schedule: unknown '{schedule}', expected one of {PROGRESS_SCHEDULES}")
    return min(1.0, (iterations * step + iteration) / (iterations * ramp))


def ramping(schedule: str, step: int, timesteps: int) -> bool:
    """Whether PBSI timestep `step` is one of the schedule's ramp (where eta still grows)."""
    if schedule == "final":
        return False
    ramp = timesteps if schedule == "paper" else min(REFERENCE_RAMP_TIMESTEPS, timesteps)
    return step < ramp


def rotation_angle(handle, target, center) -> float:
    """Signed angle (radians) turning ray center->handle onto ray center->target, image coords."""
    ux, uy = handle[0] - center[0], handle[1] - center[1]
    vx, vy = target[0] - center[0], target[1] - center[1]
    return math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)


def reference_degrees(handle, target, center) -> float:
    """The reference code's angle for cells (row, col): the difference of the two rays'
    directions, counter-clockwise on screen, in degrees, wrapped to [-180, 180]. The same
    rotation as rotation_angle's, opposite in sign; kept in degrees so that its 2-degree
    rounding lands where the reference's does."""
    def direction(p):
        return math.degrees(math.atan2(-(p[0] - center[0]), p[1] - center[1]))
    d = direction(target) - direction(handle)
    return d + 360 if d < -180 else d - 360 if d > 180 else d


def to_cell(point, scale: float = 0.5):
    """Image pixel (x, y) -> feature cell (row, col), rounded as the reference does."""
    return round(point[1] * scale), round(point[0] * scale)


def grid_region(region):
    """A pixel mask (H, W) on the feature grid (half resolution): every second pixel, nearest as torch's."""
    return region[::2, ::2]


@dataclass
class CellMap:
    """Target cells and, for each, the index of its source in the handle-cell list."""
    rows: torch.Tensor
    cols: torch.Tensor
    source: torch.Tensor

    def __len__(self):
        return int(self.rows.numel())

    def to(self, device) -> "CellMap":
        return CellMap(self.rows.to(device), self.cols.to(device), self.source.to(device))


def _region_lookup(handle_rows, handle_cols, grid):
    lookup = torch.full(grid, -1, dtype=torch.long)
    lookup[handle_rows, handle_cols] = torch.arange(handle_rows.numel())
    return lookup


def translate_cells(handle_rows, handle_cols, offset, grid) -> CellMap:
    """Move every handle cell by the whole-cell offset (drow, dcol); drop cells off the grid."""
    rows = handle_rows + int(offset[0])
    cols = handle_cols + int(offset[1])
    keep = (rows >= 0) & (rows < grid[0]) & (cols >= 0) & (cols < grid[1])
    return CellMap(rows[keep], cols[keep], torch.nonzero(keep).flatten())


def rotate_cells(handle_rows, handle_cols, center, angle: float, grid) -> CellMap:
    """Rotate the handle region about `center` (row, col) by `angle` (image-coordinate sign).

    Inverse mapping: a target cell p belongs to rho when R(-angle)(p - c) + c rounds to a
    handle cell, which then is its source. This leaves no holes in rho.
    """
    if handle_rows.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return CellMap(empty, empty, empty)
    cos, sin = math.cos(angle), math.sin(angle)
    cy, cx = float(center[0]), float(center[1])
    # Bounding box of the forward-rotated region, padded by a cell, clipped to the grid.
    x, y = handle_cols.double() - cx, handle_rows.double() - cy
    fx, fy = cx + cos * x - sin * y, cy + sin * x + cos * y
    r0, r1 = max(int(math.floor(fy.min())) - 1, 0), min(int(math.ceil(fy.max())) + 1, grid[0] - 1)
    c0, c1 = max(int(math.floor(fx.min())) - 1, 0), min(int(math.ceil(fx.max())) + 1, grid[1] - 1)
    if r0 > r1 or c0 > c1:
        empty = torch.zeros(0, dtype=torch.long)
        return CellMap(empty, empty, empty)
    rows, cols = torch.meshgrid(torch.arange(r0, r1 + 1), torch.arange(c0, c1 + 1), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    x, y = cols.double() - cx, rows.double() - cy
    src_c = torch.round(cx + cos * x + sin * y).long()
    src_r = torch.round(cy - sin * x + cos * y).long()
    on_grid = (src_r >= 0) & (src_r < grid[0]) & (src_c >= 0) & (src_c < grid[1])
    lookup = _region_lookup(handle_rows, handle_cols, grid)
    source = torch.full_like(rows, -1)
    source[on_grid] = lookup[src_r[on_grid], src_c[on_grid]]
    keep = source >= 0
    return CellMap(rows[keep], cols[keep], source[keep])


@dataclass
class CellOperation:
    """One drag operation on the feature grid."""
    kind: str                 # "translate" or "rotate"
    handle_rows: torch.Tensor
    handle_cols: torch.Tensor
    handle: tuple             # (row, col)
    target: tuple
    center: tuple | None
    angle: float              # full rotation angle (radians, image-coordinate sign); 0 for translate
    reference_degrees: float | None = None   # the reference's own angle (reference_degrees())


def moves_nothing(state: CellMap, op: CellOperation) -> bool:
    """Whether the state maps every handle cell to itself."""
    return (torch.equal(state.rows, op.handle_rows[state.source])
            and torch.equal(state.cols, op.handle_cols[state.source]))


def intermediate_state(op: CellOperation, eta: float, grid, method: str, ramping: bool) -> CellMap | None:
    """The cell mapping at progress eta; None when the state is skipped (no loss, no step).

    paper: offsets round to the nearest cell and angles are exact, about the centre cell;
    a state that moves no cell is skipped.
    reference: offsets truncate to whole cells (a translation under one cell is skipped),
    angles round to 2 degrees while the progress ramps (`ramping`: the timestep is one of
    the ramp's), about the centre's pixel corner (c - 1/2, torchvision's convention);
    rotations are never skipped.
    """
    if method not in METHODS:
        raise ValueError(f"method: unknown '{method}', expected one of {METHODS}")
    reference = method == "reference"
    if op.kind == "translate":
        d = (eta * (op.target[0] - op.handle[0]), eta * (op.target[1] - op.handle[1]))
        offset = (int(d[0]), int(d[1])) if reference else (round(d[0]), round(d[1]))
        if offset == (0, 0):
            return None
        return translate_cells(op.handle_rows, op.handle_cols, offset, grid)
    if reference:
        degrees = op.reference_degrees if op.reference_degrees is not None else -math.degrees(op.angle)
        degrees = eta * degrees
        if ramping:
            degrees = round(degrees / REFERENCE_ANGLE_STEP_DEG) * REFERENCE_ANGLE_STEP_DEG
        angle = -math.radians(degrees)
        pivot = (op.center[0] - 0.5, op.center[1] - 0.5)
        return rotate_cells(op.handle_rows, op.handle_cols, pivot, angle, grid)
    state = rotate_cells(op.handle_rows, op.handle_cols, op.center, eta * op.angle, grid)
    return None if moves_nothing(state, op) else state
