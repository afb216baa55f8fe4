"""The reference's region rule without OpenCV: scipy's filled 8-connected component equals
cv2's filled external contour (cv2 is a test-only oracle here, as the authors' code uses it)."""
import cv2
import numpy as np
import pytest
from scipy import ndimage

from dragnext.dragnext_ops.reference_region import filled_contour_at


def cv2_filled_contour_at(mask, cell):
    contours = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    for contour in contours:
        filled = np.zeros(mask.shape, dtype=np.uint8)
        cv2.drawContours(filled, [contour], -1, color=1, thickness=cv2.FILLED)
        if filled[cell]:
            return filled.astype(bool)
    return None


def blobs(seed, shape=(48, 64)):
    """Smooth random blobs, some with holes, as a painted region would be."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), 3.0)
    return field > 0.08


@pytest.mark.parametrize("seed", range(12))
def test_filled_contour_matches_opencv(seed):
    mask = blobs(seed)
    rng = np.random.default_rng(100 + seed)
    checked = 0
    for cell in zip(rng.integers(0, mask.shape[0], 80), rng.integers(0, mask.shape[1], 80)):
        ours, theirs = filled_contour_at(mask, cell), cv2_filled_contour_at(mask, cell)
        assert (ours is None) == (theirs is None), cell
        if ours is not None:
            np.testing.assert_array_equal(ours, theirs)
            checked += 1
    assert checked >= 5


def test_a_hole_is_filled_and_a_cell_off_the_mask_has_none():
    mask = np.zeros((20, 20), dtype=bool)
    mask[4:16, 4:16] = True
    mask[8:12, 8:12] = False
    filled = filled_contour_at(mask, (10, 10))          # in the hole
    assert filled[4:16, 4:16].all() and filled.sum() == 144
    assert filled_contour_at(mask, (1, 1)) is None
    assert filled_contour_at(mask, (30, 1)) is None      # off the grid
