"""Seeded object shapes (discs, rectangles, triangles, stars, letters) and colours."""
import colorsys
import math

import numpy as np

from proof import shapes

KINDS = ("disc", "rect", "triangle", "star", "letter")

# Letters as strokes in a unit box (x right, y down); asymmetric ones show rotation.
LETTERS = {
    "L": [[(0.2, 0.0), (0.2, 1.0), (0.85, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "F": [[(0.85, 0.0), (0.2, 0.0), (0.2, 1.0)], [(0.2, 0.5), (0.7, 0.5)]],
    "E": [[(0.85, 0.0), (0.2, 0.0), (0.2, 1.0), (0.85, 1.0)], [(0.2, 0.5), (0.7, 0.5)]],
    "Z": [[(0.1, 0.0), (0.9, 0.0), (0.1, 1.0), (0.9, 1.0)]],
    "P": [[(0.2, 1.0), (0.2, 0.0), (0.8, 0.0), (0.8, 0.5), (0.2, 0.5)]],
}


def saturated_colour(rng: np.random.Generator) -> np.ndarray:
    h, s, v = rng.uniform(0, 1), rng.uniform(0.75, 1.0), rng.uniform(0.75, 1.0)
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float64)


def _rotated(points, center, angle):
    xs, ys = shapes.apply_map(shapes.rotate_map(center, angle), *zip(*points))
    return list(zip(xs.tolist(), ys.tolist()))


def make_shape(rng: np.random.Generator, kind: str, center, size: float, upright: bool = False) -> dict:
    """A shape of `kind` about `center`, `size` its half extent in pixels. `upright` keeps
    rectangles axis-aligned and letters unrotated (deformations stretch along an axis)."""
    if size < 3:
        raise ValueError("object size must be at least 3 pixels")
    cx, cy = float(center[0]), float(center[1])
    spin = 0.0 if upright else rng.uniform(-0.5, 0.5)
    if kind == "disc":
        return {"kind": "disc", "center": (cx, cy), "radius": float(size)}
    if kind == "rect":
        w, h = size, size * rng.uniform(0.55, 1.0)
        if rng.uniform() < 0.5:
            w, h = h, w
        pts = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h)]
        return {"kind": "polygon", "points": _rotated(pts, (cx, cy), spin)}
    if kind == "triangle":
        base = rng.uniform(0, 2 * np.pi)
        pts = [(cx + size * math.cos(base + k * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3)),
                cy + size * math.sin(base + k * 2 * np.pi / 3 + rng.uniform(-0.3, 0.3))) for k in range(3)]
        return {"kind": "polygon", "points": pts}
    if kind == "star":
        base = rng.uniform(0, 2 * np.pi)
        pts = []
        for k in range(10):
            r = size if k % 2 == 0 else size * 0.45
            a = base + k * np.pi / 5
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        return {"kind": "polygon", "points": pts}
    if kind == "letter":
        name = sorted(LETTERS)[rng.integers(len(LETTERS))]
        lines = [[(cx + (x - 0.5) * 1.6 * size, cy + (y - 0.5) * 2 * size) for x, y in line]
                 for line in LETTERS[name]]
        lines = [_rotated(line, (cx, cy), spin) for line in lines]
        return {"kind": "strokes", "polylines": lines, "radius": max(1.5, 0.16 * size), "letter": name}
    raise ValueError(f"unknown object kind {kind!r}")


def shape_center(shape: dict):
    """The centre the shape was built about (the mean of a polygon's vertices)."""
    if shape["kind"] == "disc":
        return shape["center"]
    if shape["kind"] == "polygon":
        pts = np.asarray(shape["points"])
        return float(pts[:, 0].mean()), float(pts[:, 1].mean())
    pts = np.concatenate([np.asarray(l) for l in shape["polylines"]])
    return float((pts[:, 0].min() + pts[:, 0].max()) / 2), float((pts[:, 1].min() + pts[:, 1].max()) / 2)


def spec_region(shape: dict) -> list:
    """The shape in the spec's region tools; rasterising it gives the object's pixels."""
    if shape["kind"] == "disc":
        return [{"tool": "brush", "mode": "add", "radius": shape["radius"], "points": [list(shape["center"])]}]
    if shape["kind"] == "polygon":
        return [{"tool": "polygon", "mode": "add", "points": [list(p) for p in shape["points"]]}]
    if shape["kind"] == "strokes":
        return [{"tool": "brush", "mode": "add", "radius": shape["radius"], "points": [list(p) for p in line]}
                for line in shape["polylines"]]
    raise ValueError(f"unknown shape kind {shape['kind']!r}")
