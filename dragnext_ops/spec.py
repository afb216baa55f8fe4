"""Parse and validate drag specs (docs/spec-format.md) into pixel masks.

Every error is a ValueError whose message starts with the offending field, e.g.
`operations[1].center: ...`, so the node can show the user exactly what to fix.
"""
import json
import math
from dataclasses import dataclass

import numpy as np

from .geometry import grid_region, to_cell
from .regions import MODES, TOOLS, rasterise

SPEC_VERSION = 1
OPERATION_POINTS = {"translate": ("handle", "target"), "rotate": ("handle", "target", "center")}


@dataclass
class DragOperation:
    kind: str
    handle: tuple            # image pixels (x, y)
    target: tuple
    center: tuple | None
    region: np.ndarray       # (H, W) bool


@dataclass
class DragSpec:
    height: int
    width: int
    operations: list
    editable: np.ndarray | None   # (H, W) bool; None: everything may change


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def _point(value, field):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{field}: expected a point [x, y], got {json.dumps(value)}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{field}: coordinates must be numbers, got {json.dumps(value)}")
        if not _finite(v):
            raise ValueError(f"{field}: coordinates must be finite numbers a float can hold, got {value}")
    return float(value[0]), float(value[1])


def _shapes(value, field):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list of shapes")
    shapes = []
    for i, shape in enumerate(value):
        f = f"{field}[{i}]"
        if not isinstance(shape, dict):
            raise ValueError(f"{f}: expected an object with tool, mode and points")
        tool, mode = shape.get("tool"), shape.get("mode", "add")
        if tool not in TOOLS:
            raise ValueError(f"{f}.tool: unknown tool {json.dumps(tool)}, expected one of {list(TOOLS)}")
        if mode not in MODES:
            raise ValueError(f"{f}.mode: unknown mode {json.dumps(mode)}, expected one of {list(MODES)}")
        points = shape.get("points")
        if not isinstance(points, list):
            raise ValueError(f"{f}.points: expected a list of [x, y] points")
        points = [_point(p, f"{f}.points[{j}]") for j, p in enumerate(points)]
        need = {"rect": 2, "polygon": 3, "brush": 1}[tool]
        if len(points) < need or (tool == "rect" and len(points) != 2):
            raise ValueError(f"{f}.points: a {tool} needs {'exactly' if tool == 'rect' else 'at least'} {need} points, got {len(points)}")
        parsed = {"tool": tool, "mode": mode, "points": points}
        if tool == "brush":
            radius = shape.get("radius")
            if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not _finite(radius) or radius <= 0:
                raise ValueError(f"{f}.radius: a brush needs a positive radius, got {json.dumps(radius)}")
            parsed["radius"] = float(radius)
        shapes.append(parsed)
    return shapes


def parse_spec(text: str) -> dict:
    """Check the JSON's structure (no image needed); returns the normalised spec."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"spec: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("spec: expected a JSON object with version and operations")
    if data.get("version") != SPEC_VERSION:
        raise ValueError(f"version: expected {SPEC_VERSION}, got {json.dumps(data.get('version'))}")
    ops = data.get("operations")
    if not isinstance(ops, list) or not ops:
        raise ValueError("operations: expected a non-empty list of drag operations")
    parsed_ops = []
    for i, op in enumerate(ops):
        f = f"operations[{i}]"
        if not isinstance(op, dict):
            raise ValueError(f"{f}: expected an object")
        kind = op.get("type")
        if kind not in OPERATION_POINTS:
            raise ValueError(f"{f}.type: unknown operation {json.dumps(kind)}, expected one of {list(OPERATION_POINTS)}")
        parsed = {"type": kind, "region": _shapes(op.get("region"), f"{f}.region")}
        for name in OPERATION_POINTS[kind]:
            if name not in op:
                raise ValueError(f"{f}.{name}: missing; a {kind} needs {', '.join(OPERATION_POINTS[kind])}")
            parsed[name] = _point(op[name], f"{f}.{name}")
        if parsed["handle"] == parsed["target"]:
            raise ValueError(f"{f}.target: equals the handle; a drag needs a non-zero length")
        if kind == "translate" and to_cell(parsed["handle"]) == to_cell(parsed["target"]):
            raise ValueError(f"{f}.target: lies in the handle's feature cell (a cell is 2 px), so the drag would "
                             "move nothing; drag further")
        if kind == "rotate":
            for name in ("handle", "target"):
                if parsed["center"] == parsed[name]:
                    raise ValueError(f"{f}.center: lies on the {name}; the rotation angle is undefined")
        parsed_ops.append(parsed)
    return {"version": SPEC_VERSION, "operations": parsed_ops,
            "editable": _shapes(data.get("editable"), "editable")}


def _inside(point, height, width):
    return 0 <= point[0] < width and 0 <= point[1] < height


def _mask_from_input(masks, index, field, height, width):
    mask = np.asarray(masks[index], dtype=np.float32)
    if mask.shape != (height, width):
        raise ValueError(f"{field}: mask is {mask.shape[1]}x{mask.shape[0]}, the image is {width}x{height}; resize it to match")
    if not np.isfinite(mask).all():
        raise ValueError(f"{field}: mask holds NaN or infinite values")
    return mask > 0.5


def build_spec(parsed: dict, height: int, width: int, region_masks=None, editable_mask=None) -> DragSpec:
    """Rasterise a parsed spec for an image of height x width; checks it against the image.

    region_masks: optional (N, H, W) array, one mask per operation, replacing drawn regions.
    editable_mask: optional (1, H, W) or (H, W) array replacing the drawn editable region.
    """
    ops = parsed["operations"]
    if region_masks is not None and len(region_masks) != len(ops):
        raise ValueError(f"region_masks: got {len(region_masks)} masks for {len(ops)} operations; give one per operation, in order")
    operations = []
    for i, op in enumerate(ops):
        f = f"operations[{i}]"
        for name in OPERATION_POINTS[op["type"]]:
            if not _inside(op[name], height, width):
                raise ValueError(f"{f}.{name}: {list(op[name])} lies outside the {width}x{height} image")
        if region_masks is not None:
            region = _mask_from_input(region_masks, i, f"region_masks[{i}]", height, width)
        else:
            region = rasterise(op["region"], height, width)
        source = f"region_masks[{i}]" if region_masks is not None else f"{f}.region"
        if not region.any():
            raise ValueError(f"{source}: the handle region is empty; draw the area to move")
        if not grid_region(region).any():
            raise ValueError(f"{source}: the handle region covers no cell of the feature grid, which PBSI reads at "
                             "every second pixel (even rows and columns); draw it at least 2 px wide and tall")
        hx, hy = op["handle"]
        if not region[int(hy), int(hx)]:
            raise ValueError(f"{f}.handle: {list(op['handle'])} lies outside its own region; put it on the area to move")
        operations.append(DragOperation(op["type"], op["handle"], op["target"], op.get("center"), region))
    editable = None
    if editable_mask is not None:
        m = np.asarray(editable_mask)
        editable = _mask_from_input(m.reshape((-1,) + m.shape[-2:]), 0, "editable_mask", height, width)
    elif parsed["editable"]:
        editable = rasterise(parsed["editable"], height, width)
    if editable is not None and not editable.any():
        raise ValueError("editable: the editable mask is empty, so nothing could change; draw where the image may change or clear it")
    return DragSpec(height, width, operations, editable)
