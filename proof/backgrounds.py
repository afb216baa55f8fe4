"""Seeded scene backgrounds: muted linear or radial gradients, optionally with a faint
texture, or one flat muted colour (a plainer world's), kept far in colour from the saturated
objects so colour segmentation is exact."""
import colorsys

import numpy as np

KINDS = ("linear", "radial", "texture")  # the default world (scenes.World()) draws among these
ALL_KINDS = KINDS + ("flat",)


def muted_colour(rng: np.random.Generator) -> np.ndarray:
    h, s, v = rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.35, 0.8)
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float64)


def background(rng: np.random.Generator, height: int, width: int, kind: str | None = None,
               kinds=KINDS) -> np.ndarray:
    """An (height, width, 3) float64 image in [0, 1]: `kind`, or one drawn from `kinds`."""
    if height < 8 or width < 8:
        raise ValueError("background needs at least 8x8 pixels")
    kind = kind or kinds[rng.integers(len(kinds))]
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {ALL_KINDS}")
    c0, c1 = muted_colour(rng), muted_colour(rng)
    if kind == "flat":
        return np.broadcast_to(c0, (height, width, 3)).copy()
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    y, x = (y + 0.5) / height, (x + 0.5) / width
    if kind == "radial":
        cx, cy = rng.uniform(0.2, 0.8, size=2)
        t = np.clip(np.hypot(x - cx, y - cy) / 0.9, 0, 1)
    else:
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * (x - 0.5) + np.sin(a) * (y - 0.5)) / 1.42 + 0.5
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    if kind == "texture":
        # faint oriented stripes: texture the prior has to keep, but never near objects' colours
        b = rng.uniform(0, np.pi)
        freq = rng.uniform(5, 10)
        stripes = np.sin(2 * np.pi * freq * (np.cos(b) * x + np.sin(b) * y))
        img = img + 0.05 * stripes[..., None]
    return np.clip(img, 0, 1)
