"""Random-weight checkpoints that the stock CheckpointLoaderSimple detects as SD1.5 or as
SD2.x (v-prediction or eps): small UNets of the detected widths, the family's full-size
text encoder (the loader builds it at full size anyway) and a TAESD VAE.

Its pictures are meaningless; it proves the pipeline. Nothing is downloaded.
"""
import torch
from safetensors.torch import save_file

import comfy.sd1_clip
import comfy.supported_models
import comfy.taesd.taesd
import comfy.text_encoders.sd2_clip

from .tiny_models import SD2_V_PRED_KEY, init_weights, unet_config


def _taesd(seed: int):
    vae = comfy.taesd.taesd.TAESD(latent_channels=4)
    init_weights(vae, seed + 2, std=0.05)
    with torch.no_grad():
        vae.vae_scale.fill_(1.0)
        vae.vae_shift.fill_(0.0)
    return vae


def _half(state_dict: dict, prefix: str = "") -> dict:
    return {prefix + k: v.detach().to(torch.float16 if v.is_floating_point() else v.dtype).contiguous()
            for k, v in state_dict.items()}


def sd15_state_dict(seed: int = 0) -> dict:
    cpu = torch.device("cpu")
    # depth 2 gives 4 decoder self-attention layers, so the reference default (share from
    # layer 3) is valid here too.
    unet = comfy.supported_models.SD15(unet_config(model_channels=320, channel_mult=(1,), context_dim=768, depth=2)) \
        .get_model({}, device=cpu).diffusion_model
    init_weights(unet, seed)
    clip = comfy.sd1_clip.SDClipModel(device=cpu, dtype=torch.float32)
    init_weights(clip, seed + 1)
    sd = {}
    for prefix, module in (("model.diffusion_model.", unet), ("cond_stage_model.", clip),
                           ("first_stage_model.", _taesd(seed + 2))):
        sd.update(_half(module.state_dict(), prefix))
    return sd


def sd2_unet_config() -> dict:
    """The smallest UNet the host detects as SD2.x whose weights can say v-prediction: SD2's
    widths (320 channels, 1024-wide text, linear projections), 12 output blocks (the host's
    test reads output_blocks.11.1), four levels of 320 channels, two transformers: there and
    in the first input block (the host reads the text width and projections from that one)."""
    config = unet_config(model_channels=320, channel_mult=(1, 1, 1, 1), context_dim=1024)
    config.update(num_res_blocks=[2] * 4, transformer_depth=[1] + [0] * 7, transformer_depth_middle=-1,
                  transformer_depth_output=[1] + [0] * 11, use_linear_in_transformer=True)  # read from the end
    return config


def sd2_state_dict(v_prediction: bool, seed: int = 0) -> dict:
    cpu = torch.device("cpu")
    config = comfy.supported_models.SD20(sd2_unet_config())
    unet = config.get_model({}, device=cpu).diffusion_model
    init_weights(unet, seed)
    unet_sd = unet.state_dict()
    if v_prediction:  # what the host's SD20.model_type reads: a norm bias of std > 0.09
        bias = unet_sd[SD2_V_PRED_KEY]
        bias.copy_(torch.randn(bias.shape, generator=torch.Generator().manual_seed(seed)) * 0.2)
    clip = comfy.text_encoders.sd2_clip.SD2ClipModel(device=cpu, dtype=torch.float32)
    init_weights(clip, seed + 1)
    # the checkpoint layout the host writes for SD2 (OpenCLIP keys under cond_stage_model.model)
    clip_sd = config.process_clip_state_dict_for_saving({k.replace("clip_h.", "clip_h.", 1): v
                                                         for k, v in clip.state_dict().items()})
    sd = _half(unet_sd, "model.diffusion_model.")
    sd.update(_half(clip_sd))
    sd.update(_half(_taesd(seed + 2).state_dict(), "first_stage_model."))
    return sd


def write_sd15_checkpoint(path, seed: int = 0):
    with torch.no_grad():
        save_file(sd15_state_dict(seed), str(path))


def write_sd2_checkpoint(path, v_prediction: bool = True, seed: int = 0):
    with torch.no_grad():
        save_file(sd2_state_dict(v_prediction, seed), str(path))
