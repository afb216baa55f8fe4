"""Activation checkpointing of the UNet's blocks during PBSI, on a model clone.

PBSI backpropagates through the UNet, so autograd keeps every block's activations until the
backward pass; on SDXL at 1024 px that is more than a 12 GB GPU holds (bench/README.md).
Checkpointed, each res block and transformer keeps only its input and recomputes its
inside during the backward pass: one more forward's compute for most of the memory.

How, with the host's own mechanisms: a diffusion-model wrapper puts a `_Checkpointed`
stand-in where each block sits, for the duration of each pass only (so nothing lingers in the
shared model for other nodes to find). The stand-in shares the block's child, parameter and
buffer tables, so every weight key still resolves to the same tensors. Being of no class the
host's `forward_timestep_embed` knows, it reaches the `forward_timestep_embed_patch` registered here, which runs the real block through
`forward_timestep_embed` under torch's non-reentrant checkpoint. The recomputation runs
after the pass has returned, so it gets a copy of the pass's transformer options (attention
patches read their block from them) and plain aliases of the weights (the host's are
inference tensors, which autograd may not save). The user's model is never touched.
"""
import contextlib

import torch
import torch.utils.checkpoint

import comfy.patcher_extension
from comfy.ldm.modules.attention import SpatialTransformer
from comfy.ldm.modules.diffusionmodules.openaimodel import TimestepBlock, forward_timestep_embed

from .host_unet import plain_parameters

_GROUPS = ("input_blocks", "output_blocks")


class _Checkpointed(torch.nn.Module):
    """Stands where `block` sat, with the same children, parameters and buffers."""

    def __init__(self, block: torch.nn.Module):
        super().__init__()
        object.__setattr__(self, "block", block)  # not a child: its children are ours already
        object.__setattr__(self, "_modules", block._modules)
        object.__setattr__(self, "_parameters", block._parameters)
        object.__setattr__(self, "_buffers", block._buffers)


def _run_checkpointed(layer, x, emb, context, transformer_options, output_shape, time_context,
                      num_video_frames, image_only_indicator):
    block = layer.block
    snapshot = dict(transformer_options)
    calls = []

    def run(h):
        recompute = bool(calls)
        calls.append(None)
        options = dict(snapshot) if recompute else transformer_options
        with plain_parameters(block) if recompute else contextlib.nullcontext():
            return forward_timestep_embed([block], h, emb, context, options, output_shape, time_context,
                                          num_video_frames, image_only_indicator)

    if not torch.is_grad_enabled() or not x.requires_grad:
        return run(x)  # nothing will be recomputed: a plain pass
    return torch.utils.checkpoint.checkpoint(run, x, use_reentrant=False, preserve_rng_state=False)


def checkpointed_blocks(diffusion_model) -> list:
    """(container, index) of every res block and transformer of the encoder, middle and decoder."""
    containers = [seq for g in _GROUPS for seq in getattr(diffusion_model, g)] + [diffusion_model.middle_block]
    return [(seq, j) for seq in containers for j, layer in enumerate(seq)
            if isinstance(layer, (TimestepBlock, SpatialTransformer))]


def _with_checkpointed_blocks(executor, *args, **kwargs):
    """DIFFUSION_MODEL wrapper: the stand-ins sit in the UNet for this pass only."""
    swapped = [(seq, str(j), seq[j]) for seq, j in checkpointed_blocks(executor.class_obj)]
    try:
        for seq, name, block in swapped:
            seq._modules[name] = _Checkpointed(block)
        return executor(*args, **kwargs)
    finally:
        for seq, name, block in swapped:
            seq._modules[name] = block


def with_activation_checkpointing(model_patcher):
    """A clone of model_patcher whose UNet blocks recompute their activations in the backward pass."""
    patched = model_patcher.clone()
    patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL,
                                 "dragnext_activation_checkpointing", _with_checkpointed_blocks)
    patched.set_model_forward_timestep_embed_patch((_Checkpointed, _run_checkpointed))
    return patched
