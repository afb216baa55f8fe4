"""The example picture the workflows load (a red disc and a blue bar on a soft gradient)
and the drags they apply to it."""
import numpy as np
from PIL import Image

SIZE = 128  # small: the workflows run at their default settings in CI on a CPU
# The checkpoint name the example workflows load ("your SD1.5 checkpoint"); the test server
# provides a random-weight stand-in under it.
CHECKPOINT = "v1-5-pruned-emaonly.safetensors"


def example_scene() -> Image.Image:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    img = np.stack([0.85 - 0.2 * y / SIZE, 0.88 - 0.1 * x / SIZE, 0.75 + 0.15 * y / SIZE], axis=-1)
    disc = (x - 40) ** 2 + (y - 48) ** 2 <= 15 ** 2
    img[disc] = (0.85, 0.15, 0.12)
    bar = (x >= 75) & (x <= 115) & (y >= 85) & (y <= 95)
    img[bar] = (0.15, 0.25, 0.8)
    return Image.fromarray((img * 255).round().astype(np.uint8))


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
