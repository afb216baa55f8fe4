"""Models built from the host's own classes with random weights: nothing is downloaded.

Import only with the host on the path and `comfy.cli_args.args.cpu` set (see conftest).
"""
import torch

import comfy.model_patcher
import comfy.supported_models


def unet_config(model_channels=32, channel_mult=(1, 2), context_dim=64, depth=1):
    levels = len(channel_mult)
    return {
        "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": model_channels,
        "num_res_blocks": [1] * levels, "channel_mult": list(channel_mult),
        "transformer_depth": [depth] * levels, "transformer_depth_output": [depth] * (2 * levels),
        "transformer_depth_middle": depth, "context_dim": context_dim, "num_heads": 8, "num_head_channels": -1,
        "use_spatial_transformer": True, "use_linear_in_transformer": False, "legacy": False,
        "adm_in_channels": None, "use_temporal_attention": False, "use_temporal_resblock": False,
        "use_checkpoint": False, "disable_self_attentions": None, "num_attention_blocks": None,
    }


def init_weights(module: torch.nn.Module, seed: int, std: float = 0.02):
    """The host's ops leave weights uninitialised: norms to identity, the rest small noise."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            norm = isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm))
            for name, p in m.named_parameters(recurse=False):
                if norm:
                    p.fill_(1.0 if name == "weight" else 0.0)
                elif p.is_floating_point():
                    p.copy_(torch.randn(p.shape, generator=g) * std)


def tiny_sd15(seed=0, **config) -> comfy.model_patcher.ModelPatcher:
    """A 1 M-parameter SD1.5-family model (EPS, SD1 discrete schedule) as a host MODEL."""
    model = comfy.supported_models.SD15(unet_config(**config)).get_model({}, device=torch.device("cpu"))
    init_weights(model.diffusion_model, seed)
    model.diffusion_model.requires_grad_(False)
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def tiny_conditioning(seed=0, context_dim=64, tokens=77):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(1, tokens, context_dim, generator=g), {}]]


# Each family's real UNet layout (levels, res blocks, transformer depths, text-width
# projections, SDXL's size embedding; lists as comfy/model_detection.py reads them), narrowed to `model_channels`: tiny but shaped like
# the real thing, so per-stage channels and resolutions follow the family's pattern.
FAMILY_LAYOUTS = {
    "sd15": dict(config=comfy.supported_models.SD15, channel_mult=[1, 2, 4, 4], num_res_blocks=[2, 2, 2, 2],
                 transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0], transformer_depth_middle=1,
                 transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], linear=False, adm=None),
    "sd2": dict(config=comfy.supported_models.SD20, channel_mult=[1, 2, 4, 4], num_res_blocks=[2, 2, 2, 2],
                transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0], transformer_depth_middle=1,
                transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], linear=True, adm=None),
    "sdxl": dict(config=comfy.supported_models.SDXL, channel_mult=[1, 2, 4], num_res_blocks=[2, 2, 2],
                 transformer_depth=[0, 0, 2, 2, 10, 10], transformer_depth_middle=10,
                 transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10], linear=True, adm=2816),
}
SDXL_POOLED = 1280  # CLIP-G's pooled width: SDXL's adm is it plus six 256-wide size embeddings
# The host's SD2 v-prediction test (supported_models.SD20.model_type) reads this weight.
SD2_V_PRED_KEY = "output_blocks.11.1.transformer_blocks.0.norm1.bias"


def family_unet_config(family: str, model_channels: int = 32, context_dim: int = 64) -> dict:
    layout = FAMILY_LAYOUTS[family]
    config = unet_config(model_channels=model_channels, channel_mult=layout["channel_mult"], context_dim=context_dim)
    config.update({k: list(layout[k]) if isinstance(layout[k], list) else layout[k]
                   for k in ("num_res_blocks", "transformer_depth", "transformer_depth_output",
                             "transformer_depth_middle")})
    config.update(use_linear_in_transformer=layout["linear"], adm_in_channels=layout["adm"])
    if layout["adm"] is not None:
        config["num_classes"] = "sequential"
    return config


def tiny_family_model(family: str, seed: int = 0, v_prediction: bool = False, **widths):
    """A host MODEL of the family's own config and model classes (SD15, SD20 or SDXL), e.g.
    `tiny_family_model("sd2", v_prediction=True)`: the host's SD2 detection decides v."""
    layout = FAMILY_LAYOUTS[family]
    config = layout["config"](family_unet_config(family, **widths))
    config.unet_config["num_head_channels"] = 16  # the family's 64 would leave no head at tiny widths
    hint = {}
    if v_prediction:
        if family != "sd2":
            raise ValueError(f"v_prediction: tiny {family} models are eps only; use 'sd2'")
        hint = {SD2_V_PRED_KEY: torch.full((8,), 0.2) * torch.tensor([1.0, -1.0] * 4)}
    model = config.get_model(hint, device=torch.device("cpu"))
    init_weights(model.diffusion_model, seed)
    model.diffusion_model.requires_grad_(False)
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def family_conditioning(family: str, seed: int = 0, context_dim: int = 64, tokens: int = 77):
    """A prompt embedding as CLIPTextEncode gives it; SDXL's also carries the pooled output
    (the host derives the size embedding from the latent's size)."""
    (context, extra), = tiny_conditioning(seed, context_dim, tokens)
    if FAMILY_LAYOUTS[family]["adm"] is not None:
        extra = {"pooled_output": torch.randn(1, SDXL_POOLED, generator=torch.Generator().manual_seed(seed + 1))}
    return [[context, extra]]
