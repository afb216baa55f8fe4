"""PBSI's reach: how far the PBSI node moves the latent towards the edit, before any denoising.

At the level where denoising resumes (after the PBSI timesteps) PBSI's edited latent `e` is
compared with the original trajectory's `o` inside the dragged objects' cells (original and
target poses, at latent resolution):

- content progress `<e - o, c> / |c|^2`, with `c = sqrt(a) (x0(ground truth) - x0(original))`
  the clean latents' difference brought to that level: 1 when the latent carries the moved
  content all the way, 0 when it carries none of it;
- progress `<e - o, g - o> / |g - o|^2` and its cosine, `g` the ground truth's own trajectory
  (the same inversion, then the same plain DDIM steps): this includes the inversions' noise,
  which differs between the two images by much more than their content does;
- `|c| / |g - o|`: the content's share of what separates the two trajectories;
- `needed_q99`, the 99th percentile of `|c|` over the cells' elements, against `moved_max`, the largest
  `|e - o|`: Adam moves an element by about lr per iteration at most, so PBSI's N x K iterations at lr
  bound `moved_max` near N * K * lr, and content whose contrast needs more than that cannot arrive
  whatever the loss asks. `budget` is the Adam steps the node took times lr: N * K * lr (1.0) for the
  paper's method, plus the point-drag stage's steps for the reference's (the default: 1.4 to 2.8 on
  the toy prior).

On development seeds (502,000 on, proof.evaluate's development runs; proof/README.md).

    PYTHONPATH=.comfyui:. nice .venv/bin/python -m proof.reach --prior out/prior_iso4 --lr 0.02 0.2
"""
import argparse
import json

from proof.pack import host_on_cpu

host_on_cpu()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dragnext_ops.trajectory import denoise  # noqa: E402
from proof import methods as M  # noqa: E402
from proof.evaluate import load_toy_prior  # noqa: E402
from proof.pack import pack_module  # noqa: E402
from proof.scenes import OP_TYPES, World, make_scene  # noqa: E402

FIRST_SEED = 502_000


def projections(e: torch.Tensor, o: torch.Tensor, g: torch.Tensor, c: torch.Tensor, cells: torch.Tensor) -> dict:
    """The figures of the module docstring for latents (1, C, h, w) and a (h, w) bool cell mask."""
    if not cells.any():
        raise ValueError("cells: no dragged cell")
    de, dg, c = (e - o)[..., cells].double(), (g - o)[..., cells].double(), c[..., cells].double()
    return {"content_progress": float((de * c).sum() / (c * c).sum()),
            "progress": float((de * dg).sum() / (dg * dg).sum()),
            "cosine": float((de * dg).sum() / (de.norm() * dg.norm()).clamp_min(1e-12)),
            "content_share": float(c.norm() / dg.norm()),
            "needed_q99": float(c.abs().flatten().quantile(0.99)), "moved_max": float(de.abs().max())}


def object_cells(scene, latent_hw) -> torch.Tensor:
    """The latent cells any dragged object covers in its original or its edited pose."""
    m = np.any([scene.masks[op["object"]] | scene.edited_masks[op["object"]] for op in scene.operations], 0)
    (h, w), (lh, lw) = m.shape, latent_hw
    return torch.from_numpy(m.reshape(lh, h // lh, lw, w // lw).any((1, 3)))


def plain_trajectory(model, cond, inversion, n: int) -> torch.Tensor:
    """The inverted latent after n plain DDIM steps, in the model's latent space (as the PBSI
    node's original branch)."""
    host_unet = pack_module("nodes.host_unet")
    steps, out = inversion.schedule.timesteps[:n], {}

    def loop(make_unet, latent):
        unet = make_unet(host_unet.PassMeter("reach", n))
        out["z"] = denoise(unet, inversion.inverted.to(latent.device), inversion.schedule, steps)
        return latent

    host_unet.run_stage(model, cond, torch.zeros_like(inversion.inverted), steps, loop)
    return out["z"]


def scene_reach(model, vae, cond, scene, settings: M.Settings, lrs) -> dict:
    """{lr: projections} for the PBSI node at `settings` with each learning rate."""
    nodes = M.node_classes()
    inv, drag, _ = M._inversion(model, vae, cond, scene, settings, {})
    with torch.inference_mode():
        truth = M._out(nodes["DragNeXtInversion"].execute(
            model, {"samples": vae.encode(torch.from_numpy(scene.edited)[None])}, cond,
            settings.steps, settings.inversion_strength))
    schedule, n = inv.schedule, settings.pbsi_timesteps
    g = plain_trajectory(model, cond, truth, n)
    # both clean latents as the inversions start from them, at the level where denoising resumes
    c = schedule.alpha(schedule.prev(schedule.timesteps[n - 1])) ** 0.5 * (truth.latents[0] - inv.latents[0])
    cells = object_cells(scene, inv.inverted.shape[-2:])
    out = {}
    for lr in lrs:
        with torch.inference_mode():
            edit = M._out(nodes["DragNeXtPBSI"].execute(
                model, inv, drag, cond, pbsi_timesteps=n, iterations=settings.iterations, lr=lr,
                mask_weight=settings.mask_weight, feature_layers=settings.feature_layers,
                progress_schedule=settings.progress_schedule, method=settings.method))
        # every forward+backward pass is one Adam step: PBSI's N x K and the point-drag stage's
        out[lr] = dict(projections(edit.edited, edit.original, g, c, cells),
                       budget=edit.passes["forward_backward"] * lr)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", default=None, help="a prior folder (default: the committed prior)")
    ap.add_argument("--scenes", type=int, default=3, help="scenes per operation")
    ap.add_argument("--first-seed", type=int, default=FIRST_SEED)
    ap.add_argument("--ops", nargs="+", default=list(OP_TYPES), choices=OP_TYPES)
    ap.add_argument("--lr", type=float, nargs="+", default=[M.Settings.lr])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write every scene's figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prior = pack_module("proof.prior")
    model, vae, cond = load_toy_prior(args.prior)
    world = World.of(prior.load_config(args.prior or prior.DEFAULT_DIR))
    rows, settings = [], M.Settings()
    for op in args.ops:
        for seed in range(args.first_seed, args.first_seed + args.scenes):
            for lr, p in scene_reach(model, vae, cond, make_scene(seed, op, world=world),
                                     settings, args.lr).items():
                rows.append(dict(p, op=op, seed=seed, lr=lr))
                print(json.dumps(rows[-1]), flush=True)
    for op in args.ops:
        for lr in args.lr:
            mine = [r for r in rows if r["op"] == op and r["lr"] == lr]
            print(f"{op} lr {lr}: " + ", ".join(f"{k} {np.mean([r[k] for r in mine]):.2f}" for k in (
                "budget", "content_progress", "progress", "cosine", "content_share", "needed_q99", "moved_max")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
