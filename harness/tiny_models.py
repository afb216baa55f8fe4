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
