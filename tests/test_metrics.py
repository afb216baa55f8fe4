"""dragnext_ops.metrics against values computed by hand on tiny arrays."""
import math

import numpy as np
import pytest
import torch

from dragnext_ops import metrics


def test_dai_single_pixel_patches_average_over_pairs_once():
    o = np.zeros((5, 5, 3))
    e = np.zeros((5, 5, 3))
    o[1, 1] = (1, 0, 0)
    e[2, 3] = (1, 0, 0.5)          # target (3.5, 2.5) -> row 2, col 3
    # pair 1: (0 + 0 + 0.25) / 3; pair 2: identical zero pixels -> 0; mean over 2 pairs
    got = metrics.dai(o, e, [(1.5, 1.5), (4.2, 4.9)], [(3.5, 2.5), (0.0, 0.0)], radius=0)
    assert got == pytest.approx(0.25 / 3 / 2)


def test_dai_crops_both_patches_alike_at_the_border():
    o = np.zeros((6, 6, 3))
    e = np.zeros((6, 6, 3))
    e[3, 3] = 1.0   # target (2.5, 2.5) + offset (+1, +1): inside the cropped 2x2 window
    e[1, 1] = 1.0   # offset (-1, -1): the handle's window has no row/col -1, so it is cropped away
    got = metrics.dai(o, e, [(0.5, 0.5)], [(2.5, 2.5)], radius=1)
    assert got == pytest.approx(3 / 12)


def test_dai_accepts_torch_and_rejects_bad_input():
    o = torch.zeros(4, 4, 3)
    assert metrics.dai(o, o, [(1, 1)], [(2, 2)], radius=1) == 0.0
    with pytest.raises(ValueError, match="outside"):
        metrics.dai(o, o, [(1, 1)], [(9, 2)], radius=1)
    with pytest.raises(ValueError, match="as many"):
        metrics.dai(o, o, [(1, 1)], [], radius=1)
    with pytest.raises(ValueError, match="shape"):
        metrics.dai(o, torch.zeros(4, 5, 3), [(1, 1)], [(2, 2)])


def test_default_dai_radius_scales_gooddrag_20_at_512():
    assert metrics.default_dai_radius(512, 512) == 20
    assert metrics.default_dai_radius(128, 256) == 5
    assert metrics.default_dai_radius(8, 8) == 1


def test_iou_by_hand():
    a = np.array([[1, 1, 0], [0, 1, 0]], bool)
    b = np.array([[1, 0, 0], [0, 1, 1]], bool)
    assert metrics.iou(a, b) == pytest.approx(2 / 4)
    assert metrics.iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0
    with pytest.raises(ValueError):
        metrics.iou(a, b[:, :2])


def test_colour_mask_and_object_iou():
    img = np.zeros((2, 3, 3))
    img[0, 0] = (1, 0, 0)
    img[0, 1] = (0.9, 0.1, 0)      # distance 0.141 < 0.2
    img[1, 2] = (0.7, 0, 0)        # distance 0.3: not the object
    m = metrics.colour_mask(img, (1, 0, 0), 0.2)
    assert m.tolist() == [[True, True, False], [False, False, False]]
    gt = np.zeros((2, 3, 3))
    gt[0, 1] = (1, 0, 0)
    assert metrics.object_iou(img, gt, (1, 0, 0)) == pytest.approx(1 / 2)


def test_psnr_outside_by_hand():
    ref = np.zeros((4, 4, 3))
    ed = np.full((4, 4, 3), 0.1)
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    ed[mask] = 1.0                 # inside the editable mask: ignored
    assert metrics.psnr_outside(ref, ed, mask) == pytest.approx(20.0)
    assert metrics.psnr_outside(ref, ref, mask) == math.inf
    with pytest.raises(ValueError, match="whole image"):
        metrics.psnr_outside(ref, ed, np.ones((4, 4), bool))


def test_ssim_of_constant_images_by_hand():
    a = np.full((12, 12, 3), 0.5)
    b = np.full((12, 12, 3), 0.25)
    c1 = 0.01 ** 2
    # zero variances and covariance: SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)
    want = (2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1)
    mask = np.zeros((12, 12), bool)
    mask[3:6, 3:6] = True
    assert metrics.ssim_outside(a, b, mask) == pytest.approx(want)
    assert metrics.ssim_outside(a, a, mask) == pytest.approx(1.0)


def test_ssim_drops_with_noise():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, (16, 16, 3))
    noisy = np.clip(a + rng.normal(0, 0.2, a.shape), 0, 1)
    mask = np.zeros((16, 16), bool)
    assert metrics.ssim_outside(a, noisy, mask) < 0.9


def test_region_l1_by_hand():
    a = np.zeros((2, 2, 3))
    b = np.zeros((2, 2, 3))
    b[0, 0] = (0.3, 0.6, 0.0)
    b[1, 1] = 1.0                  # outside the region
    region = np.array([[1, 1], [0, 0]], bool)
    assert metrics.region_l1(a, b, region) == pytest.approx((0.3 + 0.6) / 6)
    with pytest.raises(ValueError, match="empty"):
        metrics.region_l1(a, b, np.zeros((2, 2), bool))


def _lpips_weights(tmp_path):
    """Random AlexNet and linear weights in the two on-disk layouts RegionLPIPS reads."""
    g = torch.Generator().manual_seed(0)
    features = metrics._alexnet_features()
    backbone = {f"features.{k}": torch.randn(v.shape, generator=g) * 0.05 for k, v in features.state_dict().items()}
    linear = {f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=g)
              for i, c in enumerate(metrics._ALEX_CHANNELS)}
    torch.save(backbone, tmp_path / "alexnet.pth")
    torch.save(linear, tmp_path / "alex.pth")
    return str(tmp_path / "alexnet.pth"), str(tmp_path / "alex.pth")


def test_region_lpips_needs_weights_on_disk(tmp_path):
    with pytest.raises(ValueError, match="backbone_path: LPIPS weights not found"):
        metrics.RegionLPIPS(str(tmp_path / "missing.pth"), str(tmp_path / "alex.pth"))


def test_region_lpips_regions(tmp_path):
    lp = metrics.RegionLPIPS(*_lpips_weights(tmp_path))
    rng = np.random.default_rng(1)
    orig = rng.uniform(0, 1, (64, 64, 3))
    region = np.zeros((64, 64), bool)
    region[10:26, 10:26] = True
    edited = orig.copy()
    edited[30:46, 34:50] = orig[10:26, 10:26]     # the region's content, moved by (+24, +20)
    edited[10:26, 10:26] = 0.5                     # and gone from the handle
    editable = np.zeros((64, 64), bool)
    editable[4:52, 4:56] = True
    assert lp.ue(orig, orig, editable) == 0.0
    assert lp.th(orig, edited, region, (12, 12), (36, 32)) == pytest.approx(0.0, abs=1e-9)
    assert lp.th(orig, edited, region, (12, 12), (12, 12)) > 0.0
    assert lp.hh(orig, edited, region) > lp.hh(orig, orig, region) == 0.0
