"""Train the toy prior: eps prediction under the SD1.5 discrete schedule on scenes from
proof.scenes, reproducible from the seed and config in models/toy_prior/config.json.

    PYTHONPATH=.comfyui:. nice -n 10 .venv/bin/python -m proof.train_prior [--out DIR] [--steps N]
        [--resume] [--until STEP] [--max-minutes M] [--checkpoint-every N] [--device cuda] [--workers N]

Writes DIR/toy_prior.safetensors (EMA weights in fp16 plus the fixed context and the latent's
VAE: config.latent.autoencoder's, or a PCA patch basis fitted first from the same scenes),
DIR/config.json, DIR/train_log.json (steps, total wall time over all sittings, the loss log) and DIR/checkpoint.pt, from which `--resume`
continues (the same command again: many hours of training in several sittings).

`train.equivariance` ({"weight", "max_cells", "margin"}) adds a shift-equivariance term: half of
each batch is the other half's latents and noise rolled by whole latent cells, and the eps predicted
for a rolled latent is pulled towards the rolled prediction away from the borders and the seam
(PBSI compares features of a moved object; a UNet whose stride-2 stages alias does not move them).

`train.init` starts the UNet and its EMA from a trained prior's weights (proof/warm_start.py).
"""
import argparse
import json
import math
import os
import time

from proof.pack import host_on_cpu

host_on_cpu()

import numpy as np  # noqa: E402
import safetensors.torch  # noqa: E402
import torch  # noqa: E402

from dragnext_ops.ddim import alphas_from_sigmas  # noqa: E402
from proof import autoencoder, prior, prompt, scenes  # noqa: E402
from proof.warm_start import warm_start  # noqa: E402


def scene_images(n_scenes: int, seed_base: int, size: int, world: scenes.World | None = None,
                 workers: int = 1) -> np.ndarray:
    """Original and ground-truth edited images of n_scenes scenes, all operation types,
    as uint8 (2*n, size, size, 3): edited scenes are scenes too. `workers` processes render
    contiguous slices of the scenes; the images are the same for any number of them."""
    return scene_data(n_scenes, seed_base, size, world, workers)[0]


def scene_data(n_scenes: int, seed_base: int, size: int, world: scenes.World | None = None,
               workers: int = 1) -> tuple:
    """(scene_images' images, their objects' codes (2*n, prompt.MAX_OBJECTS, 2): proof/prompt.py)."""
    if workers > 1 and n_scenes > 1:
        from concurrent.futures import ProcessPoolExecutor
        bounds = np.linspace(0, n_scenes, min(workers, n_scenes) + 1).astype(int)
        with ProcessPoolExecutor(len(bounds) - 1) as pool:
            parts = list(pool.map(_scene_slice, [(a, b, seed_base, size, world) for a, b in zip(bounds[:-1], bounds[1:])]))
            return tuple(np.concatenate(p) for p in zip(*parts))
    return _scene_slice((0, n_scenes, seed_base, size, world))


def _scene_slice(args) -> tuple:
    """scene_data's scenes first..end-1 (one worker's share)."""
    first, end, seed_base, size, world = args
    out = np.empty((2 * (end - first), size, size, 3), dtype=np.uint8)
    codes = np.empty((2 * (end - first), prompt.MAX_OBJECTS, 2), dtype=np.int16)
    for i, k in enumerate(range(first, end)):
        for attempt in range(100):  # a seed whose dragged object cannot be placed moves on, deterministically
            try:
                sc = scenes.make_scene(seed_base + k + attempt * 10 ** 6, scenes.OP_TYPES[k % len(scenes.OP_TYPES)],
                                       size=size, world=world)
                break
            except ValueError:
                pass
        else:
            raise ValueError(f"no scene of {size}x{size} pixels could be placed (100 seeds tried): use a larger size")
        out[2 * i] = np.round(sc.image * 255)
        out[2 * i + 1] = np.round(sc.edited * 255)
        codes[2 * i] = codes[2 * i + 1] = prompt.object_codes(sc.objects)  # an edit keeps the objects
    return out, codes


def cached_scene_images(folder: str, n_scenes: int, seed_base: int, size: int,
                        world: scenes.World | None = None, workers: int = 1, codes: bool = False):
    """scene_images (with `codes`: scene_data), kept in folder so that a resumed sitting does not
    render them again (minutes on this CPU); the file names hold every argument."""
    world = world or scenes.World()
    stem = os.path.join(folder, f"scenes_{n_scenes}_{seed_base}_{size}_{world.name()}")
    paths = [stem + ".npy"] + ([stem + "_codes.npy"] if codes else [])
    if all(os.path.isfile(p) for p in paths):
        arrays = [np.load(p) for p in paths]
        return tuple(arrays) if codes else arrays[0]

    def save(array, target):
        with open(target, "wb") as f:  # np.save(path) would append ".npy" to the temporary name
            np.save(f, array)

    arrays = scene_data(n_scenes, seed_base, size, world, workers)
    for array, path in zip(arrays, paths):
        _save_atomically(array, path, save)
    return arrays if codes else arrays[0]


def to_pixels(images) -> torch.Tensor:
    """uint8 (B, H, W, 3) images -> float (B, 3, H, W) in [-1, 1]."""
    return torch.as_tensor(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 flips/rotations of (B, C, H, W) images: scenes have no preferred pose."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def lr_at(step: int, tc: dict) -> float:
    if step < tc["warmup"]:
        return tc["lr"] * (step + 1) / tc["warmup"]
    p = (step - tc["warmup"]) / max(1, tc["steps"] - tc["warmup"])
    f = tc["final_lr_fraction"]
    return tc["lr"] * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * p)))


def snr_weight(alpha: torch.Tensor, gamma: float | None) -> torch.Tensor:
    """Min-SNR-gamma weights for eps prediction (Hang et al. 2023): min(SNR, gamma) / SNR.
    Low-noise steps, whose eps is nearly unpredictable, stop dominating the loss, so the
    high-noise levels where PBSI works (t around 750 at strength 0.75) learn faster."""
    if gamma is None:
        return torch.ones_like(alpha)
    snr = alpha / (1 - alpha)
    return snr.clamp(max=gamma) / snr


def interior_cells(size: int, shift: int, margin: int) -> torch.Tensor:
    """The (size,) bool mask of the positions `i` of a roll by `shift` (out[i] = in[i - shift])
    whose target and source both lie `margin` or more from the borders: away from the wrap's seam
    and from the zero padding that no convolution can be equivariant across."""
    i = torch.arange(size)
    return (i >= margin) & (i < size - margin) & (i - shift >= margin) & (i - shift < size - margin)


def equivariance_penalty(pred: torch.Tensor, pred_rolled: torch.Tensor, dy: int, dx: int, margin: int,
                         weight: torch.Tensor) -> torch.Tensor:
    """Mean over the interior cells of the weighted squared difference between the prediction for
    a latent rolled by (dy, dx) cells and the roll of the prediction for the latent itself: zero
    for a shift-equivariant network. `weight` is per sample (the noise level's)."""
    h, w = pred.shape[-2:]
    cells = interior_cells(h, dy, margin)[:, None] & interior_cells(w, dx, margin)[None, :]
    if not cells.any():
        raise ValueError(f"equivariance: no cell lies {margin} cells from the borders and the seam of a "
                         f"({dy}, {dx}) roll on a {h}x{w} latent; lower max_cells or margin")
    diff = (pred_rolled - torch.roll(pred, (dy, dx), dims=(-2, -1)))[..., cells]
    return (weight * diff.pow(2).mean((1, 2))).mean()


def draw_roll(gen: torch.Generator, max_cells: int) -> tuple:
    """A roll of -max_cells..max_cells latent cells in each axis, never (0, 0)."""
    while True:
        dy, dx = (int(v) for v in torch.randint(-max_cells, max_cells + 1, (2,), generator=gen))
        if (dy, dx) != (0, 0):
            return dy, dx


CHECKPOINT = "checkpoint.pt"


def latent_codec(config: dict, data: torch.Tensor):
    """(encode: [-1, 1] pixels -> unscaled latent, on data's device, tensors stored with the
    weights for the VAE, mean abs reconstruction error in [0, 1]) for the config's latent: the
    PCA patch basis fitted on the training images, or the autoencoder of config.latent.autoencoder."""
    sample = to_pixels(data[:64])
    if prior.latent_kind(config) == "conv_ae":
        ae = prior.load_autoencoder(config)
        stored = autoencoder.state_dict_for_prior(ae)
        ae.to(data.device)
        encode, decode = ae.encode, ae.decode
    else:
        fit_on = data[: config["train"].get("basis_images", 1024)].cpu()
        basis = prior.fit_basis(fit_on.permute(0, 3, 1, 2).double() / 127.5 - 1)
        stored = {k: v.contiguous() for k, v in basis.items()}
        encode, decode = (lambda x: prior.encode_patches(x, basis)), (lambda z: prior.decode_patches(z, basis))
    with torch.no_grad():
        rec_err = float((decode(encode(sample)) - sample).abs().mean() / 2)
    print(f"{prior.latent_kind(config)} latent: mean abs reconstruction error {rec_err:.4f} (of [0, 1])", flush=True)
    return encode, stored, rec_err


def check_resumable(saved: dict, config: dict):
    """A checkpoint continues only the run it came from: everything but the step count
    (which may grow between sittings) must match."""
    for key in sorted(set(saved) | set(config)):
        a, b = saved.get(key), config.get(key)
        if key == "train":
            a, b = ({k: v for k, v in (d or {}).items() if k != "steps"} for d in (a, b))
        if a != b:
            raise ValueError(f"config.{key}: differs from the checkpoint's run ({a!r} there, {b!r} here); "
                             f"resume with the config it was started with, or train into a new --out folder")


def _save_atomically(obj, path: str, save):
    tmp = path + ".tmp"
    save(obj, tmp)
    os.replace(tmp, path)


def train(config: dict, out_dir: str, steps: int | None = None, log_every: int = 50, resume: bool = False,
          until: int | None = None, max_seconds: float | None = None, checkpoint_every: int = 500,
          device: str = "cpu", workers: int = 1) -> dict:
    """Train (or, with `resume`, continue from out_dir's checkpoint when there is one) up to
    `steps` (default: the config's), stopping early at step `until` or after `max_seconds`
    of this sitting. Every `checkpoint_every` steps and at the end, out_dir gets the
    checkpoint (weights, optimizer, EMA, step, data position, RNG), the EMA weights and
    train_log.json (steps and total wall time over every sitting). A resumed run equals an
    uninterrupted one bit for bit.

    `device` "cuda" trains there, the UNet's forward in bfloat16 autocast (the latent, the loss
    and the weights stay float32); every random draw still comes from the CPU generator, so the
    data, poses and noise are the CPU run's. `workers` processes render the training scenes."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ValueError("device: cuda asked for, but torch sees no CUDA device; train with --device cpu")
    tc = dict(config["train"])
    if steps is not None:
        tc["steps"] = steps
    equi = tc.get("equivariance")
    if equi and (tc["batch"] % 2 or set(equi) != {"weight", "max_cells", "margin"}):
        raise ValueError("config.train.equivariance: needs an even batch and exactly the keys weight, max_cells, "
                         f"margin (got batch {tc['batch']}, keys {sorted(equi)})")
    prompted = tc.get("prompt")
    if prompted and (set(prompted) != {"seed", "drop"} or not 0 <= float(prompted["drop"]) < 1):
        raise ValueError(f"config.train.prompt: needs exactly the keys seed and drop (0 <= drop < 1), got {prompted!r}")
    torch.set_num_threads(int(tc["threads"]))
    torch.manual_seed(tc["seed"])
    gen = torch.Generator().manual_seed(tc["seed"])
    size = int(config["image_size"])
    scale = float(config["latent_scale"])
    ckpt_path = os.path.join(out_dir, CHECKPOINT)
    state = torch.load(ckpt_path, weights_only=False, map_location="cpu") if resume and os.path.isfile(ckpt_path) else None
    if state is not None:
        check_resumable(state["config"], config)
    parent = warm_start(config) if state is None and tc.get("init") is not None else None
    os.makedirs(out_dir, exist_ok=True)

    t0 = time.time()
    data = cached_scene_images(out_dir, tc["n_scenes"], tc["scene_seed_base"], size, scenes.World.of(config),
                               workers, codes=bool(prompted))
    if prompted:
        data, codes = data
        codes = torch.from_numpy(codes).to(device)
    data = torch.from_numpy(data).to(device)
    print(f"generated {len(data)} images in {time.time() - t0:.0f}s; pixel std {data.float().div(127.5).std():.3f}",
          flush=True)

    encode, stored, rec_err = latent_codec(config, data)
    model = prior.build_base_model(config, init_seed=tc["seed"])
    net = model.diffusion_model.to(device)
    net.train()
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    alphas = alphas_from_sigmas(model.model_sampling.sigmas).to(device, torch.float32)  # the host's SD1 schedule
    context = torch.randn((1, 77, int(config["unet"]["context_dim"])), generator=gen).to(device)
    if parent is not None:  # drawn all the same: the data stream is a cold start's
        net.load_state_dict(parent[0], strict=True)
        context = parent[1].to(device)
        print(f"warm start from {tc['init']['prior']} (sha256 {tc['init']['sha256'][:12]})", flush=True)
    table, drop_gen = {}, None
    if prompted:  # their own generators: the batches, poses and noise stay the unprompted run's
        table = {k: v.to(device) for k, v in prompt.token_table(context.shape[-1], int(prompted["seed"])).items()}
        drop_gen = torch.Generator().manual_seed(int(prompted["seed"]) + 1)
    ema = {k: v.detach().clone() for k, v in net.state_dict().items()}
    opt = torch.optim.AdamW(net.parameters(), lr=tc["lr"], weight_decay=0.0)
    first, log, running, wall_before, sittings = 0, [], 0.0, 0.0, []
    if state is not None:
        net.load_state_dict(state["net"])
        ema = {k: v.to(device) for k, v in state["ema"].items()}
        opt.load_state_dict(state["opt"])
        gen.set_state(state["generator"])  # the data position: batches, poses, noise
        torch.set_rng_state(state["torch_rng"])
        if drop_gen is not None:
            drop_gen.set_state(state["drop_generator"])
        first, log, running = state["step"], state["log"], state["running"]
        wall_before, sittings = state["wall_seconds"], state["sittings"]
        print(f"resumed at step {first} ({wall_before:.0f}s of training so far)", flush=True)
    last = tc["steps"] if until is None else min(until, tc["steps"])

    def save(step: int):
        wall = round(wall_before + time.time() - t0, 1)
        done = sittings + [{"from_step": first, "to_step": step, "seconds": round(time.time() - t0, 1),
                            "device": device.type}]
        _save_atomically({"config": config, "step": step, "net": net.state_dict(), "ema": ema,
                          "opt": opt.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                          "drop_generator": None if drop_gen is None else drop_gen.get_state(),
                          "log": log, "running": float(running), "wall_seconds": wall, "sittings": done},
                         ckpt_path, torch.save)
        weights = {k: v.to("cpu", torch.float16).contiguous() for k, v in ema.items()}
        weights[prior.CONTEXT_KEY] = context.to("cpu", torch.float16)
        weights.update({k: v.cpu().contiguous() for k, v in table.items()})
        weights.update(stored)  # float32: the VAE's exactness depends on it
        _save_atomically(weights, os.path.join(out_dir, config["weights"]), safetensors.torch.save_file)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(dict(config, train=tc), f, indent=2)
        summary = {"train": tc, "latent_reconstruction_l1": rec_err, "steps": step, "seconds": wall,
                   "sittings": done, "log": log}
        with open(os.path.join(out_dir, "train_log.json"), "w") as f:
            json.dump(summary, f, indent=1)
        return summary

    live = net.state_dict()  # detached aliases of the weights, which the optimizer updates in place
    ema_floats, live_floats = zip(*[(ema[k], v) for k, v in live.items() if v.dtype.is_floating_point])
    ema_others = [(ema[k], v) for k, v in live.items() if not v.dtype.is_floating_point]
    running = torch.tensor(running, dtype=torch.float64, device=device)  # summed on the device: no sync a step
    done = first
    for step in range(first, last):  # draws copied without a sync, so the CPU can queue steps ahead of the GPU
        idx = torch.randint(0, len(data), (tc["batch"],), generator=gen).to(device, non_blocking=True)
        imgs = to_pixels(data[idx])
        imgs = dihedral(imgs, int(torch.randint(0, 8, (1,), generator=gen)))
        with torch.no_grad():
            x0 = encode(imgs) * scale
        t = torch.randint(0, len(alphas), (tc["batch"],), generator=gen).to(device, non_blocking=True)
        eps = torch.randn(x0.shape, generator=gen).to(device, non_blocking=True)
        if equi:  # the second half of the batch is the first half's latents and noise rolled by whole cells
            half = tc["batch"] // 2
            dy, dx = draw_roll(gen, int(equi["max_cells"]))
            x0, eps, t = (torch.cat([v[:half], torch.roll(v[:half], (dy, dx), dims=(-2, -1)) if v.dim() == 4
                                     else v[:half]]) for v in (x0, eps, t))
        a = alphas[t].view(-1, 1, 1, 1)
        zt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        ctx = context.expand(tc["batch"], -1, -1)
        if prompted:  # each image's prompt, or "" (the empty context) a `drop` share of the time
            drop = torch.rand(len(idx), generator=drop_gen) < float(prompted["drop"])
            named = codes[idx].masked_fill(drop.to(device, non_blocking=True)[:, None, None], -1)  # no sync
            if equi:
                named = torch.cat([named[:half], named[:half]])
            ctx = prompt.contexts(named, context, table)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            pred = net(zt, timesteps=t.float(), context=ctx).float()
        weight = snr_weight(a.flatten(), tc.get("min_snr_gamma"))
        loss = (weight * (pred - eps).pow(2).mean((1, 2, 3))).mean()
        if equi:
            loss = loss + float(equi["weight"]) * equivariance_penalty(
                pred[:half], pred[half:], dy, dx, int(equi["margin"]), weight[:half])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, tc)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        decay = min(tc["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_floats, decay)
            torch._foreach_add_(ema_floats, live_floats, alpha=1 - decay)
            for e, v in ema_others:
                e.copy_(v)
        running += loss.detach()
        if (step + 1) % log_every == 0:
            entry = {"step": step + 1, "loss": float(running) / log_every,
                     "seconds": round(wall_before + time.time() - t0, 1)}
            log.append(entry)
            print(json.dumps(entry), flush=True)
            running.zero_()
        done = step + 1
        if max_seconds is not None and time.time() - t0 > max_seconds:
            break
        if done % checkpoint_every == 0 and done < last:
            save(done)
    return save(done)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(prior.DEFAULT_DIR, "config.json"))
    ap.add_argument("--out", default=prior.DEFAULT_DIR)
    ap.add_argument("--steps", type=int, default=None, help="override the config's steps (smoke runs; the total "
                                                            "when resuming, which may grow between sittings)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt when it exists")
    ap.add_argument("--until", type=int, default=None, help="end this sitting at this step (with a checkpoint)")
    ap.add_argument("--max-minutes", type=float, default=None, help="end this sitting after this long")
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (bfloat16 autocast; scripts/device_train_prior.sh)")
    ap.add_argument("--workers", type=int, default=1, help="processes that render the training scenes")
    ap.add_argument("--log-every", type=int, default=50, help="steps between the log's entries")
    args = ap.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    summary = train(config, args.out, steps=args.steps, resume=args.resume, until=args.until,
                    max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
                    checkpoint_every=args.checkpoint_every, device=args.device, workers=args.workers,
                    log_every=args.log_every)
    print(f"step {summary['steps']} of {summary['train']['steps']}, {summary['seconds']}s of training in all -> "
          f"{args.out}")


if __name__ == "__main__":
    main()
