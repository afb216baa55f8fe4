"""DragNeXt for ComfyUI: drag objects in images by region (AAAI 2026), as ComfyUI nodes."""
from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .nodes import NODES

WEB_DIRECTORY = "./web"


class DragNeXtExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> DragNeXtExtension:
    return DragNeXtExtension()
