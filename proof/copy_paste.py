"""The RegionDrag-family baseline: no optimisation; the original trajectory's latent
cells under each handle region are pasted onto their target cells before and after
every denoising step, through the same host adapter the DragNeXt nodes use."""
import numpy as np
import torch

from proof import shapes
from proof.pack import pack_module


def cell_mapping(spec, latent_hw) -> tuple:
    """(dst, src) flat latent-cell indices: each target cell and the handle cell it copies.
    Inverse-mapped from every cell centre, so rotated targets have no holes."""
    h, w = latent_hw
    fy, fx = spec.height // h, spec.width // w
    geometry = pack_module("dragnext_ops.geometry")
    dst, src = [], []
    rows, cols = np.mgrid[0:h, 0:w]
    px, py = (cols + 0.5) * fx, (rows + 0.5) * fy
    for op in spec.operations:
        region = op.region[fy // 2::fy, fx // 2::fx]  # the pixel at each cell's centre
        if op.kind == "rotate":
            m = shapes.rotate_map(op.center, geometry.rotation_angle(op.handle, op.target, op.center))
        else:
            m = shapes.translate_map(op.target[0] - op.handle[0], op.target[1] - op.handle[1])
        qx, qy = shapes.apply_map(m, px, py, inverse=True)
        sr, sc = np.floor(qy / fy).astype(int), np.floor(qx / fx).astype(int)
        ok = (sr >= 0) & (sr < h) & (sc >= 0) & (sc < w)
        ok[ok] = region[sr[ok], sc[ok]]
        dst.append((rows * w + cols)[ok])
        src.append((sr * w + sc)[ok])
    return torch.from_numpy(np.concatenate(dst)), torch.from_numpy(np.concatenate(src))


def copy_paste_edit(model, inversion, drag, conditioning) -> dict:
    """Denoise [original, edited] from the inverted latent, pasting at every step; returns
    the edited LATENT."""
    host_unet = pack_module("nodes.host_unet")
    ddim = pack_module("dragnext_ops.ddim")
    schedule = inversion.schedule
    z_T = inversion.inverted
    dst, src = cell_mapping(drag, z_T.shape[-2:])
    timesteps = schedule.timesteps

    def loop(make_unet, latent):
        to, frm = dst.to(latent.device), src.to(latent.device)  # once, not per step

        def paste(z):
            flat = z.reshape(2, z.shape[1], -1).clone()
            flat[1][:, to] = flat[0][:, frm]
            return flat.reshape(z.shape)

        meter = host_unet.PassMeter("copy-paste", len(timesteps))
        unet = make_unet(meter)
        z = paste(torch.cat([z_T, z_T]).to(latent.device))
        for t in timesteps:
            eps, _ = unet(z, t)
            z = paste(ddim.ddim_step(z, eps, schedule.alpha(t), schedule.alpha(schedule.prev(t))))
        meter.report()
        return z[1:]

    start = torch.zeros((2,) + tuple(z_T.shape[1:]))
    samples = host_unet.run_stage(model, conditioning, start, timesteps, loop)
    return {"samples": samples.cpu()}
