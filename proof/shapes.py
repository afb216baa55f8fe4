"""Analytic 2D shapes and the maps that move them, rendered by supersampled coverage.

A shape is a dict in image-pixel coordinates (x right, y down, pixel (i, j) spans
[i, i+1) x [j, j+1)), with the same geometry the spec's region tools use:
- {"kind": "disc", "center": (x, y), "radius": r}          (a spec brush with one point)
- {"kind": "polygon", "points": [(x, y), ...]}              (a spec polygon, even-odd)
- {"kind": "strokes", "polylines": [[(x, y), ...], ...], "radius": r}  (spec brushes)

Objects are rendered through the inverse of a map, so translated, rotated and stretched
poses are all exact renders of the moved shape, never resamplings of an image.
"""
import math

import numpy as np

from dragnext_ops.regions import brush_inside, polygon_inside

SUPERSAMPLE = 4


def inside(shape: dict, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Boolean inside-test of a shape at arbitrary float coordinates (the spec's own tests)."""
    kind = shape.get("kind")
    if kind == "disc":
        return brush_inside([shape["center"]], shape["radius"], px, py)
    if kind == "polygon":
        if len(shape["points"]) < 3:
            raise ValueError("polygon needs three or more points")
        return polygon_inside(shape["points"], px, py)
    if kind == "strokes":
        hit = np.zeros(px.shape, dtype=bool)
        for line in shape["polylines"]:
            hit |= brush_inside(line, shape["radius"], px, py)
        return hit
    raise ValueError(f"unknown shape kind {kind!r}")


# --- maps: each is a dict with a forward map (shape coords -> image) and its inverse ---

def identity_map() -> dict:
    return {"type": "identity"}


def translate_map(dx: float, dy: float) -> dict:
    return {"type": "translate", "offset": (float(dx), float(dy))}


def rotate_map(center, angle_rad: float) -> dict:
    """Rotation about `center` by `angle_rad` in image coordinates (y down): the ray
    c->p turns by +angle as atan2(cross, dot) measures it in those coordinates."""
    return {"type": "rotate", "center": (float(center[0]), float(center[1])), "angle": float(angle_rad)}


def stretch_map(direction, s_anchor: float, s_edge: float, distance: float) -> dict:
    """Piecewise-linear stretch along unit `direction` (s = p . direction):
    s <= s_anchor is fixed, s >= s_edge translates rigidly by `distance` (the dragged
    edge region), and [s_anchor, s_edge] stretches linearly between them."""
    ux, uy = direction
    n = math.hypot(ux, uy)
    if n == 0 or not s_anchor < s_edge or distance <= -(s_edge - s_anchor):
        raise ValueError("stretch needs a direction, s_anchor < s_edge and a non-folding distance")
    return {"type": "stretch", "direction": (ux / n, uy / n), "s_anchor": float(s_anchor),
            "s_edge": float(s_edge), "distance": float(distance)}


def apply_map(m: dict, px, py, inverse: bool = False):
    """Map coordinates forward (shape -> image) or backward (image -> shape)."""
    px = np.asarray(px, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    t = m["type"]
    if t == "identity":
        return px, py
    if t == "translate":
        dx, dy = m["offset"]
        s = -1.0 if inverse else 1.0
        return px + s * dx, py + s * dy
    if t == "rotate":
        cx, cy = m["center"]
        a = -m["angle"] if inverse else m["angle"]
        c, s = math.cos(a), math.sin(a)
        rx, ry = px - cx, py - cy
        return cx + c * rx - s * ry, cy + s * rx + c * ry
    if t == "stretch":
        ux, uy = m["direction"]
        a, e, d = m["s_anchor"], m["s_edge"], m["distance"]
        s = px * ux + py * uy
        if not inverse:
            s2 = np.where(s <= a, s, np.where(s >= e, s + d, a + (s - a) * (e + d - a) / (e - a)))
        else:
            s2 = np.where(s <= a, s, np.where(s >= e + d, s - d, a + (s - a) * (e - a) / (e + d - a)))
        return px + (s2 - s) * ux, py + (s2 - s) * uy
    raise ValueError(f"unknown map type {t!r}")


def coverage(shape: dict, height: int, width: int, m: dict | None = None) -> np.ndarray:
    """Fraction of each pixel covered by the mapped shape, from SUPERSAMPLE^2 samples."""
    m = m or identity_map()
    n = SUPERSAMPLE
    offs = (np.arange(n) + 0.5) / n
    ys, xs = np.arange(height)[:, None] + offs[None, :], np.arange(width)[:, None] + offs[None, :]
    sy = np.broadcast_to(ys.reshape(height, 1, n, 1), (height, width, n, n))
    sx = np.broadcast_to(xs.reshape(1, width, 1, n), (height, width, n, n))
    qx, qy = apply_map(m, sx, sy, inverse=True)
    return inside(shape, qx, qy).mean(axis=(2, 3))


def mapped_bbox(shape: dict, m: dict | None, samples: int = 64):
    """A conservative bounding box (x0, y0, x1, y1) of the mapped shape."""
    m = m or identity_map()
    kind = shape["kind"]
    if kind == "disc":  # sample the circle so rotations stay tight
        (cx, cy), r = shape["center"], shape["radius"]
        th = np.linspace(0, 2 * np.pi, samples, endpoint=False)
        pts = np.stack([cx + r * np.cos(th), cy + r * np.sin(th)], 1)
    elif kind == "polygon":
        pts = np.asarray(shape["points"], dtype=np.float64)
    elif kind == "strokes":
        r = shape["radius"]
        base = np.concatenate([np.asarray(l, dtype=np.float64) for l in shape["polylines"]])
        pts = np.concatenate([base + [dx, dy] for dx in (-r, r) for dy in (-r, r)])
    else:
        raise ValueError(f"unknown shape kind {kind!r}")
    qx, qy = apply_map(m, pts[:, 0], pts[:, 1])
    return float(qx.min()), float(qy.min()), float(qx.max()), float(qy.max())
