"""A drag edit's figures against its scene's exact ground truth (proof.evaluate, make demo)."""
import numpy as np

from dragnext_ops import metrics

COLOUR_TOLERANCE = 0.2


def scene_metrics(scene, edited: np.ndarray, colour_tolerance: float = COLOUR_TOLERANCE) -> dict:
    """IoU of each dragged object with its ground-truth pose (mean), DAI, PSNR/SSIM outside the
    editable mask, L1 in the handle and target regions."""
    ops = scene.operations
    ious = [metrics.object_iou(edited, scene.edited, scene.objects[op["object"]]["colour"], colour_tolerance)
            for op in ops]
    target = np.any([scene.edited_masks[op["object"]] for op in ops], axis=0)
    handle = np.any([op["mask"] for op in ops], axis=0)
    return {
        "iou": float(np.mean(ious)),
        "dai": metrics.dai(scene.image, edited, [op["handle"] for op in ops], [op["target"] for op in ops]),
        "psnr_out": metrics.psnr_outside(scene.edited, edited, scene.editable_mask),
        "ssim_out": metrics.ssim_outside(scene.edited, edited, scene.editable_mask),
        "l1_handle": metrics.region_l1(edited, scene.edited, handle),
        "l1_target": metrics.region_l1(edited, scene.edited, target),
    }
