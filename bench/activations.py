"""What PBSI's backward pass holds: the activations autograd saves in one UNet forward.

    PYTHONPATH=$PWD/.comfyui:$PWD/.comfyui/custom_nodes:$PWD .venv/bin/python -m bench.activations --model sdxl --size 1024 --dtype fp16

Runs the family's real UNet on the meta device (shapes and dtypes, nothing computed, no
memory), at any size in any dtype, with the latent requiring grad and the feature taps of
PBSI on, and adds up every tensor autograd saves for the backward pass (torch's
saved-tensor hooks; each storage once; the weights apart). Attention is counted two ways:
what torch's math attention saves (the softmax matrices, quadratic in tokens) and what a
fused kernel (flash / memory-efficient, the host's choice on NVIDIA GPUs) saves: q, k, v,
the output and the row log-sum-exp. `--checkpointing` counts it with the blocks
checkpointed as the PBSI input `activation_checkpointing` does.

Peak memory of a PBSI step on a GPU ~ weights + saved activations (fused attention) +
the backward pass's own transients; bench/README.md compares this estimate with measured
peaks.
"""
import argparse
import contextlib

import torch

import comfy.cli_args

comfy.cli_args.args.cpu = not torch.cuda.is_available()  # before comfy.model_management loads

import comfy.ldm.modules.attention as host_attention  # noqa: E402

from dragnext.nodes.activation_checkpointing import checkpointed_blocks, with_activation_checkpointing  # noqa: E402
from dragnext.nodes.feature_taps import DEFAULT_FEATURE_LAYERS, FEATURE_LAYERS, FeatureTaps, with_feature_taps  # noqa: E402

from .model import FAMILIES, family_model  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
GB = 1024 ** 3


class SavedTensors:
    """Bytes autograd saves, by storage, into named buckets; weights apart."""

    def __init__(self, exclude_storages=()):
        self._seen = set(exclude_storages)
        self._keep = []   # holds the storages so their ids stay unique while counting
        self.bytes = {}
        self.block = None      # the UNet block running now, if any
        self.per_block = {}    # what each block saves (attention as a fused kernel would)

    def add_to_block(self, n: int):
        if self.block is not None:
            self.per_block[self.block] = self.per_block.get(self.block, 0) + n

    def hooks(self, bucket: str):
        def pack(t):
            storage = t.untyped_storage()
            if storage._cdata not in self._seen:
                self._seen.add(storage._cdata)
                self._keep.append(storage)
                self.bytes[bucket] = self.bytes.get(bucket, 0) + storage.nbytes()
                if bucket == "activations":
                    self.add_to_block(storage.nbytes())
            return t
        return torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)

    def track_blocks(self, diffusion_model) -> list:
        """Forward hooks naming the running block; returns their handles."""
        handles = []
        for seq, j in checkpointed_blocks(diffusion_model):
            module, key = seq[j], f"{id(seq)}.{j}"

            def enter(m, args, key=key):
                self.block = key

            def leave(m, args, out):
                self.block = None

            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
        return handles


def _log_sum_exp_bytes(q, heads: int) -> int:
    """A fused attention kernel saves q, k, v, its output and this: a float32 per head and query."""
    return q.shape[0] * heads * q.shape[1] * 4


def saved_activations(family: str, size: int, dtype: torch.dtype, feature_layers: str = DEFAULT_FEATURE_LAYERS,
                      checkpointing: bool = False) -> dict:
    """GiB of weights, of saved activations outside attention, of attention's two ways, of the
    tapped features, and of the block that saves most (without checkpointing: what one block's
    recomputation holds in the backward pass when checkpointed)."""
    f = FAMILIES[family]
    patcher = family_model(family, dtype=dtype, device="meta")
    dm = patcher.model.diffusion_model
    weights = sum(p.nbytes for p in dm.parameters())
    saved = SavedTensors(p.untyped_storage()._cdata for p in dm.parameters())
    fused = {"bytes": 0}

    def attention(func, q, k, v, heads, *args, **kwargs):
        if checkpointing:  # inside a checkpointed block: what it saves is dropped and recomputed
            return host_attention.attention_pytorch(q, k, v, heads, *args, **kwargs)
        with saved.hooks("attention, math"):
            out = host_attention.attention_pytorch(q, k, v, heads, *args, **kwargs)
        n = sum(t.nbytes for t in (q, k, v, out)) + _log_sum_exp_bytes(q, heads)
        fused["bytes"] += n
        saved.add_to_block(n)
        return out

    taps = FeatureTaps()
    tapped = with_feature_taps(patcher, feature_layers, taps)
    if checkpointing:
        tapped = with_activation_checkpointing(tapped)
    options = dict(tapped.model_options["transformer_options"])
    options["optimized_attention_override"] = attention
    options["wrappers"] = tapped.wrappers   # as the host's sampler hands them to the UNet
    meta = torch.device("meta")
    side = size // 8
    x = torch.empty(1, 4, side, side, device=meta, dtype=dtype, requires_grad=True)
    y = torch.empty(1, f.unet["adm_in_channels"], device=meta, dtype=dtype) if f.pooled else None
    context = torch.empty(1, 77, f.context_dim, device=meta, dtype=dtype)
    tapped.patch_model(load_weights=False)
    handles = [] if checkpointing else saved.track_blocks(dm)
    try:
        taps.start()
        with saved.hooks("activations"), torch.enable_grad():
            dm(x, torch.empty(1, device=meta), context=context, y=y, transformer_options=options)
        maps = taps.stop()
    finally:
        for h in handles:
            h.remove()
        tapped.unpatch_model(unpatch_weights=False)
    return {"weights": weights / GB, "activations": saved.bytes.get("activations", 0) / GB,
            "attention, math": saved.bytes.get("attention, math", 0) / GB,
            "attention, fused": fused["bytes"] / GB, "features": sum(m.nbytes for m in maps) / GB,
            "largest block": max(saved.per_block.values(), default=0) / GB}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.activations", description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(FAMILIES), default="sd15")
    p.add_argument("--size", type=int, default=0, help="image side in pixels (default: the family's native size)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp16")
    p.add_argument("--feature-layers", choices=FEATURE_LAYERS, default=DEFAULT_FEATURE_LAYERS)
    p.add_argument("--checkpointing", action="store_true", help="with the blocks checkpointed")
    args = p.parse_args(argv)
    size = args.size or FAMILIES[args.model].native
    full = saved_activations(args.model, size, DTYPES[args.dtype], args.feature_layers)
    r = saved_activations(args.model, size, DTYPES[args.dtype], args.feature_layers, True) if args.checkpointing else full
    saved = r["activations"] + r["attention, fused"]
    # checkpointed, the backward pass recomputes one block at a time on top of what is saved
    estimate = full["weights"] + saved + (full["largest block"] if args.checkpointing else 0)
    print(f"{args.model} {size} px {args.dtype} {args.feature_layers}{' checkpointed' if args.checkpointing else ''}: "
          f"weights {r['weights']:.2f} GiB; saved for the backward pass {r['activations']:.2f} GiB outside "
          f"attention + attention {r['attention, fused']:.2f} GiB fused ({r['attention, math']:.2f} GiB as torch's "
          f"math attention saves it); largest block {full['largest block']:.2f} GiB; "
          f"weights + saved{' + one recomputed block' if args.checkpointing else ''} = {estimate:.2f} GiB")

if __name__ == "__main__":
    main()
