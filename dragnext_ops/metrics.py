"""Drag-editing metrics on (H, W, 3) float images in [0, 1] (numpy or torch, no host).

- `dai`: GoodDrag's Dragging Accuracy Index: for each handle/target pair, the mean squared
  RGB difference (over the patch's pixels and channels) between the original patch
  around the handle and the edited patch around the target; averaged over pairs once.
- `colour_mask` + `iou`: an object segmented by its known colour, against its
  ground-truth pose segmented the same way.
- `psnr_outside` / `ssim_outside`: preservation outside the editable mask.
- `region_l1`: mean absolute error inside a region (edited handle and target regions
  against the ground truth).
- `RegionLPIPS`: the paper's region LPIPS family (ue, th, hh) on LPIPS v0.1 (AlexNet),
  for users with the weights on disk; nothing is downloaded.
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


def _region(m, shape, name: str) -> np.ndarray:
    """A non-empty mask."""
    a = _mask(m, shape, name)
    if not a.any():
        raise ValueError(f"{name} is empty")
    return a


def _outside(editable_mask, shape) -> np.ndarray:
    """The pixels outside the editable mask (some must be)."""
    keep = ~_mask(editable_mask, shape, "editable_mask")
    if not keep.any():
        raise ValueError("editable_mask covers the whole image: nothing outside it to compare")
    return keep


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
    keep = _outside(editable_mask, a.shape[:2])
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
    keep = _outside(editable_mask, ref.shape[:2])
    return float(ssim_map(ref, edited)[keep].mean())


def region_l1(edited, ground_truth, region) -> float:
    """Mean absolute RGB error inside `region`."""
    a, b = _image(edited, "edited"), _image(ground_truth, "ground_truth")
    if a.shape != b.shape:
        raise ValueError("edited and ground_truth differ in shape")
    m = _region(region, a.shape[:2], "region")
    return float(np.abs(a[m] - b[m]).mean())


# --- the paper's region LPIPS (LPIPS v0.1, AlexNet backbone), from weights on disk ---

_LPIPS_SHIFT = (-0.030, -0.088, -0.188)
_LPIPS_SCALE = (0.458, 0.448, 0.450)
_ALEX_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # relu1..relu5
_ALEX_CHANNELS = (64, 192, 384, 256, 256)


def _alexnet_features():
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, 1, 1), nn.ReLU(), nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2))


class RegionLPIPS:
    """LPIPS v0.1 (AlexNet) and the paper's region variants, offline.

    backbone_path: torchvision's AlexNet state dict (keys `features.N.weight`), e.g. the
    file torchvision caches as alexnet-owt-7be5be79.pth. linear_path: the LPIPS v0.1 linear
    layers (`lin0.model.1.weight` .. `lin4.model.1.weight`), the lpips package's
    weights/v0.1/alex.pth. Either missing raises ValueError saying which.

    - ue: the LPIPS distance map between original and edited, averaged outside the
      editable mask (lower: preserved).
    - th: LPIPS between the original's crop around the handle region and the edited crop
      at the same box moved by target - handle, both keeping only the region's pixels
      (lower: the content arrived).
    - hh: the distance map averaged inside the handle region (higher: the content left).
    """

    def __init__(self, backbone_path: str, linear_path: str):
        import os
        import torch
        for name, path in (("backbone_path", backbone_path), ("linear_path", linear_path)):
            if not path or not os.path.isfile(path):
                raise ValueError(f"{name}: LPIPS weights not found at {path!r}; region LPIPS needs AlexNet and "
                                 "LPIPS v0.1 linear weights on disk (nothing is downloaded)")
        sd = torch.load(backbone_path, map_location="cpu", weights_only=True)
        self.features = _alexnet_features().eval()
        self.features.load_state_dict({k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")})
        lin = torch.load(linear_path, map_location="cpu", weights_only=True)
        self.linear = []
        for i, c in enumerate(_ALEX_CHANNELS):
            w = lin[f"lin{i}.model.1.weight"].float()
            if w.shape != (1, c, 1, 1):
                raise ValueError(f"linear_path: lin{i} has shape {tuple(w.shape)}, expected (1, {c}, 1, 1)")
            self.linear.append(w)

    def distance_map(self, a, b):
        """(H, W) LPIPS distance map of two (H, W, 3) images in [0, 1]."""
        import torch
        import torch.nn.functional as F
        x = torch.stack([torch.as_tensor(_image(a, "a")), torch.as_tensor(_image(b, "b"))]).float()
        if x.shape[1] < 32 or x.shape[2] < 32:
            raise ValueError(f"LPIPS needs at least 32x32 pixels, got {tuple(x.shape[1:3])}")
        x = x.permute(0, 3, 1, 2) * 2 - 1
        x = (x - torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1)) / torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1)
        out = torch.zeros(x.shape[-2:])
        with torch.no_grad():
            h = x
            for (lo, hi), w in zip(_ALEX_SLICES, self.linear):
                h = self.features[lo:hi](h)
                n = h / (h.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                d = F.conv2d((n[0:1] - n[1:2]) ** 2, w)
                out += F.interpolate(d, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        return out.numpy().astype(np.float64)

    def ue(self, original, edited, editable_mask) -> float:
        keep = _outside(editable_mask, _image(original, "original").shape[:2])
        return float(self.distance_map(original, edited)[keep].mean())

    def hh(self, original, edited, handle_region) -> float:
        m = _region(handle_region, _image(original, "original").shape[:2], "handle_region")
        return float(self.distance_map(original, edited)[m].mean())

    def th(self, original, edited, handle_region, handle, target) -> float:
        o, e = _image(original, "original"), _image(edited, "edited")
        m = _region(handle_region, o.shape[:2], "handle_region")
        ys, xs = np.nonzero(m)
        dx, dy = int(round(target[0] - handle[0])), int(round(target[1] - handle[1]))
        h, w = m.shape
        size = max(32, ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
        y0 = int(np.clip((ys.min() + ys.max()) // 2 - size // 2, 0, h - size))
        x0 = int(np.clip((xs.min() + xs.max()) // 2 - size // 2, 0, w - size))
        ty0, tx0 = int(np.clip(y0 + dy, 0, h - size)), int(np.clip(x0 + dx, 0, w - size))
        keep = m[y0:y0 + size, x0:x0 + size, None]
        a = o[y0:y0 + size, x0:x0 + size] * keep
        b = e[ty0:ty0 + size, tx0:tx0 + size] * keep
        return float(self.distance_map(a, b).mean())
