"""The real SD1.5 UNet architecture (860 M parameters) with random weights, loaded the way
the host's checkpoint loader does: its device, its dtype choice, built under inference mode."""
import torch

import comfy.model_management as mm
import comfy.model_patcher
import comfy.supported_models

from harness.tiny_models import init_weights

# What comfy/model_detection.py detects for an SD1.5 checkpoint (its `SD15` entry).
SD15_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
    "legacy": False, "adm_in_channels": None, "in_channels": 4, "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1, "use_linear_in_transformer": False,
    "context_dim": 768, "num_heads": 8, "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
CONTEXT = (1, 77, 768)  # one CLIP-L prompt embedding


def sd15_model(seed: int = 0, dtype: torch.dtype | None = None) -> comfy.model_patcher.ModelPatcher:
    config = comfy.supported_models.SD15(dict(SD15_UNET))
    load_device = mm.get_torch_device()
    unet_dtype = dtype or mm.unet_dtype(model_params=860_000_000, supported_dtypes=config.supported_inference_dtypes)
    config.set_inference_dtype(unet_dtype, mm.unet_manual_cast(unet_dtype, load_device, config.supported_inference_dtypes))
    # The host's loader node runs under inference mode, so its weights are inference tensors.
    with torch.inference_mode():
        model = config.get_model({}, "")
        init_weights(model.diffusion_model, seed)
        model.diffusion_model.requires_grad_(False)
        model = model.to(mm.unet_offload_device())
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=mm.unet_offload_device())


def conditioning(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(CONTEXT, generator=g), {}]]
