"""The reference's handle region: the filled external contour of the drawn mask that holds
the handle cell (cv2.findContours RETR_EXTERNAL, drawn FILLED, in the authors' code).

A filled external contour is an 8-connected component of the mask with its holes filled
(holes are 4-connected background not reaching the border), which scipy gives directly.
"""
import numpy as np
from scipy import ndimage

_EIGHT = np.ones((3, 3), dtype=bool)


def filled_contour_at(mask: np.ndarray, cell) -> np.ndarray | None:
    """The filled external contour of `mask` (bool, cells) holding `cell` (row, col), or None."""
    r, c = cell
    if not (0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]):
        return None
    labels, count = ndimage.label(mask, structure=_EIGHT)
    if labels[r, c]:
        return ndimage.binary_fill_holes(labels == labels[r, c])
    for label in range(1, count + 1):   # the cell may lie in a component's hole
        filled = ndimage.binary_fill_holes(labels == label)
        if filled[r, c]:
            return filled
    return None
