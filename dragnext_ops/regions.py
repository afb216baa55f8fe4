"""Rasterise drawn region shapes to pixel masks, by the exact rules of docs/spec-format.md.

The canvas editor (web/geometry.js) implements the same formulas in the same order, so a
spec gives the same pixels on both sides.
"""
import numpy as np

TOOLS = ("brush", "rect", "polygon")
MODES = ("add", "erase")


def _pixel_centres(height: int, width: int):
    py, px = np.mgrid[0:height, 0:width].astype(np.float64)
    return px + 0.5, py + 0.5


def _rect(points, px, py):
    (ax, ay), (bx, by) = points
    return (min(ax, bx) <= px) & (px <= max(ax, bx)) & (min(ay, by) <= py) & (py <= max(ay, by))


def polygon_inside(points, px, py):
    inside = np.zeros(px.shape, dtype=bool)
    n = len(points)
    for k in range(n):
        ax, ay = points[k]
        bx, by = points[(k + 1) % n]
        if ay == by:
            continue  # a horizontal edge never satisfies (a.y > p.y) != (b.y > p.y)
        crosses = (ay > py) != (by > py)
        x_at = (bx - ax) * (py - ay) / (by - ay) + ax
        inside ^= crosses & (px < x_at)
    return inside


def brush_inside(points, radius, px, py):
    inside = np.zeros(px.shape, dtype=bool)
    segments = list(zip(points, points[1:])) or [(points[0], points[0])]
    r2 = radius * radius
    for (ax, ay), (bx, by) in segments:
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        if length2 > 0:
            t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
        else:
            t = np.zeros_like(px)
        ex = ax + t * dx - px
        ey = ay + t * dy - py
        inside |= ex * ex + ey * ey <= r2
    return inside


def rasterise(shapes, height: int, width: int) -> np.ndarray:
    """Paint validated shapes in order onto an all-clear (height, width) bool mask."""
    px, py = _pixel_centres(height, width)
    mask = np.zeros((height, width), dtype=bool)
    for shape in shapes:
        tool, points = shape["tool"], shape["points"]
        if tool == "rect":
            hit = _rect(points, px, py)
        elif tool == "polygon":
            hit = polygon_inside(points, px, py)
        else:
            hit = brush_inside(points, shape["radius"], px, py)
        if shape["mode"] == "add":
            mask |= hit
        else:
            mask &= ~hit
    return mask
