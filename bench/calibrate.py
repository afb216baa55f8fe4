"""Bare UNet passes at the edit's shapes, outside the host and the nodes: the floor a pass
costs. Comparing with the passes timed inside the nodes exposes overhead hidden in a pass
(weight copies, patches, casts)."""
import time

import torch

import comfy.model_management as mm
from dragnext.nodes.host_unet import plain_alias


def _timed(fn, sync, reps):
    fn()  # warm-up: allocator, kernels
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - start) / reps


def bare_pass_times(model_patcher, latent_hw, context, reps: int = 1) -> dict:
    """Seconds per pass: forward at batch 1 and 2, forward+backward (input gradient) at batch 1."""
    mm.load_models_gpu([model_patcher])
    base = model_patcher.model
    dm = base.diffusion_model
    device = mm.get_torch_device()
    dtype = base.manual_cast_dtype or base.get_dtype()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    ctx = context.to(device, dtype)
    t = torch.tensor([500.0], device=device)

    def forward(batch):
        x = torch.randn(batch, 4, *latent_hw, device=device, dtype=dtype)

        def run():
            with torch.inference_mode():  # as the nodes' forward passes run
                dm(x, t.expand(batch), context=ctx.expand(batch, -1, -1))
        return run

    # Autograd cannot save the host's inference-mode weights: the nodes' zero-copy aliases.
    weights = {n: plain_alias(p) for n, p in dm.named_parameters()}
    with torch.inference_mode(False):
        x1 = torch.randn(1, 4, *latent_hw, device=device, dtype=dtype, requires_grad=True)
        ctx1 = ctx.clone()  # once: the context may be an inference tensor

    def forward_backward():
        with torch.inference_mode(False), torch.enable_grad():
            out = torch.func.functional_call(dm, weights, (x1, t), {"context": ctx1})
            out.float().square().mean().backward()

    return {"forward_b1": _timed(forward(1), sync, reps), "forward_b2": _timed(forward(2), sync, reps),
            "forward_backward_b1": _timed(forward_backward, sync, reps)}
