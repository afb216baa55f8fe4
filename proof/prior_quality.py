"""How good is the toy prior as a denoiser? Per noise level, the error of its clean-image
prediction on held-out scenes (in pixels, so priors on differently scaled latents compare),
and a sheet of unconditional DDIM samples.

    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.prior_quality [--prior DIR] [--out out/prior_samples.png]

The levels that matter to DragNeXt are t = 741..641 (PBSI at strength 0.75, 50 steps): a
prior whose x0 error there is near the images' variance cannot turn latent edits into objects.
"""
import argparse

from proof.pack import host_on_cpu

host_on_cpu()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from dragnext_ops.ddim import alphas_from_sigmas, ddim_step, make_schedule  # noqa: E402
from dragnext_ops.trajectory import denoise  # noqa: E402
from proof import prior, scenes  # noqa: E402
from proof.train_prior import scene_images, to_pixels  # noqa: E402

LEVELS = (1, 50, 200, 400, 600, 750, 900, 981)


def x0_errors(net, alphas, context, pixels: torch.Tensor, encode, decode, seed: int = 1) -> dict:
    """t -> mean squared error of the predicted clean image ([0, 1] units, decoded from the
    predicted clean latent), one noise draw per image of (B, 3, H, W) pixels in [-1, 1];
    encode / decode map such pixels to the model's (scaled) latent and back."""
    g = torch.Generator().manual_seed(seed)
    x0 = encode(pixels)
    out = {}
    for t in LEVELS:
        a = alphas[t]
        eps = torch.randn(x0.shape, generator=g)
        zt = ddim_step(x0, eps, 1.0, a)
        pred = net(zt, timesteps=torch.full((len(x0),), float(t)), context=context.expand(len(x0), -1, -1))
        decoded = decode(ddim_step(zt, pred, a, 1.0))
        out[t] = float(((decoded - pixels) / 2).pow(2).mean())
    return out


def host_codec(model, vae):
    """(encode, decode) between [-1, 1] (B, 3, H, W) pixels and the model's latent, through
    the prior's VAE (the host's class: the patch latent or the autoencoder) and latent format."""
    def encode(pixels):
        return model.process_latent_in(vae.encode(((pixels + 1) / 2).movedim(1, -1)).float())

    def decode(z):
        return vae.decode(model.process_latent_out(z)).movedim(-1, 1).float() * 2 - 1

    return encode, decode


def ddim_samples(net, alphas, context, n: int, shape, steps: int = 50, seed: int = 0) -> torch.Tensor:
    """Plain DDIM from noise over the reference's schedule (981, 961, ..., 1)."""
    schedule = make_schedule(alphas, steps, 1.0)

    def eps(z, t):
        return net(z, timesteps=torch.full((n,), float(t)), context=context.expand(n, -1, -1)), []

    z = torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))
    return denoise(eps, z, schedule, schedule.timesteps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prior", default=prior.DEFAULT_DIR)
    ap.add_argument("--out", default="out/prior_samples.png")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    patcher, vae, cond = prior.load_prior(args.prior)
    model = patcher.model
    encode, decode = host_codec(model, vae)
    alphas = alphas_from_sigmas(model.model_sampling.sigmas)
    config = prior.load_config(args.prior)
    size = int(config["image_size"])
    pixels = to_pixels(scene_images(16, 0, size, scenes.World.of(config)))  # evaluation seeds, the prior's world
    with torch.no_grad():
        errors = x0_errors(model.diffusion_model, alphas, cond[0][0], pixels, encode, decode)
        stride = prior.latent_stride(config)
        latent_shape = (prior.LATENT_CHANNELS, size // stride, size // stride)
        samples = ddim_samples(model.diffusion_model, alphas, cond[0][0], 8, latent_shape)
    print(f"image variance {float((pixels / 2).var()):.4f}; clean-image MSE by timestep: "
          + ", ".join(f"t={t}: {e:.4f}" for t, e in errors.items()))
    with torch.no_grad():
        sheet = ((decode(samples) + 1) / 2).clamp(0, 1).movedim(1, -1).numpy()
    Image.fromarray((np.concatenate(list(sheet), axis=1) * 255).round().astype(np.uint8)).save(args.out)
    print(f"wrote {args.out} (8 unconditional DDIM samples, 50 steps)")


if __name__ == "__main__":
    main()
