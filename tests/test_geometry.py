"""Intermediate drag states: the progress schedule, translation and rotation on the
feature grid, and the reference's whole-cell truncation and 2-degree rounding."""
import math

import numpy as np
import pytest
import torch

from dragnext.dragnext_ops.geometry import (
    CellOperation, intermediate_state, progress, ramping, rotate_cells, rotation_angle, to_cell, translate_cells,
)
from dragnext.dragnext_ops.pbsi import cell_operations
from dragnext.dragnext_ops.regions import rasterise
from dragnext.dragnext_ops.spec import DragOperation, DragSpec


def cells(*pairs):
    rows = torch.tensor([p[0] for p in pairs], dtype=torch.long)
    cols = torch.tensor([p[1] for p in pairs], dtype=torch.long)
    return rows, cols


def mapping(cm, handle_rows, handle_cols) -> dict:
    """{source cell: target cell} of a CellMap."""
    return {(int(handle_rows[s]), int(handle_cols[s])): (int(r), int(c))
            for r, c, s in zip(cm.rows, cm.cols, cm.source)}


# ---------------------------------------------------------------- progress

@pytest.mark.parametrize("n,k", [(5, 10), (2, 8), (1, 1), (4, 3)])
def test_paper_progress_first_and_last(n, k):
    assert progress("paper", 0, 1, n, k) == pytest.approx(1.0 / (k * n))
    assert progress("paper", n - 1, k, n, k) == 1.0
    # strictly increasing over every (timestep, iteration), reaching 1 only at the end
    seq = [progress("paper", i, j, n, k) for i in range(n) for j in range(1, k + 1)]
    assert all(b > a for a, b in zip(seq, seq[1:]))
    # the paper's formula, eta(t, k) = (K (T - t) + k) / (K (T - T' + 1))
    for i in range(n):
        for j in range(1, k + 1):
            assert progress("paper", i, j, n, k) == pytest.approx((k * i + j) / (k * n))


def test_reference_progress_ramps_over_three_timesteps_then_holds():
    n, k = 5, 10
    assert progress("reference", 0, 1, n, k) == pytest.approx(1.0 / 30)
    assert progress("reference", 1, 5, n, k) == pytest.approx(15.0 / 30)
    assert progress("reference", 2, k - 1, n, k) < 1.0
    assert progress("reference", 2, k, n, k) == 1.0
    for i in (3, 4):
        for j in range(1, k + 1):
            assert progress("reference", i, j, n, k) == 1.0
    # fewer PBSI timesteps than the ramp: ramps over those
    assert progress("reference", 0, 1, 2, 4) == pytest.approx(1.0 / 8)
    assert progress("reference", 1, 4, 2, 4) == 1.0


def test_final_progress_is_one_throughout():
    assert progress("final", 0, 1, 5, 10) == 1.0
    assert progress("final", 4, 10, 5, 10) == 1.0


def test_unknown_progress_schedule_is_named():
    with pytest.raises(ValueError, match="progress_schedule"):
        progress("linear", 0, 1, 5, 10)


# ---------------------------------------------------------------- translation

def test_translation_maps_indices_exactly_and_drops_off_grid_cells():
    grid = (6, 7)
    rows, cols = cells((0, 0), (2, 3), (5, 6), (4, 1), (1, 5))
    cm = translate_cells(rows, cols, (1, 2), grid)
    # (5, 6) -> (6, 8) and (1, 5) -> (2, 7) leave the 6x7 grid
    assert mapping(cm, rows, cols) == {(0, 0): (1, 2), (2, 3): (3, 5), (4, 1): (5, 3)}
    assert cm.source.tolist() == [0, 1, 3]
    cm = translate_cells(rows, cols, (-2, -1), grid)
    assert mapping(cm, rows, cols) == {(2, 3): (0, 2), (5, 6): (3, 5), (4, 1): (2, 0)}
    assert len(translate_cells(rows, cols, (0, 0), grid)) == 5
    assert len(translate_cells(rows, cols, (6, 0), grid)) == 0


# ---------------------------------------------------------------- rotation

def test_rotation_angle_sign_in_image_coordinates():
    c = (40.0, 30.0)
    d = 7.0
    # handle to the right of the centre, target below it (y down): +90 degrees
    assert rotation_angle((c[0] + d, c[1]), (c[0], c[1] + d), c) == pytest.approx(math.pi / 2)
    assert rotation_angle((c[0], c[1] + d), (c[0] + d, c[1]), c) == pytest.approx(-math.pi / 2)
    assert rotation_angle((c[0] + d, c[1]), (c[0] - 2 * d, c[1] + 1e-12), c) == pytest.approx(math.pi)
    # the angle ignores the radius of the target
    assert rotation_angle((c[0] + 3, c[1]), (c[0] + 10, c[1] + 10), c) == pytest.approx(math.pi / 4)


def test_rotation_by_zero_is_identity():
    grid = (16, 16)
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(grid, generator=g) < 0.3
    rows, cols = torch.nonzero(mask, as_tuple=True)
    cm = rotate_cells(rows, cols, (7.0, 9.0), 0.0, grid)
    m = mapping(cm, rows, cols)
    assert len(cm) == rows.numel()
    assert m == {(int(r), int(c)): (int(r), int(c)) for r, c in zip(rows, cols)}


def test_rotation_by_90_degrees_maps_a_known_shape_exactly():
    # an L-shaped (asymmetric) region, so a wrong sign or a transpose shows
    grid = (20, 20)
    cy, cx = 10, 10
    shape = [(5, 12), (5, 13), (5, 14), (6, 12), (7, 12)]
    rows, cols = cells(*shape)
    cm = rotate_cells(rows, cols, (cy, cx), math.pi / 2, grid)
    # image coordinates, +90 degrees: (x, y) -> (-y, x) about the centre, i.e.
    # (row, col) -> (cy + (col - cx), cx - (row - cy))
    expected = {(r, c): (cy + (c - cx), cx - (r - cy)) for r, c in shape}
    assert mapping(cm, rows, cols) == expected
    assert len(cm) == len(shape)


def test_rotation_by_90_moves_a_cell_right_of_the_centre_below_it():
    grid = (12, 12)
    c = (6, 6)                              # (row, col)
    rows, cols = cells((6, 9))              # three cells to the right of the centre
    # the angle from handle c+(d,0) to target c+(0,d) (image x, y) is +90 degrees
    angle = rotation_angle((6 + 3, 6), (6, 6 + 3), (6, 6))
    cm = rotate_cells(rows, cols, c, angle, grid)
    assert mapping(cm, rows, cols) == {(6, 9): (9, 6)}  # three cells below it


def test_rotation_fills_its_target_without_holes():
    grid = (40, 40)
    rows, cols = torch.meshgrid(torch.arange(10, 20), torch.arange(22, 34), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    cm = rotate_cells(rows, cols, (20.0, 20.0), math.radians(30), grid)
    # area roughly preserved and every target cell is distinct
    assert abs(len(cm) - rows.numel()) <= 0.1 * rows.numel()
    assert len({(int(r), int(c)) for r, c in zip(cm.rows, cm.cols)}) == len(cm)
    # each target is the source rotated, to within a cell
    a = math.radians(30)
    for r, c, s in zip(cm.rows.tolist(), cm.cols.tolist(), cm.source.tolist()):
        x, y = cols[s].item() - 20.0, rows[s].item() - 20.0
        fx, fy = 20.0 + math.cos(a) * x - math.sin(a) * y, 20.0 + math.sin(a) * x + math.cos(a) * y
        assert abs(fx - c) <= 1.0 and abs(fy - r) <= 1.0


# ---------------------------------------------------------------- a blob lands at the target

def _spec(kind, handle, target, center=None, size=128, radius=9):
    region = rasterise([{"tool": "brush", "mode": "add", "radius": radius, "points": [list(handle)]}], size, size)
    return DragSpec(size, size, [DragOperation(kind, handle, target, center, region)], None)


def _centroid(cm):
    return cm.rows.double().mean().item(), cm.cols.double().mean().item()


@pytest.mark.parametrize("kind,handle,target,center", [
    ("translate", (40.0, 50.0), (86.0, 30.0), None),
    ("translate", (90.0, 90.0), (30.0, 100.0), None),
    ("rotate", (84.0, 64.0), (64.0, 84.0), (64.0, 64.0)),     # +90: right of centre -> below
    ("rotate", (84.0, 64.0), (64.0, 44.0), (64.0, 64.0)),     # -90: right of centre -> above
    ("rotate", (94.0, 64.0), (82.0, 88.0), (64.0, 64.0)),     # 3-4-5: about +53 degrees
])
@pytest.mark.parametrize("method", ["paper", "reference"])
def test_blob_at_handle_lands_at_target(kind, handle, target, center, method):
    spec = _spec(kind, handle, target, center)
    grid = (spec.height // 2, spec.width // 2)
    (op,) = cell_operations(spec, grid)
    assert op.handle == to_cell(handle) and op.target == to_cell(target)
    state = intermediate_state(op, 1.0, grid, method, True)
    assert state is not None and len(state) > 0.8 * op.handle_rows.numel()
    r, c = _centroid(state)
    assert abs(r - op.target[0]) <= 1.0 and abs(c - op.target[1]) <= 1.0
    # the handle cell itself maps onto the target cell (to within a cell for a rotation)
    m = mapping(state, op.handle_rows, op.handle_cols)
    tr, tc = m[op.handle]
    tol = 0 if kind == "translate" else 1
    assert abs(tr - op.target[0]) <= tol and abs(tc - op.target[1]) <= tol
    # half way, it is half way
    mid = intermediate_state(op, 0.5, grid, method, True)
    r, c = _centroid(mid)
    if kind == "translate":
        assert abs(r - (op.handle[0] + op.target[0]) / 2) <= 1.0
        assert abs(c - (op.handle[1] + op.target[1]) / 2) <= 1.0
    else:
        half = rotation_angle(handle, target, center) / 2
        cy, cx = op.center
        hr, hc = op.handle[0] - cy, op.handle[1] - cx
        er = cy + math.sin(half) * hc + math.cos(half) * hr
        ec = cx + math.cos(half) * hc - math.sin(half) * hr
        assert abs(r - er) <= 1.0 and abs(c - ec) <= 1.0


# ---------------------------------------------------------------- reference vs paper rounding

def _translate_op(offset, grid=(32, 32)):
    rows, cols = torch.meshgrid(torch.arange(12, 16), torch.arange(12, 16), indexing="ij")
    return CellOperation("translate", rows.flatten(), cols.flatten(), (14, 14),
                         (14 + offset[0], 14 + offset[1]), None, 0.0)


def _offset(state, op):
    m = mapping(state, op.handle_rows, op.handle_cols)
    offsets = {(t[0] - s[0], t[1] - s[1]) for s, t in m.items()}
    assert len(offsets) == 1
    return offsets.pop()


def test_reference_truncates_offsets_to_whole_cells():
    grid = (32, 32)
    op = _translate_op((8, -5))
    # eta 0.35: (2.8, -1.75) -> reference truncates toward zero, paper rounds
    assert _offset(intermediate_state(op, 0.35, grid, "reference", True), op) == (2, -1)
    assert _offset(intermediate_state(op, 0.35, grid, "paper", True), op) == (3, -2)
    # eta 1: the full offset either way
    assert _offset(intermediate_state(op, 1.0, grid, "reference", True), op) == (8, -5)
    assert _offset(intermediate_state(op, 1.0, grid, "paper", True), op) == (8, -5)


def test_reference_skips_states_under_one_cell():
    grid = (32, 32)
    op = _translate_op((0, 5))
    # eta 0.1: offset (0, 0.5); the reference truncates, the paper rounds (half to even): zero
    # cells either way, a state that moves nothing, skipped by both
    assert intermediate_state(op, 0.1, grid, "reference", True) is None
    assert intermediate_state(op, 0.1, grid, "paper", True) is None
    # eta 0.19: (0, 0.95): still skipped by the reference, one cell for the paper
    assert intermediate_state(op, 0.19, grid, "reference", True) is None
    assert _offset(intermediate_state(op, 0.19, grid, "paper", True), op) == (0, 1)
    assert _offset(intermediate_state(op, 0.2, grid, "reference", True), op) == (0, 1)
    # one whole cell in either axis is not skipped
    op = _translate_op((-3, 1))
    assert _offset(intermediate_state(op, 0.5, grid, "reference", True), op) == (-1, 0)


def test_reference_rounds_angles_to_two_degrees():
    grid = (96, 96)
    rows, cols = torch.meshgrid(torch.arange(10, 30), torch.arange(60, 90), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    centre = (48.0, 48.0)
    op = CellOperation("rotate", rows, cols, (20, 75), (75, 20), centre, math.radians(93.4))
    eta = 0.1                                # 9.34 degrees: rounds to 10 (not 8, not 9.34)
    ref = intermediate_state(op, eta, grid, "reference", True)
    paper = intermediate_state(op, eta, grid, "paper", True)
    at = lambda deg: rotate_cells(rows, cols, centre, math.radians(deg), grid)  # noqa: E731
    corner = (centre[0] - 0.5, centre[1] - 0.5)       # the reference's pivot: torchvision's pixel corner
    at_ref = lambda deg: rotate_cells(rows, cols, corner, math.radians(deg), grid)  # noqa: E731
    assert mapping(ref, rows, cols) == mapping(at_ref(10.0), rows, cols)
    assert mapping(paper, rows, cols) == mapping(at(9.34), rows, cols)
    assert mapping(ref, rows, cols) != mapping(paper, rows, cols)   # the region is large enough to tell
    # 8.9 degrees rounds down to 8
    ref = intermediate_state(op, 8.9 / 93.4, grid, "reference", True)
    assert mapping(ref, rows, cols) == mapping(at_ref(8.0), rows, cols)
    # the full angle rounds too while the progress ramps, and is exact once it has (the reference)
    assert mapping(intermediate_state(op, 1.0, grid, "reference", True), rows, cols) == mapping(at_ref(94.0), rows, cols)
    assert (mapping(intermediate_state(op, 1.0, grid, "reference", False), rows, cols)
            == mapping(at_ref(93.4), rows, cols) != mapping(at_ref(94.0), rows, cols))
    assert mapping(at_ref(93.4), rows, cols) != mapping(at(93.4), rows, cols)   # the pivots differ
    assert mapping(intermediate_state(op, 1.0, grid, "paper", True), rows, cols) == mapping(at(93.4), rows, cols)


# ---------------------------------------------------------------- skipping, ramping, methods

def test_ramping_covers_the_schedules_ramp_timesteps():
    assert [ramping("paper", i, 5) for i in range(5)] == [True] * 5
    assert [ramping("reference", i, 5) for i in range(5)] == [True, True, True, False, False]
    assert [ramping("reference", i, 2) for i in range(2)] == [True, True]
    assert not ramping("final", 0, 5)


def test_paper_skips_a_rotation_that_moves_no_cell_and_the_reference_does_not():
    rows, cols = torch.meshgrid(torch.arange(10, 14), torch.arange(20, 24), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    op = CellOperation("rotate", rows, cols, (12, 23), (23, 12), (12.0, 12.0), math.radians(90))
    grid = (40, 40)
    # 0.5 degrees moves no cell of a region 8-12 cells from the centre
    assert intermediate_state(op, 0.5 / 90, grid, "paper", True) is None
    held = intermediate_state(op, 0.5 / 90, grid, "reference", True)   # rounds to 0 degrees: held in place
    assert held is not None and mapping(held, rows, cols) == {(int(r), int(c)): (int(r), int(c))
                                                               for r, c in zip(rows, cols)}
    assert intermediate_state(op, 0.5, grid, "paper", True) is not None


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="^method"):
        intermediate_state(_translate_op((3, 3)), 1.0, (32, 32), "diffusers", True)


def _ring_spec(handle):
    """A ring of pixels (with a hole) on a 64-px image, as a translate operation."""
    yy, xx = np.mgrid[0:64, 0:64]
    d = np.hypot(yy - 32, xx - 32)
    region = (d >= 8) & (d <= 20)
    return DragSpec(64, 64, [DragOperation("translate", handle, (50.0, 32.0), None, region)], None)


def test_reference_region_is_the_filled_contour_holding_the_handle():
    spec = _ring_spec((32.0, 18.0))                  # on the ring
    grid = (32, 32)
    (paper,) = cell_operations(spec, grid, "paper")
    (ref,) = cell_operations(spec, grid, "reference")
    assert (16, 16) not in set(zip(paper.handle_rows.tolist(), paper.handle_cols.tolist()))  # the hole
    ref_cells = set(zip(ref.handle_rows.tolist(), ref.handle_cols.tolist()))
    assert (16, 16) in ref_cells and ref_cells > set(zip(paper.handle_rows.tolist(), paper.handle_cols.tolist()))
    # a handle in the hole still finds the ring's filled contour
    (inside,) = cell_operations(_ring_spec((32.0, 32.0)), grid, "reference")
    assert torch.equal(inside.handle_rows, ref.handle_rows) and torch.equal(inside.handle_cols, ref.handle_cols)


def test_reference_region_falls_back_to_the_drawn_one_and_says_so(caplog):
    spec = _ring_spec((4.0, 4.0))                    # far outside the ring
    (paper,) = cell_operations(spec, (32, 32), "paper")
    with caplog.at_level("WARNING"):
        (ref,) = cell_operations(spec, (32, 32), "reference")
    assert torch.equal(ref.handle_rows, paper.handle_rows) and torch.equal(ref.handle_cols, paper.handle_cols)
    assert "outside its region" in caplog.text and "operation 1" in caplog.text


def test_reference_angle_comes_from_the_rounded_cells():
    region = np.zeros((64, 64), dtype=bool)
    region[28:36, 40:56] = True
    op = DragOperation("rotate", (47.0, 31.0), (33.0, 45.0), (31.0, 33.0), region)
    spec = DragSpec(64, 64, [op], None)
    (paper,) = cell_operations(spec, (32, 32), "paper")
    (ref,) = cell_operations(spec, (32, 32), "reference")
    assert paper.angle == pytest.approx(rotation_angle(op.handle, op.target, op.center))
    h, g, c = to_cell(op.handle), to_cell(op.target), to_cell(op.center)   # (row, col)
    assert ref.angle == pytest.approx(rotation_angle((h[1], h[0]), (g[1], g[0]), (c[1], c[0])))
    assert ref.reference_degrees == pytest.approx(-math.degrees(ref.angle))
    assert abs(ref.angle - paper.angle) > 1e-3
