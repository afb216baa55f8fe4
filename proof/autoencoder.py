"""A small convolutional autoencoder whose stride-8 (or, with a fixed filterbank encoder, stride-4)
latent moves smoothly with sub-cell shifts of the image, as SD's VAE latent does (the PCA patch
latent does not: a 3-px shift re-cuts every 8x8 patch).

Blur before every subsampling, replicate padding, and a training term asking that encoding
a shifted crop equal the bilinearly shifted latent of the unshifted one (shift augmentation:
crops at random pixel offsets). Scaled afterwards so its largest channel has unit variance
(SD1.5's scaled latent). Pure torch; proof/prior.py serves it through the host's VAE class.

    PYTHONPATH=.comfyui:. nice -n 19 .venv/bin/python -m proof.autoencoder --out out/ae [--minutes 10]
    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.autoencoder --whiten out/ae --out out/ae_w   # every channel unit variance
    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.autoencoder --from-prior models/toy_prior --out out/ae_iso4_dec128
        # the autoencoder stored in a prior's weights, for training another prior on its latent

Writes OUT/autoencoder.safetensors and OUT/autoencoder.json (architecture, scale, log, and
the equivariance measured against the PCA patch latent).
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F

STRIDE = 8  # the default, SD's; the filterbank encoder also runs at 4 (STRIDES)
STRIDES = (4, 8)
AE_PREFIX = "toy_prior.ae."


class Blur(torch.nn.Module):
    """[1, 2, 1]^2 / 16 per channel: a low-pass before subsampling (anti-aliasing)."""

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).expand(channels, 1, 3, 3).contiguous(),
                             persistent=False)
        self.channels = channels

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel, groups=self.channels)


# The fixed encoder's colour axes: luminance and two opponent differences (decorrelated,
# so each keeps its own Gaussian jet).
OPPONENT = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [0.5, -0.5, 0.0], [0.25, 0.25, -0.5]])


class FilterbankEncoder(torch.nn.Module):
    """A fixed, anti-aliased encoder (stride 8 or 4) with 16 channels sampled at the cell centres,
    nothing to learn; shift-equivariant up to the Gaussians' small aliasing at this stride.

    jet: the Gaussian jet at scale sigma (value, x and y first and second derivatives) of
    each opponent colour axis, plus the luminance's mixed derivative.
    isotropic: Gaussians and Laplacians of Gaussians only (rotation-equivariant channels, so
    a turned object keeps its channels): each axis at sigma and 1.5 sigma, and at 0.75 sigma
    the luminance's pair and the two colour differences' Gaussians."""

    FILTERS = ("jet", "isotropic")

    def __init__(self, sigma: float = 4.0, latent_channels: int = 16, filters: str = "jet", stride: int = STRIDE):
        super().__init__()
        if stride not in STRIDES:
            raise ValueError(f"stride: {stride} is not one of {STRIDES}")
        if latent_channels != 16:
            raise ValueError(f"latent_channels: the filterbank encoder has 16 channels, not {latent_channels}")
        if filters not in self.FILTERS:
            raise ValueError(f"filters: {filters!r} is not one of {self.FILTERS}")
        self.sigma, self.filters = float(sigma), filters
        widest = sigma * (1.5 if filters == "isotropic" else 1.0)
        self.stride = stride
        half = stride * max(1, math.ceil(3 * widest / stride))  # kernel of 2 * half pixels, centred on the cell
        u = torch.arange(2 * half, dtype=torch.float64) - (2 * half - 1) / 2
        kernels = self._jet(u, sigma) if filters == "jet" else self._isotropic(u, sigma)
        self.register_buffer("kernel", torch.stack(kernels).float(), persistent=False)
        self.pad = half - stride // 2

    @staticmethod
    def _jet(u, sigma):
        g = torch.exp(-u ** 2 / (2 * sigma ** 2))
        g = g / g.sum()
        d1, d2 = -u / sigma * g, (u ** 2 / sigma ** 2 - 1) * g  # scaled by sigma^k: comparable magnitudes
        jet = [(g, g), (d1, g), (g, d1), (d2, g), (g, d2)]  # (along x, along y)
        kernels = [OPPONENT[axis].double()[:, None, None] * (ky[:, None] * kx[None, :])
                   for axis in range(3) for kx, ky in jet]
        return kernels + [OPPONENT[0].double()[:, None, None] * (d1[:, None] * d1[None, :])]

    @staticmethod
    def _isotropic(u, sigma):
        r2 = u[:, None] ** 2 + u[None, :] ** 2

        def pair(s):  # the Gaussian and its (scale-normalised) Laplacian
            g = torch.exp(-r2 / (2 * s * s))
            g = g / g.sum()
            return g, (r2 / s ** 2 - 2) * g

        bank = [(axis, k) for axis in range(3) for s in (sigma, 1.5 * sigma) for k in pair(s)]
        g, log = pair(0.75 * sigma)
        bank += [(0, g), (0, log), (1, g), (2, g)]
        return [OPPONENT[axis].double()[:, None, None] * k for axis, k in bank]

    def forward(self, x):
        x = F.pad(x, (self.pad,) * 4, mode="replicate")
        return F.conv2d(x, self.kernel.to(x.dtype), stride=self.stride)


def conv(c_in: int, c_out: int, k: int = 3):
    return torch.nn.Conv2d(c_in, c_out, k, padding=k // 2, padding_mode="replicate")


class ConvAutoencoder(torch.nn.Module):
    """(B, 3, H, W) in [-1, 1] <-> (B, C, H/stride, W/stride), unscaled. Stride 4 needs the fixed
    filterbank encoder (sigma given); its decoder has one upsampling fewer."""

    def __init__(self, latent_channels: int = 16, widths=(16, 32, 48), sigma: float | None = None,
                 filters: str = "jet", gains=None, stride: int = STRIDE):
        super().__init__()
        if sigma is None and stride != STRIDE:  # FilterbankEncoder checks the stride itself
            raise ValueError(f"stride: the learned encoder is stride {STRIDE} only; give sigma (the filterbank encoder)")
        self.stride = stride
        self.latent_channels, self.widths, self.sigma = latent_channels, tuple(widths), sigma
        if gains is not None and len(gains) != latent_channels:
            raise ValueError(f"gains: {len(gains)} values for {latent_channels} latent channels")
        # per-channel factors applied outside the trained layers (encode multiplies, decode divides), so a
        # decoder trained without them serves a whitened latent unchanged
        self.register_buffer("gains", torch.ones(latent_channels) if gains is None else
                             torch.tensor([float(v) for v in gains]), persistent=False)
        self.filters = filters if sigma is not None else None
        w0, w1, w2 = widths
        act = torch.nn.SiLU
        # sigma given: the fixed filterbank encoder, only the decoder is learned
        self.encoder = FilterbankEncoder(sigma, latent_channels, filters, stride) if sigma is not None else torch.nn.Sequential(
            conv(3, w0), act(),
            conv(w0, w1), act(), Blur(w1), torch.nn.AvgPool2d(2),
            conv(w1, w2), act(), Blur(w2), torch.nn.AvgPool2d(2),
            conv(w2, w2), act(), Blur(w2), torch.nn.AvgPool2d(2),
            conv(w2, w2), act(), conv(w2, latent_channels, 1))
        up = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.decoder = torch.nn.Sequential(
            conv(latent_channels, w2), act(), conv(w2, w2), act(),
            *((up, conv(w2, w2), act()) if stride == 8 else ()),
            up, conv(w2, w1), act(),
            up, conv(w1, w0), act(), conv(w0, w0), act(), conv(w0, 3))

    def encode(self, x):
        z = self.encoder(x)
        return z * self.gains.to(z).view(1, -1, 1, 1)

    def decode(self, z):
        return self.decoder(z / self.gains.to(z).view(1, -1, 1, 1))


def shift_latent(z: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """z moved by (dx, dy) cells, bilinearly (out(p) = z(p - d)), edges replicated."""
    b, _, h, w = z.shape
    ys = (torch.arange(h, dtype=z.dtype) - dy + 0.5) / h * 2 - 1
    xs = (torch.arange(w, dtype=z.dtype) - dx + 0.5) / w * 2 - 1
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], dim=-1).expand(b, h, w, 2)
    return F.grid_sample(z, grid, mode="bilinear", padding_mode="border", align_corners=False)


def shifted_crops(images: torch.Tensor, size: int, shifts, origin: int):
    """Crops of (B, 3, H, W) at (origin, origin) and at (origin - dy, origin - dx) per shift:
    the second shows the content moved by (+dx, +dy) pixels."""
    base = images[..., origin:origin + size, origin:origin + size]
    moved = [images[..., origin - dy:origin - dy + size, origin - dx:origin - dx + size] for dx, dy in shifts]
    return base, moved


def equivariance_error(encode, images: torch.Tensor, shifts=((1, 0), (2, 0), (3, 0), (4, 0), (3, 5)),
                       size: int = 96, border_cells: int = 1, stride: int = STRIDE) -> dict:
    """Per pixel shift, |E(shift(x)) - shift(E(x), s/stride)| / |E(x) - mean| on interior cells
    (0: the latent moves exactly with the image; about 1.4 for an unrelated latent)."""
    base, moved = shifted_crops(images, size, shifts, 16)
    with torch.no_grad():
        z = encode(base)
        dev = (z - z.mean((0, 2, 3), keepdim=True)).abs()[..., border_cells:-border_cells, border_cells:-border_cells]
        out = {}
        for (dx, dy), m in zip(shifts, moved):
            diff = (encode(m) - shift_latent(z, dx / stride, dy / stride)).abs()
            out[f"({dx},{dy})"] = float(diff[..., border_cells:-border_cells, border_cells:-border_cells].mean()
                                        / dev.mean())
    return out


def train_autoencoder(images: torch.Tensor, steps: int, seed: int = 0, batch: int = 8, crop: int = 48,
                      lr: float = 2e-3, equivariance_weight: float = 1.0, max_seconds: float | None = None,
                      latent_channels: int = 16, widths=(16, 32, 48), sigma: float | None = None, filters: str = "jet",
                      stride: int = STRIDE, log=print):
    """Train on random crops of (N, 3, H, W) images in [-1, 1]: L1 reconstruction of each
    crop plus the equivariance term for a crop shifted by a random 1-7 px offset."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ae = ConvAutoencoder(latent_channels, widths, sigma, filters, stride=stride)
    opt = torch.optim.Adam(ae.parameters(), lr=lr)
    n, _, h, w = images.shape
    t0, history, step = time.time(), [], 0
    for step in range(steps):
        idx = torch.randint(0, n, (batch,), generator=g)
        dx, dy = (int(v) for v in torch.randint(-7, 8, (2,), generator=g))
        r = int(torch.randint(8, h - crop - 8, (1,), generator=g))
        c = int(torch.randint(8, w - crop - 8, (1,), generator=g))
        x = images[idx, :, r:r + crop, c:c + crop]
        xs = images[idx, :, r - dy:r - dy + crop, c - dx:c - dx + crop]
        z, zs = ae.encode(x), ae.encode(xs)
        rec = (ae.decode(z) - x).abs().mean() + (ae.decode(zs) - xs).abs().mean()
        target = shift_latent(z, dx / stride, dy / stride)[..., 1:-1, 1:-1]
        eq = (zs[..., 1:-1, 1:-1] - target).pow(2).mean() / z.detach().pow(2).mean().clamp_min(1e-6)
        loss = rec + equivariance_weight * eq
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 100) * (0.1 + 0.9 * (1 - step / steps))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            entry = {"step": step + 1, "reconstruction_l1": float(rec.detach()) / 4, "equivariance": float(eq.detach()),
                     "seconds": round(time.time() - t0, 1)}
            history.append(entry)
            log(json.dumps(entry))
        if max_seconds is not None and time.time() - t0 > max_seconds:
            break
    return ae.eval(), {"steps": step + 1, "seconds": round(time.time() - t0, 1), "log": history}


def channel_stds(ae: ConvAutoencoder, images: torch.Tensor) -> torch.Tensor:
    """The standard deviation of each channel of ae's latent over images."""
    with torch.no_grad():
        z = torch.cat([ae.encode(images[i:i + 16]) for i in range(0, len(images), 16)])
    return z.transpose(0, 1).flatten(1).std(1)


def latent_scale(ae: ConvAutoencoder, images: torch.Tensor) -> float:
    """The factor that gives the latent's largest channel unit variance."""
    return float(1.0 / channel_stds(ae, images).max())


def whitening_gains(ae: ConvAutoencoder, images: torch.Tensor) -> list:
    """Per-channel factors that give every channel of ae's latent unit variance on images (SD1.5's
    four scaled channels have about unit variance each; a filterbank's Laplacian channels have a
    fifth of its Gaussians' variance), on top of the gains ae already has."""
    return [float(g) for g in ae.gains / channel_stds(ae, images)]


def state_dict_for_prior(ae: ConvAutoencoder) -> dict:
    return {AE_PREFIX + k: v.detach().float().contiguous() for k, v in ae.state_dict().items()}


def save(ae: ConvAutoencoder, folder: str) -> str:
    """Write ae's weights where `load` and a prior config's `latent.autoencoder` find them; returns folder."""
    import safetensors.torch
    os.makedirs(folder, exist_ok=True)
    safetensors.torch.save_file(state_dict_for_prior(ae), os.path.join(folder, "autoencoder.safetensors"))
    return folder


def from_prior_state_dict(sd: dict, latent_channels: int, widths, sigma: float | None = None,
                          filters: str = "jet", gains=None, stride: int = STRIDE) -> ConvAutoencoder:
    """The autoencoder whose weights are the AE_PREFIX entries of sd (removed from it)."""
    ae = ConvAutoencoder(latent_channels, tuple(widths), sigma, filters, gains, stride)
    weights = {k[len(AE_PREFIX):]: sd.pop(k).float() for k in [k for k in sd if k.startswith(AE_PREFIX)]}
    ae.load_state_dict(weights, strict=True)
    return ae.eval()


def load(folder: str) -> ConvAutoencoder:
    """The autoencoder a run of this module wrote to folder."""
    import safetensors.torch
    with open(os.path.join(folder, "autoencoder.json")) as f:
        meta = json.load(f)
    sd = safetensors.torch.load_file(os.path.join(folder, "autoencoder.safetensors"))
    return from_prior_state_dict(sd, meta["latent_channels"], meta["widths"], meta.get("sigma"),
                                 meta.get("filters") or "jet", meta.get("gains"), meta.get("stride", STRIDE))


def extract_from_prior(prior_dir: str, folder: str) -> dict:
    """Write the autoencoder stored with the prior in prior_dir to folder, as a run of this module
    would (what `load` and a prior config's latent.autoencoder read); returns its autoencoder.json."""
    import safetensors.torch

    from proof import prior
    config = prior.load_config(prior_dir)
    if prior.latent_kind(config) != "conv_ae":
        raise ValueError(f"{prior_dir}: config.latent.kind is {prior.latent_kind(config)!r}; only a 'conv_ae' prior "
                         "stores an autoencoder")
    sd = safetensors.torch.load_file(os.path.join(prior_dir, config["weights"]))
    ae = prior.autoencoder_from(sd, config)
    latent = config["latent"]
    meta = {"latent_channels": ae.latent_channels, "widths": list(ae.widths), "sigma": ae.sigma,
            "filters": ae.filters, "stride": ae.stride, "gains": latent.get("gains"),
            "latent_scale": config["latent_scale"], "from_prior": prior_dir}
    save(ae, folder)
    with open(os.path.join(folder, "autoencoder.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def main():
    from proof.pack import host_on_cpu
    host_on_cpu()  # before proof.prior imports the host
    from proof import prior
    from proof.scenes import World
    from proof.train_prior import scene_images, to_pixels
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/ae")
    ap.add_argument("--scenes", type=int, default=500, help="training scenes (seeds from 1,000,000, as the prior's)")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--equivariance-weight", type=float, default=1.0)
    ap.add_argument("--widths", type=int, nargs=3, default=(16, 32, 48))
    ap.add_argument("--crop", type=int, default=48, help="training crop (px)")
    ap.add_argument("--batch", type=int, default=8, help="crops per step")
    ap.add_argument("--sigma", type=float, default=None,
                    help="a fixed filterbank encoder at this Gaussian scale (px); only the decoder is trained")
    ap.add_argument("--filters", default="jet", choices=FilterbankEncoder.FILTERS, help="the filterbank's filters")
    ap.add_argument("--stride", type=int, default=STRIDE, choices=STRIDES,
                    help="the latent's downscale factor (4: the filterbank encoder only)")
    ap.add_argument("--half-extent", type=float, nargs=2, default=None,
                    help="training scenes' objects' half extent (fraction of the side; default: scenes.HALF_EXTENT)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--from-prior", metavar="FOLDER", default=None,
                    help="train nothing: write the autoencoder stored in the prior in FOLDER to OUT")
    ap.add_argument("--whiten", metavar="FOLDER", default=None,
                    help="train nothing: write FOLDER's autoencoder to OUT with per-channel gains that give each latent "
                         "channel unit variance on the first 256 training images (OUT/autoencoder.json: gains, "
                         "latent_scale 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.from_prior:
        print(json.dumps(extract_from_prior(args.from_prior, args.out)))
        return
    if args.whiten:
        with open(os.path.join(args.whiten, "autoencoder.json")) as f:
            meta = json.load(f)
        extent = args.half_extent or meta.get("half_extent")
        images = to_pixels(scene_images(256, 1_000_000, 128, World(half_extent=tuple(extent)) if extent else None))
        ae = load(args.whiten)
        meta.update(gains=whitening_gains(ae, images), latent_scale=1.0, whitened_from=args.whiten)
        save(ae, args.out)  # the weights unchanged: the gains act outside them
        with open(os.path.join(args.out, "autoencoder.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(json.dumps({"gains": meta["gains"]}))
        return
    world = World(half_extent=tuple(args.half_extent)) if args.half_extent else None
    images = to_pixels(scene_images(args.scenes, 1_000_000, 128, world))
    held_out = to_pixels(scene_images(16, 500_000, 128, world))  # development seeds (proof.oracle's)
    ae, summary = train_autoencoder(images, args.steps, max_seconds=60 * args.minutes,
                                    equivariance_weight=args.equivariance_weight, widths=args.widths, crop=args.crop,
                                    batch=args.batch, sigma=args.sigma, filters=args.filters, stride=args.stride)
    scale = latent_scale(ae, images[:256])
    with torch.no_grad():
        rec = float(torch.cat([(ae.decode(ae.encode(held_out[i:i + 8])) - held_out[i:i + 8]).abs()
                               for i in range(0, 16, 8)]).mean() / 2)
        basis = prior.fit_basis(images[:1024].double())
        pca = prior.decode_patches(prior.encode_patches(held_out, basis), basis)
        pca_rec = float((pca - held_out).abs().mean() / 2)
    summary.update(latent_channels=ae.latent_channels, widths=list(ae.widths), sigma=ae.sigma, filters=ae.filters,
                   stride=ae.stride,
                   half_extent=args.half_extent, latent_scale=scale,
                   reconstruction_l1=rec, pca_reconstruction_l1=pca_rec,
                   equivariance=equivariance_error(ae.encode, held_out, stride=ae.stride),
                   pca_equivariance=equivariance_error(lambda x: prior.encode_patches(x, basis), held_out))
    save(ae, args.out)
    with open(os.path.join(args.out, "autoencoder.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}, indent=1))


if __name__ == "__main__":
    main()
