"""A random-weight checkpoint in the SD1.5 layout that the stock CheckpointLoaderSimple
detects as SD1.5: the smallest such UNet (320 channels, one level), a full-size CLIP-L
text encoder (the loader builds it at full size anyway) and a TAESD VAE.

Its pictures are meaningless; it proves the pipeline. Nothing is downloaded.
"""
import torch
from safetensors.torch import save_file

import comfy.sd1_clip
import comfy.supported_models
import comfy.taesd.taesd

from .tiny_models import init_weights, unet_config


def sd15_state_dict(seed: int = 0) -> dict:
    cpu = torch.device("cpu")
    # depth 2 gives 4 decoder self-attention layers, so the reference default (share from
    # layer 3) is valid here too.
    unet = comfy.supported_models.SD15(unet_config(model_channels=320, channel_mult=(1,), context_dim=768, depth=2)) \
        .get_model({}, device=cpu).diffusion_model
    init_weights(unet, seed)
    clip = comfy.sd1_clip.SDClipModel(device=cpu, dtype=torch.float32)
    init_weights(clip, seed + 1)
    vae = comfy.taesd.taesd.TAESD(latent_channels=4)
    init_weights(vae, seed + 2, std=0.05)
    with torch.no_grad():
        vae.vae_scale.fill_(1.0)
        vae.vae_shift.fill_(0.0)
    sd = {}
    for prefix, module in (("model.diffusion_model.", unet), ("cond_stage_model.", clip), ("first_stage_model.", vae)):
        for k, v in module.state_dict().items():
            sd[prefix + k] = v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
    return sd


def write_sd15_checkpoint(path, seed: int = 0):
    with torch.no_grad():
        save_file(sd15_state_dict(seed), str(path))
