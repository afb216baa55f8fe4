"""Drag-editing metrics on (H, W, 3) float images in [0, 1] (numpy or torch, no host).

- `dai`: GoodDrag's Dragging Accuracy Index: for each handle/target pair, the mean squared
  RGB difference (over the patch's pixels and channels) between the original patch
  around the handle and the edited patch around the target; averaged over pairs once.
- `colour_mask` + `iou`: an object segmented by its known colour, against its
  ground-truth pose segmented the same way.
- `psnr_outside` / `ssim_outside`: preservation outside the editable mask.
- `region_l1`: mean absolute error inside a region (edited handle and target regions
  against the ground truth).
The paper's region LPIPS family lives in `region_lpips.py` (it needs backbone weights).
"""
import math

import numpy as np


def _image(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name}: expected an (H, W, 3) image, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def _mask(m, shape, name: str) -> np.ndarray:
    if hasattr(m, "detach"):
        m = m.detach().cpu().numpy()
    a = np.asarray(m)
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")
    return a.astype(bool) if a.dtype == bool else a > 0.5


def default_dai_radius(height: int, width: int) -> int:
    """GoodDrag's radius 20 at 512 pixels, scaled to the image's shorter side."""
    return max(1, int(round(20 * min(height, width) / 512)))


def dai(original, edited, handles, targets, radius: int | None = None) -> float:
    """Dragging Accuracy Index (lower: the handle's content arrived at the target).

    Points are (x, y) image pixels; the patch is centred on the pixel containing the point
    and is (2r+1)^2, cropped identically at both points where either meets the border."""
    o, e = _image(original, "original"), _image(edited, "edited")
    if o.shape != e.shape:
        raise ValueError(f"original {o.shape} and edited {e.shape} differ in shape")
    if len(handles) != len(targets) or not handles:
        raise ValueError("dai needs as many targets as handles, at least one")
    h, w = o.shape[:2]
    r = default_dai_radius(h, w) if radius is None else int(radius)
    if r < 0:
        raise ValueError("radius must be >= 0")
    total = 0.0
    for (hx, hy), (tx, ty) in zip(handles, targets):
        hc, hr, tc, tr = int(math.floor(hx)), int(math.floor(hy)), int(math.floor(tx)), int(math.floor(ty))
        if not (0 <= hc < w and 0 <= hr < h and 0 <= tc < w and 0 <= tr < h):
            raise ValueError(f"points ({hx}, {hy}) -> ({tx}, {ty}) lie outside the {w}x{h} image")
        lo_y = max(-r, -hr, -tr)
        hi_y = min(r, h - 1 - hr, h - 1 - tr)
        lo_x = max(-r, -hc, -tc)
        hi_x = min(r, w - 1 - hc, w - 1 - tc)
        po = o[hr + lo_y: hr + hi_y + 1, hc + lo_x: hc + hi_x + 1]
        pe = e[tr + lo_y: tr + hi_y + 1, tc + lo_x: tc + hi_x + 1]
        total += float(np.mean((po - pe) ** 2))
    return total / len(handles)


def colour_mask(image, colour, tolerance: float = 0.2) -> np.ndarray:
    """Pixels within `tolerance` (Euclidean RGB) of `colour`."""
    a = _image(image, "image")
    c = np.asarray(colour, dtype=np.float64).reshape(1, 1, 3)
    if tolerance <= 0:
        raise ValueError("tolerance must be > 0")
    return np.linalg.norm(a - c, axis=-1) < tolerance


def iou(mask_a, mask_b) -> float:
    """Intersection over union of two boolean masks; 1.0 when both are empty."""
    a = np.asarray(mask_a, dtype=bool)
    b = np.asarray(mask_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def object_iou(edited, ground_truth, colour, tolerance: float = 0.2) -> float:
    """IoU of the object's colour segment in the edit and in the ground truth."""
    return iou(colour_mask(edited, colour, tolerance), colour_mask(ground_truth, colour, tolerance))


def psnr_outside(reference, edited, editable_mask) -> float:
    """PSNR (dB, peak 1) over pixels outside the editable mask; inf when identical."""
    a, b = _image(reference, "reference"), _image(edited, "edited")
    if a.shape != b.shape:
        raise ValueError("reference and edited differ in shape")
    keep = ~_mask(editable_mask, a.shape[:2], "editable_mask")
    if not keep.any():
        raise ValueError("editable_mask covers the whole image: nothing outside it to compare")
    mse = float(np.mean((a[keep] - b[keep]) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def _gaussian_filter(x: np.ndarray, sigma: float = 1.5, size: int = 11) -> np.ndarray:
    """Separable Gaussian blur with reflected borders."""
    k = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma * sigma))
    k /= k.sum()
    pad = size // 2
    y = np.pad(x, ((pad, pad), (0, 0)) + ((0, 0),) * (x.ndim - 2), mode="reflect")
    y = sum(k[i] * y[i: i + x.shape[0]] for i in range(size))
    y = np.pad(y, ((0, 0), (pad, pad)) + ((0, 0),) * (x.ndim - 2), mode="reflect")
    return sum(k[i] * y[:, i: i + x.shape[1]] for i in range(size))


def ssim_map(a, b) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03,
    peak 1), averaged over channels."""
    a, b = _image(a, "a"), _image(b, "b")
    if a.shape != b.shape:
        raise ValueError("images differ in shape")
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = _gaussian_filter(a), _gaussian_filter(b)
    var_a = _gaussian_filter(a * a) - mu_a ** 2
    var_b = _gaussian_filter(b * b) - mu_b ** 2
    cov = _gaussian_filter(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean(axis=-1)


def ssim_outside(reference, edited, editable_mask) -> float:
    ref = _image(reference, "reference")
    keep = ~_mask(editable_mask, ref.shape[:2], "editable_mask")
    if not keep.any():
        raise ValueError("editable_mask covers the whole image: nothing outside it to compare")
    return float(ssim_map(ref, edited)[keep].mean())


def region_l1(edited, ground_truth, region) -> float:
    """Mean absolute RGB error inside `region`."""
    a, b = _image(edited, "edited"), _image(ground_truth, "ground_truth")
    if a.shape != b.shape:
        raise ValueError("edited and ground_truth differ in shape")
    m = _mask(region, a.shape[:2], "region")
    if not m.any():
        raise ValueError("region is empty")
    return float(np.abs(a[m] - b[m]).mean())
