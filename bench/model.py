"""The real UNet architectures (SD1.5 860 M, SD2.x 865 M, SDXL 2.6 G parameters) with random
weights, loaded the way the host's checkpoint loader does: its device, its dtype choice,
built under inference mode. Or on the meta device: shapes only, for memory accounting."""
import torch

import comfy.model_management as mm
import comfy.model_patcher
import comfy.supported_models

from harness.tiny_models import SD2_V_PRED_KEY, init_weights

_COMMON = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
           "legacy": False, "in_channels": 4, "model_channels": 320,
           "use_temporal_attention": False, "use_temporal_resblock": False}
# What comfy/model_detection.py detects for each family's checkpoint (its SD15, SD21 and SDXL entries).
SD15_UNET = {
    **_COMMON, "adm_in_channels": None, "num_res_blocks": [2, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
    "channel_mult": [1, 2, 4, 4], "transformer_depth_middle": 1, "use_linear_in_transformer": False,
    "context_dim": 768, "num_heads": 8, "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
}
SD21_UNET = {**SD15_UNET, "use_linear_in_transformer": True, "context_dim": 1024, "num_head_channels": 64}
del SD21_UNET["num_heads"]
SDXL_UNET = {
    **_COMMON, "num_classes": "sequential", "adm_in_channels": 2816, "num_res_blocks": [2, 2, 2],
    "transformer_depth": [0, 0, 2, 2, 10, 10], "channel_mult": [1, 2, 4], "transformer_depth_middle": 10,
    "use_linear_in_transformer": True, "context_dim": 2048, "num_head_channels": 64,
    "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
}


class Family:
    def __init__(self, config_class, unet: dict, params: int, native: int, pooled: int | None = None):
        self.config_class, self.unet, self.params, self.native, self.pooled = config_class, unet, params, native, pooled

    @property
    def context_dim(self) -> int:
        return self.unet["context_dim"]


# sd2 is SD2.x 768-v: v-prediction at 768 px (the host reads v from a weight; see v_prediction_hint)
FAMILIES = {
    "sd15": Family(comfy.supported_models.SD15, SD15_UNET, 860_000_000, 512),
    "sd2": Family(comfy.supported_models.SD20, SD21_UNET, 865_000_000, 768),
    "sdxl": Family(comfy.supported_models.SDXL, SDXL_UNET, 2_567_000_000, 1024, pooled=1280),
}


def _v_prediction_hint() -> dict:
    return {SD2_V_PRED_KEY: torch.tensor([0.2, -0.2]).repeat(160)}  # std 0.2: above its 0.09


def family_model(family: str = "sd15", seed: int = 0, dtype: torch.dtype | None = None,
                 device: torch.device | None = None) -> comfy.model_patcher.ModelPatcher:
    """The family's real UNet as a host MODEL. `device="meta"`: shapes only, no memory."""
    f = FAMILIES[family]
    config = f.config_class(dict(f.unet))
    meta = device is not None and torch.device(device).type == "meta"
    load_device = torch.device("meta") if meta else mm.get_torch_device()
    unet_dtype = dtype or mm.unet_dtype(model_params=f.params, supported_dtypes=config.supported_inference_dtypes)
    config.set_inference_dtype(unet_dtype, None if meta else mm.unet_manual_cast(
        unet_dtype, load_device, config.supported_inference_dtypes))
    hint = _v_prediction_hint() if family == "sd2" else {}
    if meta:
        model = config.get_model(hint, device=load_device)
        model.diffusion_model.requires_grad_(False)
        return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=load_device)
    # The host's loader node runs under inference mode, so its weights are inference tensors.
    with torch.inference_mode():
        model = config.get_model(hint, "")
        init_weights(model.diffusion_model, seed)
        model.diffusion_model.requires_grad_(False)
        model = model.to(mm.unet_offload_device())
    return comfy.model_patcher.ModelPatcher(model, load_device=load_device, offload_device=mm.unet_offload_device())


def sd15_model(seed: int = 0, dtype: torch.dtype | None = None) -> comfy.model_patcher.ModelPatcher:
    return family_model("sd15", seed, dtype)


def conditioning(seed: int = 0, family: str = "sd15"):
    """One prompt embedding as CLIPTextEncode gives it (SDXL's with its pooled output)."""
    f = FAMILIES[family]
    g = torch.Generator().manual_seed(seed)
    extra = {"pooled_output": torch.randn(1, f.pooled, generator=g)} if f.pooled else {}
    return [[torch.randn(1, 77, f.context_dim, generator=g), extra]]
