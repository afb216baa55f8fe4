"""Thin ComfyUI adapters: V3 nodes, host patches and the host-driven UNet."""
from .denoise_node import DragNeXtDenoise
from .inversion_node import DragNeXtInversion
from .pbsi_node import DragNeXtPBSI
from .prior_loader import DragNeXtToyPriorLoader
from .spec_node import DragNeXtSpec

NODES = [DragNeXtInversion, DragNeXtSpec, DragNeXtPBSI, DragNeXtDenoise, DragNeXtToyPriorLoader]
