"""A contact sheet: per scene, the original with its drags, the ground truth, then every
method's result, labelled, upscaled 2x."""
import cv2
import numpy as np

SCALE = 2


def _draw_ops(image: np.ndarray, scene) -> np.ndarray:
    img = np.ascontiguousarray(image)
    for op in scene.operations:
        h = tuple(int(round(v * SCALE)) for v in op["handle"])
        t = tuple(int(round(v * SCALE)) for v in op["target"])
        cv2.arrowedLine(img, h, t, (1.0, 1.0, 1.0), 2, tipLength=0.25)
        cv2.circle(img, h, 3, (1.0, 0.1, 0.1), -1)
        cv2.circle(img, t, 3, (0.1, 0.3, 1.0), -1)
    return img


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((18, tile.shape[1], 3), 255, np.uint8)  # OpenCV draws text on 8-bit images only
    # about 50 characters fit a tile: every method name is drawn whole
    cv2.putText(bar, text, (2, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar.astype(np.float32) / 255, tile], 0)


def contact_sheet(entries, method_names, path: str):
    """entries: [(scene, {method: image})]; writes a PNG at `path`."""
    if not entries:
        raise ValueError("contact sheet needs at least one scene")
    rows = []
    for scene, outputs in entries:
        up = lambda a: cv2.resize(np.asarray(a, np.float32), None, fx=SCALE, fy=SCALE,
                                  interpolation=cv2.INTER_NEAREST)
        tiles = [_label(_draw_ops(up(scene.image), scene), f"{scene.meta['op_type']} seed {scene.meta['seed']}"),
                 _label(up(scene.edited), "ground truth")]
        tiles += [_label(up(outputs[m]), m) for m in method_names]
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=1) for t in tiles], 1))
    sheet = np.concatenate(rows, 0)
    cv2.imwrite(path, (np.clip(sheet, 0, 1)[..., ::-1] * 255).round().astype(np.uint8))
