"""Evidence that DragNeXt edits are right: synthetic scenes with exact ground truth,
a small diffusion prior trained on them, metrics, baselines and ablations."""
