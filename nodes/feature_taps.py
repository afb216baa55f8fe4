"""Read decoder features through patches on a model clone.

The decoder's stages end where the resolution changes: each stage's output is the output of
its last block (the one holding its upsampler, diffusers' up_blocks[i]), and the last
stage's is the input of the UNet's `out` head.
- "all_stages" (the paper, the default): every stage's output, in order.
- "third_up_block" (the reference code: feature_idx 3 of [mid, up0, up1, up2, up3], i.e.
  diffusers' up_blocks[2]): the third stage's output; on SD1.5 640 channels at the latent's
  resolution, on SDXL (three stages) the last block.
- "last_up_block": the last stage's output only (diffusers' up_blocks[-1]).
An earlier stage's output is read by an output-block patch at the next block's input; the
last one by a diffusion-model wrapper that, for the duration of each pass, swaps `out` for an
identical head that also records its input. Both live on the clone only; nothing lingers in
the shared model after a pass.
"""
import functools

import torch

import comfy.patcher_extension
from comfy.ldm.modules.diffusionmodules.openaimodel import Upsample

FEATURE_LAYERS = ("all_stages", "third_up_block", "last_up_block")
# The paper's choice; its memory and time against a single block: bench/README.md.
DEFAULT_FEATURE_LAYERS = "all_stages"
REFERENCE_FEATURE_LAYERS = "third_up_block"
_HEAD = "out"


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


def stage_outputs(diffusion_model) -> list:
    """Where each decoder stage's output is read, in order: the id of the output block whose
    input it is, and `out` for the last stage."""
    ids = [i + 1 for i, block in enumerate(diffusion_model.output_blocks[:-1])
           if any(isinstance(layer, Upsample) for layer in block)]
    return ids + [_HEAD]


def tapped_stages(diffusion_model, layers: str) -> list:
    if layers not in FEATURE_LAYERS:
        raise ValueError(f"feature_layers: unknown '{layers}', expected one of {FEATURE_LAYERS}")
    stages = stage_outputs(diffusion_model)
    if layers == "all_stages":
        return stages
    if layers == "last_up_block":
        return stages[-1:]
    if len(stages) < 3:
        raise ValueError(f"feature_layers: 'third_up_block' needs a decoder of at least 3 stages, this model's "
                         f"has {len(stages)}; choose all_stages or last_up_block")
    return stages[2:3]


def with_feature_taps(model_patcher, layers: str, taps: FeatureTaps):
    """A clone of model_patcher that hands the chosen decoder features to `taps`."""
    patched = model_patcher.clone()
    stages = tapped_stages(patched.get_model_object("diffusion_model"), layers)
    ids = {s for s in stages if s != _HEAD}
    if ids:
        def record_stage_output(h, hsp, transformer_options):
            if transformer_options["block"][1] in ids:
                taps.record(h)
            return h, hsp

        patched.set_model_output_block_patch(record_stage_output)
    if _HEAD in stages:
        patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "dragnext_feature_taps",
                                     functools.partial(_with_recording_head, taps))
    return patched


def _with_recording_head(taps, executor, *args, **kwargs):
    dm = executor.class_obj
    head = dm._modules[_HEAD]
    dm._modules[_HEAD] = _RecordingHead(head, taps.record)
    try:
        return executor(*args, **kwargs)
    finally:
        dm._modules[_HEAD] = head
