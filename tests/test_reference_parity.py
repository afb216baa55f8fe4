"""The `reference` method against an independent re-implementation of the authors' released
loops (written here from their published algorithm, dense feature maps, torchvision's rotate),
on one small pure-torch denoiser: the same latents to float precision.

The oracle works as the authors' code does: whole feature maps resized to the feature grid
with F.interpolate, masks moved by `.long()` offsets or rotated with
torchvision.transforms.functional.rotate (nearest, about the centre cell as (x, y)), angles in
degrees from the rounded cells, losses summed per operation with the lambda term each time,
Adam stepped only when some operation was supervised.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from dragnext.dragnext_ops.ddim import Schedule, ddim_step, sd15_alphas_cumprod
from dragnext.dragnext_ops.pbsi import PBSIConfig, cell_operations, run_pbsi
from dragnext.dragnext_ops.point_drag import PointDragConfig, PointDragState, run_point_drag
from dragnext.dragnext_ops.spec import DragOperation, DragSpec

SIZE = 64
GRID = (32, 32)
K = 4                    # iterations per timestep
RAMP = 3                 # the reference's drag_end_step


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Conv2d(4, 12, 3, padding=1)
        self.b = torch.nn.Conv2d(12, 4, 3, padding=1)
        self.requires_grad_(False)

    def forward(self, z, t, features=False):
        h = torch.tanh(self.a(z))
        return self.b(h) * 0.5, [h]


def dense(net, z):
    eps, (h,) = net(z, 0)
    return eps, F.interpolate(h, GRID, mode="bilinear", align_corners=False)


def box(r0, r1, c0, c1):
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def scene():
    editable = box(4, 60, 4, 60)
    ops = [DragOperation("translate", (18.0, 20.0), (30.0, 26.0), None, box(12, 28, 10, 26)),
           DragOperation("rotate", (50.0, 44.0), (40.0, 54.0), (40.0, 44.0), box(38, 50, 36, 56))]
    return DragSpec(SIZE, SIZE, ops, editable)


def reference_angle_degrees(center, handle, target):
    """Counter-clockwise on screen from centre->handle to centre->target, cells (row, col)."""
    a = math.degrees(math.atan2(-(handle[0] - center[0]), handle[1] - center[1]))
    b = math.degrees(math.atan2(-(target[0] - center[0]), target[1] - center[1]))
    d = b - a
    return d + 360 if d < -180 else d - 360 if d > 180 else d


def oracle_pbsi(net, z_T, schedule, spec, lr=0.05, lam=0.2):
    ops = cell_operations(spec, GRID, "reference")       # cells, filled regions (tested on their own)
    masks = []
    for op in ops:
        m = torch.zeros(1, 1, *GRID)
        m[0, 0, op.handle_rows, op.handle_cols] = 1.0
        masks.append(m)
    editable = torch.from_numpy(spec.editable[::8, ::8]).float()[None, None]
    z, originals, features = z_T, [], []
    with torch.no_grad():
        for t in schedule.timesteps:
            eps, f0 = dense(net, z)
            features.append(f0)
            z = ddim_step(z, eps, schedule.alpha(t), schedule.alpha(schedule.prev(t)))
            originals.append(z)
    z = z_T
    for i, t in enumerate(schedule.timesteps):
        a_t, a_prev = schedule.alpha(t), schedule.alpha(schedule.prev(t))
        z = z.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for num in range(K):
            opt.zero_grad()
            eps, f1 = dense(net, z)
            x_prev = ddim_step(z, eps, a_t, a_prev)
            latent_term = lam * ((x_prev - originals[i]) * (1.0 - editable)).abs().sum()
            f0, loss = features[i], 0.0
            frac = (num + 1 + K * i) / (K * RAMP) if i < RAMP else 1.0
            for op, mask in zip(ops, masks):
                if op.kind == "translate":
                    offset = frac * torch.tensor([op.target[0] - op.handle[0], op.target[1] - op.handle[1]],
                                                 dtype=torch.float32)
                    if offset.long().abs().max() < 1:
                        continue
                    ys, xs = torch.where(mask[0, 0] == 1)
                    ty, tx = ys + offset.long()[0], xs + offset.long()[1]
                    ok = (ty >= 0) & (ty < GRID[0]) & (tx >= 0) & (tx < GRID[1])
                    term = F.l1_loss(f0[:, :, ys[ok], xs[ok]], f1[:, :, ty[ok], tx[ok]]) * 10
                else:
                    angle = reference_angle_degrees(op.center, op.handle, op.target)
                    if i < RAMP:
                        angle = round(frac * angle / 2) * 2
                    centre = [op.center[1], op.center[0]]
                    moved = TF.rotate(mask, angle, center=centre)
                    f0_moved = TF.rotate(f0 * mask, angle, center=centre)
                    ys, xs = torch.where(moved[0, 0] == 1)
                    term = F.l1_loss(f0_moved[:, :, ys, xs], f1[:, :, ys, xs]) * 10
                loss = loss + term + latent_term
            if torch.is_tensor(loss):
                loss.backward()
                opt.step()
        with torch.no_grad():
            eps, _ = dense(net, z)
            z = ddim_step(z, eps, a_t, a_prev)
    return z


def test_reference_pbsi_equals_the_authors_region_loop():
    net = Net()
    spec = scene()
    schedule = Schedule(tuple(sd15_alphas_cumprod().tolist()), (741, 721, 701, 681, 661), 20)
    z_T = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    ours = run_pbsi(net, z_T, schedule, spec, PBSIConfig(5, K, 0.05, 0.2, "reference", "reference")).edited
    theirs = oracle_pbsi(net, z_T, schedule, spec)
    assert (theirs - z_T).abs().max() > 0.1                 # the edit is substantial
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
    # and the paper's geometry is measurably another loop
    paper = run_pbsi(net, z_T, schedule, spec, PBSIConfig(5, K, 0.05, 0.2, "reference", "paper")).edited
    assert (paper - theirs).abs().max() > 1e-3


def oracle_point_drag(net, z, f0, handle, target, lr, cfg, a_t, a_prev):
    """One timestep of the authors' point-drag loop, one handle, away from the grid's edges."""
    def patch(fmap, y, x, r):
        y0, x0 = math.floor(y), math.floor(x)
        wy, wx = y - y0, x - x0
        sl = lambda r0, c0: fmap[:, :, r0 - r:r0 + r + 1, c0 - r:c0 + r + 1]  # noqa: E731
        return ((1 - wx) * (1 - wy) * sl(y0, x0) + (1 - wx) * wy * sl(y0 + 1, x0)
                + wx * (1 - wy) * sl(y0, x0 + 1) + wx * wy * sl(y0 + 1, x0 + 1))

    def track(f1, p):
        r2 = cfg.track_radius
        window = f1[:, :, p[0] - r2:p[0] + r2 + 1, p[1] - r2:p[1] + r2 + 1]
        dist = (window - f0[:, :, handle[0], handle[1]][..., None, None]).abs().sum(1)[0]
        row, col = divmod(int(dist.argmin()), dist.shape[-1])
        return (p[0] - r2 + row, p[1] - r2 + col)

    r1 = cfg.motion_radius
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    p, first, tracks, steps, no_change = handle, True, 0, 0, 0
    while tracks < cfg.tracks:
        opt.zero_grad()
        _, f1 = dense(net, z)
        if first:
            first, p = False, track(f1, p)
        if math.dist(p, target) < 2.0 or no_change == cfg.patience:
            break
        d = math.dist(p, target)
        step = min(cfg.max_step, d) / d
        y, x = p[0] + (target[0] - p[0]) * step, p[1] + (target[1] - p[1]) * step
        f0_patch = f0[:, :, handle[0] - r1:handle[0] + r1 + 1, handle[1] - r1:handle[1] + r1 + 1]
        loss = (2 * r1) ** 2 * F.l1_loss(f0_patch, patch(f1, y, x, r1))
        loss.backward()
        opt.step()
        steps += 1
        if steps == cfg.steps_per_track:
            tracks, steps = tracks + 1, 0
            q = track(f1, p)
            no_change = no_change + 1 if q == p else 0
            p = q
    return z.detach(), p


def test_point_drag_stage_equals_the_authors_loop():
    net = Net()
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        _, f0 = dense(net, z)
    handle, target = (16, 14), (16, 24)
    cfg = PointDragConfig(timesteps=1, tracks=3, steps_per_track=3, motion_radius=2, track_radius=3)
    from dragnext.dragnext_ops.point_drag import integer_patch

    def step(loss, optimizer):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    originals = [integer_patch([f0], GRID, handle, cfg.motion_radius)]
    ours, _, _ = run_point_drag(net, z, 0, 0.5, 0.6, originals, None, None, 0.0, 0.1, cfg,
                                PointDragState([handle], [target]), step, GRID)
    theirs, _ = oracle_point_drag(net, z, f0, handle, target, 0.1, cfg, 0.5, 0.6)
    assert (theirs - z).abs().max() > 0.05
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
