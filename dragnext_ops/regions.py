"""Rasterise drawn region shapes to pixel masks, by the exact rules of docs/spec-format.md.

The canvas editor (web/geometry.js) implements the same formulas in the same order, so a
spec gives the same pixels on both sides.
"""
import math

import numpy as np

TOOLS = ("brush", "rect", "polygon")
MODES = ("add", "erase")


def _centres(rows: slice, cols: slice):
    """The pixel centres (x, y) of a window of the grid."""
    py, px = np.mgrid[rows, cols].astype(np.float64)
    return px + 0.5, py + 0.5


def _rect(points, px, py):
    (ax, ay), (bx, by) = points
    return (min(ax, bx) <= px) & (px <= max(ax, bx)) & (min(ay, by) <= py) & (py <= max(ay, by))


def _edge_flips(a, b, px, py):
    """Where edge a-b flips the even-odd test: the rows it spans, left of its crossing."""
    (ax, ay), (bx, by) = a, b
    crosses = (ay > py) != (by > py)
    x_at = (bx - ax) * (py - ay) / (by - ay) + ax
    return crosses & (px < x_at)


def polygon_inside(points, px, py):
    inside = np.zeros(px.shape, dtype=bool)
    n = len(points)
    for k in range(n):
        a, b = points[k], points[(k + 1) % n]
        if a[1] == b[1]:
            continue  # a horizontal edge never satisfies (a.y > p.y) != (b.y > p.y)
        inside ^= _edge_flips(a, b, px, py)
    return inside


def _segments(points):
    return list(zip(points, points[1:])) or [(points[0], points[0])]


def _segment_hit(a, b, r2, px, py):
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 > 0:
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / length2, 0.0, 1.0)
    else:
        t = np.zeros_like(px)
    ex = ax + t * dx - px
    ey = ay + t * dy - py
    return ex * ex + ey * ey <= r2


def brush_inside(points, radius, px, py):
    inside = np.zeros(px.shape, dtype=bool)
    for a, b in _segments(points):
        inside |= _segment_hit(a, b, radius * radius, px, py)
    return inside


def _span(lo: float, hi: float, size: int) -> slice:
    """Pixels whose centres (i + 0.5) may lie in [lo, hi], a pixel of margin each side."""
    lo, hi = min(max(lo, -2.0), size + 2.0), min(max(hi, -2.0), size + 2.0)  # finite: a huge radius is a whole side
    start = min(max(math.floor(lo) - 1, 0), size)
    return slice(start, min(max(math.ceil(hi) + 1, start), size))


def _brush_on_grid(points, radius, mask_hit):
    """brush_inside on the pixel grid, each segment tested only within its bounding box
    grown by the radius (no pixel further can be within it): the same arithmetic on the
    pixels it can reach, so the same mask, at a cost that follows the stroke, not the image."""
    height, width = mask_hit.shape
    for a, b in _segments(points):
        rows = _span(min(a[1], b[1]) - radius, max(a[1], b[1]) + radius, height)
        cols = _span(min(a[0], b[0]) - radius, max(a[0], b[0]) + radius, width)
        mask_hit[rows, cols] |= _segment_hit(a, b, radius * radius, *_centres(rows, cols))


def _polygon_on_grid(points, mask_hit):
    """polygon_inside on the pixel grid, each edge tested only on the rows it spans."""
    height, width = mask_hit.shape
    n = len(points)
    for k in range(n):
        a, b = points[k], points[(k + 1) % n]
        if a[1] == b[1]:
            continue
        rows = _span(min(a[1], b[1]), max(a[1], b[1]), height)
        mask_hit[rows] ^= _edge_flips(a, b, *_centres(rows, slice(0, width)))


def _rect_on_grid(points, mask_hit):
    (ax, ay), (bx, by) = points
    rows = _span(min(ay, by), max(ay, by), mask_hit.shape[0])
    cols = _span(min(ax, bx), max(ax, bx), mask_hit.shape[1])
    mask_hit[rows, cols] = _rect(points, *_centres(rows, cols))


def rasterise(shapes, height: int, width: int) -> np.ndarray:
    """Paint validated shapes in order onto an all-clear (height, width) bool mask."""
    mask = np.zeros((height, width), dtype=bool)
    for shape in shapes:
        tool, points = shape["tool"], shape["points"]
        hit = np.zeros((height, width), dtype=bool)
        if tool == "rect":
            _rect_on_grid(points, hit)
        elif tool == "polygon":
            _polygon_on_grid(points, hit)
        else:
            _brush_on_grid(points, shape["radius"], hit)
        if shape["mode"] == "add":
            mask |= hit
        else:
            mask &= ~hit
    return mask
