"""The oracle ratio: does PBSI's objective ask for the right answer at all?

Invert the original and the exact ground truth through the prior, then compare PBSI's
full-offset feature loss (10 x mean L1 between the features at the target cells and the
original's features at the handle cells, at the first PBSI timestep) at the ground truth's
inverted latent and at the original's, where PBSI starts:

    ratio = L(ground truth) / L(start)

Near 0, a correct edit is what the loss asks for; near 1, the loss barely prefers it to no
edit, and no step budget finds it. Printed per offset class (translations by chosen offsets:
whole 8-px latent patches, sub-patch offsets, 2-4 px shifts) and per operation (scenes as the
evaluation draws them), on development seeds (DEV_SEED_BASE on; the evaluation uses 0-29,
training 1,000,000 on).

    PYTHONPATH=.comfyui:. nice -n 19 .venv/bin/python -m proof.oracle [--prior DIR] [--scenes 3] [--op-scenes 10]

--latent-only (the prior's clean latent as the feature map) or --autoencoder DIR (a latent
of proof.autoencoder) check a latent in seconds, before hours of UNet training on it.
--untrained CONFIG checks a UNet architecture in about a minute: the config's UNet with random
weights, its all-stage features at the clean latent (no inversion): the downsampling's share
of the loss, before training (against trained priors: proof/README.md).
"""
import argparse
import dataclasses
import json
import math
import time

from proof.pack import host_on_cpu

host_on_cpu()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from comfy.ldm.modules.diffusionmodules.openaimodel import Upsample  # noqa: E402

from dragnext_ops.ddim import alphas_from_sigmas, make_schedule  # noqa: E402
from dragnext_ops.features import sample_cells  # noqa: E402
from dragnext_ops.geometry import rotate_cells, translate_cells  # noqa: E402
from dragnext_ops.pbsi import FEATURE_WEIGHT, cell_operations  # noqa: E402
from dragnext_ops.regions import rasterise  # noqa: E402
from dragnext_ops.spec import build_spec, parse_spec  # noqa: E402
from dragnext_ops.trajectory import invert  # noqa: E402
from proof import prior, scenes, shapes  # noqa: E402
from proof.pack import pack_module  # noqa: E402

DEV_SEED_BASE = 500_000
OFFSET_CLASSES = {
    "whole-patch": [(8, 0), (16, 0), (16, 16), (24, 8)],
    "sub-patch": [(12, 0), (20, 4), (13, 19)],
    "2-4 px": [(2, 0), (3, 2), (4, 4)],
}
STEPS, STRENGTH = 50, 0.75  # the inversion node's defaults


def full_offset_state(op, grid):
    """The cell map of the whole drag (progress 1, the paper's rounding)."""
    if op.kind == "translate":
        offset = (op.target[0] - op.handle[0], op.target[1] - op.handle[1])
        return translate_cells(op.handle_rows, op.handle_cols, offset, grid)
    return rotate_cells(op.handle_rows, op.handle_cols, op.center, op.angle, grid)


def oracle_losses(denoiser, z_start, z_truth, schedule, spec) -> tuple:
    """(L(truth), L(start)): PBSI's feature term at full offset at the first PBSI timestep,
    the references being the start's handle-region features (as run_pbsi takes them)."""
    t = schedule.timesteps[0]
    _, start_maps = denoiser(z_start, t, features=True)
    return map_losses(start_maps, denoiser(z_truth, t, features=True)[1], spec)


def map_losses(start_maps, truth_maps, spec) -> tuple:
    """(L(truth), L(start)) for given feature maps of the start and of the ground truth."""
    grid = (spec.height // 2, spec.width // 2)
    ops = cell_operations(spec, grid)
    states = [full_offset_state(op, grid) for op in ops]
    refs = [sample_cells(start_maps, op.handle_rows, op.handle_cols, grid) for op in ops]

    def loss(maps):
        total = 0.0
        for state, ref in zip(states, refs):
            if len(state):
                current = sample_cells(maps, state.rows, state.cols, grid)
                total += FEATURE_WEIGHT * float((current.float() - ref[:, state.source].float()).abs().mean())
        return total

    return loss(truth_maps), loss(start_maps)


def pixel_pair(scene) -> torch.Tensor:
    """The original and the ground truth as (2, 3, H, W) pixels in [-1, 1]."""
    return torch.from_numpy(np.stack([scene.image, scene.edited])).permute(0, 3, 1, 2).float() * 2 - 1


def latent_ratio(encode, scene) -> dict:
    """The same ratio with the clean latent itself as the only feature map: a check of a
    latent before any UNet is trained on it (a UNet's features can hardly move more faithfully
    with the image than the latent they are computed from). encode: [-1, 1] (B, 3, H, W) ->
    (B, C, H/8, W/8)."""
    images = pixel_pair(scene)
    with torch.no_grad():
        z = encode(images).float()
    truth, start = map_losses([z[:1]], [z[1:]], drag_spec(scene))
    return {"truth": truth, "start": start, "ratio": truth / start}


def randomise_residual_branches(net: torch.nn.Module, seed: int, scale: float = 0.3):
    """prior.init_weights, then the residual branches' last layers (zero there, so that the
    untrained UNet is the identity through its skips) drawn at `scale` times N(0, 1/fan_in):
    a UNet whose every block computes something, as a trained one does."""
    prior.init_weights(net, seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, m in net.named_modules():
            if prior.is_residual_branch_end(name):
                w = m.weight
                w.copy_(torch.randn(w.shape, generator=g) * scale * (1.0 / w[0].numel()) ** 0.5)


def untrained_ratio_of(config: dict, seed: int = 1):
    """ratio_of(scene) through the config's UNet with random weights (randomise_residual_branches)
    on the config's conv_ae latent: the decoder stages' features (stage_outputs, as
    all_stages reads them) of both clean latents at the first PBSI timestep."""
    if prior.latent_kind(config) != "conv_ae":
        raise ValueError("--untrained: the config's latent must be a conv_ae (config.latent.autoencoder), "
                         "the PCA basis is fitted by training")
    ae, scale = prior.load_autoencoder(config), float(config["latent_scale"])
    model = prior.build_base_model(config)
    net = model.diffusion_model
    randomise_residual_branches(net, seed)
    net.eval()
    alphas = alphas_from_sigmas(model.model_sampling.sigmas)
    t = float(make_schedule(alphas, STEPS, STRENGTH).timesteps[0])
    stages = pack_module("nodes.feature_taps").stage_outputs(net)
    # A stage's output is its last block's upsampler's (the blocks themselves are iterated, not
    # called, by the host's forward, so only their layers' hooks fire), the last stage's the input of `out`.
    stage_layers = [next(layer for layer in net.output_blocks[i - 1] if isinstance(layer, Upsample))
                    for i in stages[:-1]]

    def ratio_of(scene) -> dict:
        images = pixel_pair(scene)
        maps = []
        hooks = [layer.register_forward_hook(lambda _m, _args, out: maps.append(out)) for layer in stage_layers]
        hooks.append(net.out.register_forward_pre_hook(lambda _m, args: maps.append(args[0])))
        try:
            with torch.no_grad():
                z = ae.encode(images).float() * scale
                net(z, timesteps=torch.full((2,), t), context=torch.zeros(2, 77, int(config["unet"]["context_dim"])))
        finally:
            for h in hooks:
                h.remove()
        assert len(maps) == len(stages), (len(maps), stages)
        truth, start = map_losses([m[:1] for m in maps], [m[1:] for m in maps], drag_spec(scene))
        return {"truth": truth, "start": start, "ratio": truth / start, "stages": len(maps)}

    return ratio_of


def offset_scene(seed: int, dx: int, dy: int, world=None):
    """A translate scene whose dragged object moves by exactly (+-dx, +-dy) pixels (the first
    sign pair that keeps it in the image and clear of the others), or None."""
    try:
        sc = scenes.make_scene(seed, "translate", world=world)
    except ValueError:
        return None
    op = sc.operations[0]
    k, size = op["object"], sc.meta["size"]
    others = [shapes.mapped_bbox(o["shape"], None) for i, o in enumerate(sc.objects) if i != k]
    margin = scenes.EDIT_MARGIN + 2
    for sx, sy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
        after = shapes.translate_map(sx * dx, sy * dy)
        obj = sc.objects[k]
        box = shapes.mapped_bbox(obj["shape"], None)
        moved = shapes.mapped_bbox(obj["shape"], after)
        box = (min(box[0], moved[0]), min(box[1], moved[1]), max(box[2], moved[2]), max(box[3], moved[3]))
        if box[0] < 3 or box[1] < 3 or box[2] > size - 3 or box[3] > size - 3:
            continue
        if any(not (box[2] + margin < b[0] or b[2] + margin < box[0] or box[3] + margin < b[1]
                    or b[3] + margin < box[1]) for b in others):
            continue
        objs = [dict(o, after=after) if i == k else o for i, o in enumerate(sc.objects)]
        edited, edited_masks = scenes.render(sc.background, objs, edited=True)
        target = (op["handle"][0] + sx * dx, op["handle"][1] + sy * dy)
        m = scenes.EDIT_MARGIN
        editable = [{"tool": "rect", "mode": "add",
                     "points": [[max(0.0, math.floor(box[0]) - m), max(0.0, math.floor(box[1]) - m)],
                                [min(float(size), math.ceil(box[2]) + m), min(float(size), math.ceil(box[3]) + m)]]}]
        return dataclasses.replace(
            sc, edited=edited.astype(np.float32), edited_masks=edited_masks, objects=objs,
            operations=[dict(op, target=target)], editable=editable, editable_mask=rasterise(editable, size, size),
            meta=dict(sc.meta, offset=(sx * dx, sy * dy)))
    return None


def drag_spec(scene):
    return build_spec(parse_spec(json.dumps(scene.spec(with_regions=False))), scene.image.shape[0],
                      scene.image.shape[1], region_masks=scene.region_masks(), editable_mask=scene.editable_mask)


def scene_ratio(model, vae, cond, scene, feature_layers: str = "all_stages", strength: float = STRENGTH) -> dict:
    """Invert the scene's original and ground truth with the pack's inversion (`strength` as the
    inversion node's), through the host (the nodes' run_stage and feature taps), and measure both
    losses; also the ratio with the latents themselves as the feature map, clean and inverted
    (where a UNet that does not move its output with the image loses the equivariance before
    any feature)."""
    host_unet, taps_mod = pack_module("nodes.host_unet"), pack_module("nodes.feature_taps")
    schedule = make_schedule(alphas_from_sigmas(model.get_model_object("model_sampling").sigmas), STEPS, strength)
    with torch.inference_mode():
        images = torch.from_numpy(np.stack([scene.image, scene.edited]))
        latents = model.model.process_latent_in(vae.encode(images).float())
    spec = drag_spec(scene)
    taps = taps_mod.FeatureTaps()
    patched = taps_mod.with_feature_taps(model, feature_layers, taps)
    out = {}

    def loop(make_unet, latent):
        unet = make_unet(host_unet.PassMeter("oracle", 2 * len(schedule.timesteps) + 2), taps)
        start_path = invert(unet, latents[:1].to(latent.device), schedule)
        truth_path = invert(unet, latents[1:].to(latent.device), schedule)
        out["truth"], out["start"] = oracle_losses(unet, start_path[-1], truth_path[-1], schedule, spec)
        for name, k in (("clean_latent_ratio", 0), ("inverted_latent_ratio", -1)):
            truth, start = map_losses([start_path[k]], [truth_path[k]], spec)
            out[name] = truth / start
        return latent

    host_unet.run_stage(patched, cond, torch.zeros_like(latents[:1]), schedule.timesteps, loop)
    return dict(out, ratio=out["truth"] / out["start"])


def dev_scenes(kind: str, n: int, first_seed: int, world=None):
    """n development scenes: an op type of scenes.OP_TYPES, or an offset (dx, dy), in `world`
    (make_scene's default when None)."""
    found, seed = [], first_seed
    while len(found) < n:
        if seed > first_seed + 100 * n:
            raise ValueError(f"fewer than {n} development scenes for {kind} in {100 * n} seeds")
        if isinstance(kind, tuple):
            sc = offset_scene(seed, *kind, world=world)
        else:
            try:
                sc = scenes.make_scene(seed, kind, world=world)
            except ValueError:
                sc = None
        if sc is not None:
            found.append(sc)
        seed += 1
    return found


def measure(ratio_of, n_offset: int, n_op: int, world=None, log=print) -> dict:
    """{'offsets': {class: {offset: [ratios]}}, 'operations': {op: [ratios]}, 'inverted_latent':
    {offset or op: [the inverted latents' own ratios]} (scene_ratio's only)}; ratio_of(scene)
    returns scene_ratio's, latent_ratio's or untrained_ratio_of's dict."""
    result = {"offsets": {}, "operations": {}, "inverted_latent": {}}

    def ratios_of(found, key):
        rs = [ratio_of(sc) for sc in found]
        if rs and "inverted_latent_ratio" in rs[0]:
            result["inverted_latent"][key] = [r["inverted_latent_ratio"] for r in rs]
        return [r["ratio"] for r in rs]

    def latents_note(key):
        inv = result["inverted_latent"].get(key)
        return f"; the inverted latent itself {np.mean(inv):.3f}" if inv else ""

    for cls, offsets in OFFSET_CLASSES.items():
        for dx, dy in offsets:
            key = f"({dx},{dy})"
            ratios = ratios_of(dev_scenes((dx, dy), n_offset, DEV_SEED_BASE, world), key)
            result["offsets"].setdefault(cls, {})[key] = ratios
            log(f"  offset {key} [{cls}]: {np.mean(ratios):.3f}  ({', '.join(f'{r:.2f}' for r in ratios)})"
                + latents_note(key))
    for op_type in scenes.OP_TYPES:
        ratios = ratios_of(dev_scenes(op_type, n_op, DEV_SEED_BASE + 1000, world), op_type)
        result["operations"][op_type] = ratios
        log(f"  {op_type}: {np.mean(ratios):.3f} (median {np.median(ratios):.3f}, {len(ratios)} scenes)"
            + latents_note(op_type))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", default=prior.DEFAULT_DIR, help="prior folder (default: the bundled one)")
    ap.add_argument("--scenes", type=int, default=3, help="scenes per chosen offset")
    ap.add_argument("--op-scenes", type=int, default=10, help="scenes per operation type")
    ap.add_argument("--feature-layers", default="all_stages", choices=("all_stages", "last_up_block"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--latent-only", action="store_true",
                    help="the prior's clean latent as the only feature map (no UNet): a check of the latent")
    ap.add_argument("--autoencoder", default=None,
                    help="the same check on the latent of a proof.autoencoder folder (no prior needed)")
    ap.add_argument("--untrained", default=None, metavar="CONFIG",
                    help="the same check through CONFIG's UNet with random weights at the clean latent (no prior needed)")
    ap.add_argument("--half-extent", type=float, nargs=2, default=None,
                    help="objects' half extent (fraction of the side; default: the prior's world)")
    ap.add_argument("--inversion-strength", type=float, default=STRENGTH,
                    help="through the prior: how far the inversion goes, so the noise level of the first PBSI "
                         "timestep (default: the inversion node's)")
    ap.add_argument("--json", default=None, help="also write every scene's ratio here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    config = prior.load_config(args.prior)
    if args.untrained:
        with open(args.untrained) as f:
            config = json.load(f)
        what, ratio_of = f"all_stages features of the untrained UNet of {args.untrained}", untrained_ratio_of(config)
    elif args.autoencoder:
        from proof import autoencoder
        ae = autoencoder.load(args.autoencoder)
        what, ratio_of = f"the clean latent of the autoencoder {args.autoencoder}", (
            lambda sc: latent_ratio(ae.encode, sc))
    elif args.latent_only:
        from proof.prior_quality import host_codec
        model, vae, _ = prior.load_prior(args.prior)
        encode, _ = host_codec(model.model, vae)
        what, ratio_of = f"the clean latent of prior {args.prior}", (lambda sc: latent_ratio(encode, sc))
    else:
        model, vae, cond = prior.load_prior(args.prior)
        what = (f"{args.feature_layers} features at the first PBSI timestep (inversion strength "
                f"{args.inversion_strength}), prior {args.prior}")
        ratio_of = lambda sc: scene_ratio(model, vae, cond, sc, args.feature_layers,  # noqa: E731
                                          args.inversion_strength)
    print(f"oracle ratio L(ground truth) / L(start), {what}, development seeds from {DEV_SEED_BASE}:")
    world = scenes.World.of(config)
    if args.half_extent:
        world = dataclasses.replace(world, half_extent=tuple(args.half_extent))
    result = measure(ratio_of, args.scenes, args.op_scenes, world)
    print("per offset class: " + ", ".join(
        f"{cls} {np.mean([r for rs in d.values() for r in rs]):.3f}" for cls, d in result["offsets"].items()))
    print("per operation: " + ", ".join(f"{op} {np.mean(rs):.3f}" for op, rs in result["operations"].items()))
    if result["inverted_latent"]:
        print("the inverted latent itself: " + ", ".join(
            f"{k} {np.mean(rs):.3f}" for k, rs in result["inverted_latent"].items()))
    print(f"({time.time() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
