"""The example picture the workflows load (a red disc and a blue bar on a soft gradient)
and the drags they apply to it."""
import numpy as np
from PIL import Image

SIZE = 128  # small: the workflows run at their default settings in CI on a CPU
# The checkpoint name the example workflows load ("your SD1.5 checkpoint"); the test server
# provides a random-weight stand-in under it.
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
# The SDXL examples: the same scene and drags at SDXL's native size, on the SDXL base
# checkpoint's released name (the host's own SDXL templates load it under this name).
SDXL_SIZE = 1024
SDXL_CHECKPOINT = "sd_xl_base_1.0.safetensors"


def example_scene(size: int = SIZE) -> Image.Image:
    """The scene drawn at size x size; its shapes are laid out on the 128 px grid and scaled.
    Coordinates are continuous (pixel i covers [i, i+1)), as in the drag spec."""
    s = size / SIZE
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    img = np.stack([0.85 - 0.2 * y / size, 0.88 - 0.1 * x / size, 0.75 + 0.15 * y / size], axis=-1)
    disc = (x - 40 * s) ** 2 + (y - 48 * s) ** 2 <= (15 * s) ** 2
    img[disc] = (0.85, 0.15, 0.12)
    bar = (x >= 75 * s) & (x <= 115 * s) & (y >= 85 * s) & (y <= 95 * s)
    img[bar] = (0.15, 0.25, 0.8)
    return Image.fromarray((img * 255).round().astype(np.uint8))


def _scaled_points(points, factor: int) -> list:
    return [[v * factor for v in point] for point in points]


def _scaled_shape(shape: dict, factor: int) -> dict:
    scaled = {**shape, "points": _scaled_points(shape["points"], factor)}
    if "radius" in shape:
        scaled["radius"] = shape["radius"] * factor
    return scaled


def scaled_spec(spec: dict, factor: int) -> dict:
    """The same drags on the scene drawn `factor` times larger: every point and brush radius
    scaled (a uniform scale keeps rotation angles and which pixels lie inside regions)."""
    operations = []
    for op in spec["operations"]:
        scaled = {**op, "region": [_scaled_shape(s, factor) for s in op["region"]]}
        for name in ("handle", "target", "center"):
            if name in op:
                scaled[name] = _scaled_points([op[name]], factor)[0]
        operations.append(scaled)
    scaled = {**spec, "operations": operations}
    if "editable" in spec:
        scaled["editable"] = [_scaled_shape(s, factor) for s in spec["editable"]]
    return scaled


# Move the disc to the right.
TRANSLATE = {
    "version": 1,
    "operations": [{"type": "translate", "handle": [40, 48], "target": [88, 48],
                    "region": [{"tool": "brush", "mode": "add", "radius": 17, "points": [[40, 48]]}]}],
    "editable": [{"tool": "rect", "mode": "add", "points": [[20, 28], [108, 68]]}],
}
# Swing the bar up by 45 degrees about its left end.
ROTATE = {
    "version": 1,
    "operations": [{"type": "rotate", "handle": [112, 90], "target": [101, 63], "center": [75, 90],
                    "region": [{"tool": "rect", "mode": "add", "points": [[73, 83], [117, 97]]}]}],
    "editable": [{"tool": "rect", "mode": "add", "points": [[55, 45], [123, 103]]}],
}
SDXL_TRANSLATE = scaled_spec(TRANSLATE, SDXL_SIZE // SIZE)
SDXL_ROTATE = scaled_spec(ROTATE, SDXL_SIZE // SIZE)
