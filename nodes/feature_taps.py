"""Read decoder features through patches on a model clone.

- "all_stages" (the paper, the default): the output of every decoder stage: the last
  decoder block's, plus each earlier stage's (the block holding its upsampler), read by an
  output-block patch at the next block's input.
- "last_up_block" (the reference code, diffusers' up_blocks[-1]): the last decoder block's
  only, i.e. the input of the UNet's `out` head, read by an object patch that swaps `out`
  for an identical head that also records its input.
Object patches and block patches live on the clone only; the host restores the shared
model's `out` when another patcher loads.
"""
import torch

from comfy.ldm.modules.diffusionmodules.openaimodel import Upsample

FEATURE_LAYERS = ("all_stages", "last_up_block")
# The paper's choice; its memory and time against last_up_block: bench/README.md.
DEFAULT_FEATURE_LAYERS = "all_stages"


class FeatureTaps:
    """Collects feature maps between start() and stop(); idle otherwise."""

    def __init__(self):
        self._maps = None

    def start(self):
        self._maps = []

    def stop(self) -> list:
        maps, self._maps = self._maps, None
        return maps

    def record(self, h):
        if self._maps is not None:
            self._maps.append(h)


class _RecordingHead(torch.nn.Sequential):
    """The UNet's `out` head with the same children (so weight keys still resolve) that
    also records its input."""

    def __init__(self, head: torch.nn.Sequential, record):
        super().__init__(*head)
        self._record = record

    def forward(self, h):
        self._record(h)
        return super().forward(h)


def stage_output_inputs(diffusion_model) -> set:
    """Ids of the output blocks whose input `h` is an earlier stage's output."""
    return {i + 1 for i, block in enumerate(diffusion_model.output_blocks[:-1])
            if any(isinstance(layer, Upsample) for layer in block)}


def with_feature_taps(model_patcher, layers: str, taps: FeatureTaps):
    """A clone of model_patcher that hands the chosen decoder features to `taps`."""
    if layers not in FEATURE_LAYERS:
        raise ValueError(f"feature_layers: unknown '{layers}', expected one of {FEATURE_LAYERS}")
    patched = model_patcher.clone()
    if layers == "all_stages":
        ids = stage_output_inputs(patched.get_model_object("diffusion_model"))

        def record_stage_output(h, hsp, transformer_options):
            if transformer_options["block"][1] in ids:
                taps.record(h)
            return h, hsp

        patched.set_model_output_block_patch(record_stage_output)
    head = patched.get_model_object("diffusion_model.out")
    patched.add_object_patch("diffusion_model.out", _RecordingHead(head, taps.record))
    return patched
