"""DragNeXt Region + Transform: the drag spec, validated against the image."""
from comfy_api.latest import io, ui

from ..dragnext_ops.spec import build_spec, parse_spec
from .sockets import DragSpecSocket

EXAMPLE_SPEC = """{
  "version": 1,
  "operations": [
    {"type": "translate", "handle": [64, 64], "target": [96, 64],
     "region": [{"tool": "rect", "mode": "add", "points": [[48, 48], [80, 80]]}]}
  ]
}"""


def _masks(mask):
    if mask is None:
        return None
    m = mask.detach().float().cpu().numpy()
    return m.reshape((-1,) + m.shape[-2:])


class DragNeXtSpec(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtSpec",
            display_name="DragNeXt Region + Transform",
            category="DragNeXt",
            description="What to drag and how: handle regions with translate or rotate operations.",
            inputs=[
                io.Image.Input("image", tooltip="The image being edited (for its size, and the editor)."),
                io.String.Input("spec", multiline=True, default=EXAMPLE_SPEC,
                                tooltip="Drag operations as versioned JSON (see docs/spec-format.md); the canvas editor writes it."),
                io.Mask.Input("region_masks", optional=True,
                              tooltip="One mask per operation, in order; replaces the drawn handle regions."),
                io.Mask.Input("editable_mask", optional=True,
                              tooltip="Where the image may change; replaces the drawn editable region."),
            ],
            outputs=[DragSpecSocket.Output(display_name="drag")],
        )

    @classmethod
    def validate_inputs(cls, spec=None, **kwargs):
        if spec is None:  # linked from another node: checked at run time
            return True
        try:
            parse_spec(spec)
        except ValueError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, image, spec, region_masks=None, editable_mask=None) -> io.NodeOutput:
        height, width = int(image.shape[1]), int(image.shape[2])
        if height % 8 or width % 8:
            raise ValueError(f"image: {width}x{height} is not a multiple of 8 on both sides; crop or resize it")
        drag = build_spec(parse_spec(spec), height, width, _masks(region_masks), _masks(editable_mask))
        # The picture itself as the node's preview: the canvas editor draws on it after a run.
        return io.NodeOutput(drag, ui=ui.PreviewImage(image[:1], cls=cls))
