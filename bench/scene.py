"""The edit being benchmarked: one image-sized latent and one translate drag with an
editable mask (so both loss terms, and every planned pass, run), scaled to the resolution."""
import json

import torch

LATENT_SCALE = 8


def drag_spec(size: int) -> str:
    s = size / 256  # the drag is laid out for 256 px
    p = lambda *xy: [round(v * s) for v in xy]  # noqa: E731
    return json.dumps({
        "version": 1,
        "operations": [{"type": "translate", "handle": p(96, 128), "target": p(160, 128),
                        "region": [{"tool": "rect", "mode": "add", "points": [p(72, 104), p(120, 152)]}]}],
        "editable": [{"tool": "rect", "mode": "add", "points": [p(48, 64), p(208, 192)]}],
    })


def inputs(size: int, seed: int = 0):
    """(image, latent dict) as VAE Encode would hand them over."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, size, size, 3, generator=g)
    latent = torch.randn(1, 4, size // LATENT_SCALE, size // LATENT_SCALE, generator=g)
    return image, {"samples": latent}
