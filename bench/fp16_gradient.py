"""PBSI's latent gradient through the real SD1.5 UNet computing in float16, against float32.

    PYTHONPATH=$PWD/.comfyui:$PWD/.comfyui/custom_nodes:$PWD .venv/bin/python -m bench.fp16_gradient --size 512

The SD1.5 architecture with generated weights (bench/model.py), loaded by the host, features
of every decoder stage (the default), one 150-px square region dragged by 24 px at the first
PBSI timestep (741). Prints, for float16 with a loss scale of 2^16 (GradScaler's first, as in PBSI) and without it, the
cosine of the latent's gradient to float32's and how many of its elements are zero.
float16 on a CPU is slow (minutes per pass at 512 px); on a GPU it takes seconds.
"""
import argparse
import time

import comfy.cli_args

comfy.cli_args.args.cpu = True

import torch  # noqa: E402

from bench.model import conditioning, sd15_model  # noqa: E402
from dragnext.dragnext_ops.features import sample_cells  # noqa: E402
from dragnext.dragnext_ops.pbsi import FEATURE_WEIGHT  # noqa: E402
from dragnext.nodes.feature_taps import DEFAULT_FEATURE_LAYERS, FeatureTaps, with_feature_taps  # noqa: E402
from dragnext.nodes.host_unet import PassMeter, run_stage, with_detached_weights  # noqa: E402

T = 741
SCALE = 2.0 ** 16   # GradScaler's initial scale, as PBSI starts with


def model_computing_in(dtype):
    model = sd15_model(seed=0, dtype=dtype)
    model.model.manual_cast_dtype = None   # compute in the weights' dtype even on a CPU
    return model


def gradients(model, size: int, scaled_too: bool) -> dict:
    """{'plain': dL/dz, 'scaled': dL/dz taken as (S L)' / S} for the drag's feature loss."""
    grid = (size // 2, size // 2)
    side, shift = round(grid[0] * 75 / 256), max(1, round(grid[0] * 12 / 256))  # at 512 px: 150 px, by 24
    r0 = c0 = (grid[0] - side) // 2 - shift // 2
    rows, cols = torch.meshgrid(torch.arange(r0, r0 + side), torch.arange(c0, c0 + side), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    z0 = torch.randn(1, 4, size // 8, size // 8, generator=torch.Generator().manual_seed(0))
    taps = FeatureTaps()
    patched = with_feature_taps(with_detached_weights(model), DEFAULT_FEATURE_LAYERS, taps)
    out = {}

    def loop(make_unet, latent):
        unet = make_unet(PassMeter("fp16 check", 2), taps)
        z = z0.to(latent.device)
        with torch.no_grad():
            ref = sample_cells(unet(z, T, features=True)[1], rows, cols, grid).float()
        z = z.clone().requires_grad_(True)
        _, maps = unet(z, T, features=True)
        loss = FEATURE_WEIGHT * (sample_cells(maps, rows, cols + shift, grid).float() - ref).abs().mean()
        out["channels"], out["cells"] = ref.shape
        out["plain"] = torch.autograd.grad(loss, z, retain_graph=scaled_too)[0].float().cpu()
        if scaled_too:
            out["scaled"] = (torch.autograd.grad(loss * SCALE, z)[0].float() / SCALE).cpu()
        return latent

    run_stage(patched, conditioning(), torch.zeros_like(z0), [T], loop, grad=True)
    return out


def report(name, g, exact):
    cos = torch.nn.functional.cosine_similarity(g.flatten(), exact.flatten(), dim=0).item()
    finite = bool(torch.isfinite(g).all())
    print(f"{name}: cosine to float32 {cos:.4f}, zero elements {int((g == 0).sum())} of {g.numel()} "
          f"(float32: {int((exact == 0).sum())}), finite {finite}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(False)   # float16 subnormals are the point: keep them
    t0 = time.time()
    exact = gradients(model_computing_in(torch.float32), args.size, scaled_too=False)
    print(f"float32 done in {time.time() - t0:.0f}s ({exact['channels']} feature channels)", flush=True)
    half = gradients(model_computing_in(torch.float16), args.size, scaled_too=True)
    print(f"float16 done in {time.time() - t0:.0f}s", flush=True)
    per_element = FEATURE_WEIGHT / (exact["channels"] * exact["cells"])
    print(f"dL/dF per feature element: {per_element:.2e} (float16's smallest normal: 6.1e-05)")
    report("float16 without a loss scale", half["plain"], exact["plain"])
    report(f"float16 with the loss scale {SCALE:.0f}", half["scaled"], exact["plain"])


if __name__ == "__main__":
    main()
