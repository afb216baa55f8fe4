"""The reference's point-drag stage (dragnext_ops/point_drag.py): bilinear patches, point
tracking, motion supervision and the stopping rules, on pure-torch denoisers."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dragnext.dragnext_ops.ddim import Schedule, sd15_alphas_cumprod
from dragnext.dragnext_ops.pbsi import PBSIConfig, run_pbsi
from dragnext.dragnext_ops.point_drag import (
    PointDragConfig, PointDragState, bilinear_patch, integer_patch, motion_loss, run_point_drag, track_point,
)
from dragnext.dragnext_ops.spec import DragOperation, DragSpec

GRID = (32, 32)           # the feature grid of a 64-px image
SIZE = 64


def random_map(seed, channels=6, grid=GRID):
    return [torch.randn(1, channels, *grid, generator=torch.Generator().manual_seed(seed))]


def test_bilinear_patch_equals_grid_sample():
    maps = random_map(0)
    fmap = maps[0]
    for y, x, r in [(10.3, 17.8, 2), (15.0, 15.0, 3), (8.75, 20.5, 1), (12.0, 9.4, 0)]:
        patch = bilinear_patch(maps, GRID, y, x, r)
        d = torch.arange(-r, r + 1, dtype=torch.float64)
        dy, dx = torch.meshgrid(d, d, indexing="ij")
        gx = 2 * (x + dx) / (GRID[1] - 1) - 1
        gy = 2 * (y + dy) / (GRID[0] - 1) - 1
        grid = torch.stack([gx, gy], dim=-1)[None].to(fmap.dtype)
        expected = F.grid_sample(fmap, grid, mode="bilinear", align_corners=True)[0].flatten(1)
        torch.testing.assert_close(patch, expected, rtol=1e-5, atol=1e-5)
    # at a whole cell it is the integer patch
    torch.testing.assert_close(bilinear_patch(maps, GRID, 11.0, 13.0, 2), integer_patch(maps, GRID, (11, 13), 2))


def test_patches_read_the_resized_maps():
    # maps at a coarser resolution are read as F.interpolate(bilinear) to the grid would give them
    coarse = random_map(1, grid=(8, 8))
    resized = [F.interpolate(coarse[0], GRID, mode="bilinear", align_corners=False)]
    torch.testing.assert_close(integer_patch(coarse, GRID, (14, 9), 3), integer_patch(resized, GRID, (14, 9), 3))
    torch.testing.assert_close(bilinear_patch(coarse, GRID, 14.4, 9.7, 2), bilinear_patch(resized, GRID, 14.4, 9.7, 2))


@pytest.mark.parametrize("offset", [(3, -5), (0, 7), (-12, 12), (1, 0)])
def test_tracking_finds_a_feature_moved_by_a_known_offset(offset):
    f_orig = random_map(2)[0]
    moved = torch.roll(f_orig, shifts=offset, dims=(2, 3))
    start = (16, 15)
    f0 = f_orig[0, :, start[0], start[1]]
    assert track_point(f0, [moved], GRID, start, 12) == (start[0] + offset[0], start[1] + offset[1])
    # from a point already moved part of the way, it still finds it
    part = (start[0] + offset[0] // 2, start[1] + offset[1] // 2)
    assert track_point(f0, [moved], GRID, part, 12) == (start[0] + offset[0], start[1] + offset[1])


def test_tracking_stays_put_when_nothing_matches_better():
    f_orig = random_map(3)[0]
    noisy = f_orig + 0.05 * torch.randn(f_orig.shape, generator=torch.Generator().manual_seed(4))
    f0 = f_orig[0, :, 16, 15]
    assert track_point(f0, [noisy], GRID, (16, 15), 12) == (16, 15)
    # beyond the radius the moved feature is not seen: the nearest within it wins instead
    moved = torch.roll(f_orig, shifts=(0, 9), dims=(2, 3))
    assert track_point(f0, [moved], GRID, (16, 15), 4) != (16, 24)


def test_tracking_window_is_clipped_to_the_grid():
    f_orig = random_map(5)[0]
    f0 = f_orig[0, :, 0, 31]
    assert track_point(f0, [f_orig], GRID, (2, 29), 12) == (0, 31)


class ConvDenoiser(torch.nn.Module):
    """A small differentiable stand-in for a UNet: eps and one feature map from z."""

    def __init__(self, seed=0, channels=8):
        super().__init__()
        torch.manual_seed(seed)
        self.a = torch.nn.Conv2d(4, channels, 3, padding=1)
        self.b = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.requires_grad_(False)
        self.passes = 0

    def forward(self, z, t, features=False):
        self.passes += 1
        h = torch.tanh(self.a(z))
        return self.b(h), [h]


def test_motion_supervision_lowers_its_loss():
    torch.manual_seed(0)
    net = ConvDenoiser()
    z0 = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        _, maps0 = net(z0, 0)
    cfg = PointDragConfig(timesteps=1, tracks=1, steps_per_track=15, motion_radius=2, track_radius=3,
                          patience=100)
    handle, target = (12, 10), (12, 22)
    originals = [integer_patch(maps0, GRID, handle, cfg.motion_radius)]
    state = PointDragState([handle], [target])

    def step(loss, optimizer):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    z, losses, passes = run_point_drag(net, z0, 0, 0.5, 0.6, originals, None, None, 0.0, 0.05, cfg, state, step,
                                       GRID)
    assert passes == 15 and len(losses) == 15
    assert losses[-1] < 0.7 * losses[0], [float(x) for x in losses]
    assert (z - z0).abs().max() > 0
    # the loss is (2 r1)^2 times the mean L1 to the patch pulled beta cells towards the target
    with torch.no_grad():
        _, maps = net(z0, 0)
        expected = 16 * (bilinear_patch(maps, GRID, 12.0, 14.0, 2) - originals[0]).abs().mean()
        torch.testing.assert_close(motion_loss(maps, GRID, [handle], [target], originals, cfg), expected)
        # an arrived handle adds nothing
        assert motion_loss(maps, GRID, [(12, 21)], [target], originals, cfg) is None


class Beacon:
    """A denoiser whose features hold one distinctive vector (the handle's, in the original
    features) at a cell it chooses per pass, so a test decides where tracking lands."""

    def __init__(self, where):
        self.where = where            # pass number within the stage -> cell
        self.stage_passes = 0
        self.passes = {"forward": 0, "forward_backward": 0}

    def __call__(self, z, t, features=False):
        grad = torch.is_grad_enabled() and z.requires_grad
        self.passes["forward_backward" if grad else "forward"] += 1
        cell = self.where(self.stage_passes + 1) if grad else self.where(0)
        if grad:
            self.stage_passes += 1
        fmap = torch.zeros(1, 3, *GRID)
        fmap[0, :, cell[0], cell[1]] = torch.tensor([5.0, -3.0, 2.0])
        fmap = fmap + 0.0 * z.sum()      # in the graph, with no pull of its own
        return 0.0 * z, [fmap]


HANDLE, TARGET = (10, 8), (10, 20)


def stage(where, cfg, timesteps=2):
    """Runs the stage over `timesteps` with a Beacon; returns (steps per timestep, passes)."""
    beacon = Beacon(where)
    originals = [integer_patch(beacon(torch.zeros(1, 4, 8, 8), 0)[1], GRID, HANDLE, cfg.motion_radius)]
    state = PointDragState([HANDLE], [TARGET])
    steps, passes = [], []
    for _ in range(timesteps):
        beacon.stage_passes = 0
        _, losses, n = run_point_drag(beacon, torch.zeros(1, 4, 8, 8), 0, 0.5, 0.6, originals, None, None, 0.0,
                                      0.02, cfg, state, lambda loss, opt: loss.backward(), GRID)
        steps.append(len(losses))
        passes.append(n)
    return steps, passes, state


@pytest.mark.parametrize("arrives_at,expected_steps", [(1, 0), (2, 3), (3, 3), (4, 6), (7, 9), (9, 9)])
def test_stage_stops_when_the_handles_reach_their_targets(arrives_at, expected_steps):
    cfg = PointDragConfig(timesteps=2, tracks=10, steps_per_track=3, patience=10)
    where = lambda n: TARGET if n >= arrives_at else HANDLE  # noqa: E731
    steps, passes, state = stage(where, cfg)
    # a track reads the pass of the track's last step; the first pass's own track counts too
    assert steps == [expected_steps, 0]
    assert passes == [max(expected_steps, 1), 0]      # stopped: off for the next timestep
    assert not state.active


def test_stage_stops_after_the_no_change_patience_and_stays_off():
    cfg = PointDragConfig(timesteps=2, tracks=10, steps_per_track=3, patience=2)
    steps, passes, state = stage(lambda n: HANDLE, cfg)
    assert steps == [6, 0] and passes == [6, 0] and state.no_change == 2 and not state.active


def test_stage_takes_every_track_when_nothing_stops_it_and_resets_the_handles():
    cfg = PointDragConfig(timesteps=2, tracks=2, steps_per_track=3, patience=100)
    # the beacon walks one cell per pass towards the target, never reaching it in 6 passes
    where = lambda n: (HANDLE[0], HANDLE[1] + min(n, 6))  # noqa: E731
    steps, passes, state = stage(where, cfg)
    assert steps == [6, 6] and passes == [6, 6] and state.active and state.no_change == 0
    assert state.handles == [HANDLE]                 # each timestep starts from the initial handles


def test_reference_pass_counts_at_the_defaults_follow_the_stopping_rules():
    # the node's defaults: 5 PBSI timesteps of 10 iterations, the point-drag stage in the first
    # 3 (10 tracks of 3 steps); tracking reaches the target at the stage's 8th pass
    spec = DragSpec(SIZE, SIZE, [DragOperation("translate", (16.0, 20.0), (40.0, 20.0), None,
                                               _box(12, 28, 8, 24))], None)
    alphas = tuple(sd15_alphas_cumprod().tolist())
    schedule = Schedule(alphas, (741, 721, 701, 681, 661), 20)
    config = PBSIConfig(method="reference", schedule="reference", point_drag=PointDragConfig())
    config.validate(5)
    beacon = Beacon(lambda n: (10, 20) if n >= 8 else (10, 8))   # (row, col) cells of target and handle
    skipped = []
    result = run_pbsi(beacon, torch.zeros(1, 4, 8, 8), schedule, spec, config, skip_passes=skipped.append)
    # the stage: 9 steps (tracks after passes 3, 6, 9; the third sees the target), then off
    assert result.point_drag_steps == [9, 0, 0]
    # PBSI: a 12-cell drag ramped over 3 timesteps of 10 iterations, truncated: eta = j/30 for
    # the j-th iteration, under one cell for j = 1, 2 (12 * 2/30 = 0.8): those are skipped
    pbsi_steps = 50 - 2
    assert len(result.losses) == pbsi_steps
    assert beacon.passes == {"forward": 5 + 5, "forward_backward": 9 + pbsi_steps}
    # the bar's bound: every skipped pass is reported, so the bar ends full
    assert sum(skipped) == (90 - 9) + 2


def _box(r0, r1, c0, c1):
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="^point_drag_timesteps"):
        PointDragConfig(timesteps=6).validate(5)
    with pytest.raises(ValueError, match="^steps_per_track"):
        PointDragConfig(steps_per_track=0).validate(5)
    with pytest.raises(ValueError, match="^motion_radius: must be at least 1, got 0 .*moves nothing"):
        PointDragConfig(motion_radius=0).validate(5)
    with pytest.raises(ValueError, match="^motion_step"):
        PointDragConfig(max_step=0.0).validate(5)
    with pytest.raises(ValueError, match="^reach_distance"):
        PointDragConfig(reach=-1.0).validate(5)
    assert math.isclose(PointDragConfig().passes_per_timestep, 30)
