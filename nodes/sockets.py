"""Custom socket types between the DragNeXt nodes."""
from comfy_api.latest import io

InversionSocket = io.Custom("DRAGNEXT_INVERSION")
DragSpecSocket = io.Custom("DRAGNEXT_DRAG_SPEC")
DragEditSocket = io.Custom("DRAGNEXT_EDIT")
