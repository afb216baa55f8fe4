"""Which model family the user's MODEL is, and what that means for DragNeXt: the latent's
downscale factor, the image size the family was trained at, whether it predicts noise or
v, and the decoder self-attention layers mutual attention shares by default.

Models the pack cannot serve (inpainting and instruct-edit UNets, unCLIP, upscalers, DiTs,
video models, non-discrete samplers) are refused here, with the family named, before any
UNet pass. Everything is read from the host's own objects, not from SD1.5 constants.
"""
import logging
from dataclasses import dataclass

import comfy.model_base
import comfy.model_sampling
import comfy.supported_models
from comfy.ldm.modules.diffusionmodules.openaimodel import Upsample, UNetModel

from .mutual_attention_patch import decoder_self_attention_layers

# Every SD1.x/SD2.x/SDXL VAE (and the toy prior's 8x8 patches) maps 8x8 pixels to a cell.
# Hosts newer than 0.3.75 declare it on the latent format (spacial_downscale_ratio).
SD_VAE_FACTOR = 8
SERVED = "SD1.x, SD2.x and SDXL UNets predicting noise (eps) or v"

# host model config class, the host model class it must build (other classes take other
# conditioning: unCLIP, upscalers, instruct-pix2pix), family, native size for eps and v.
_FAMILIES = (
    (comfy.supported_models.SDXL, comfy.model_base.SDXL, "SDXL", 1024, 1024),
    (comfy.supported_models.SD20, comfy.model_base.BaseModel, "SD2.x", 512, 768),
    (comfy.supported_models.SD15, comfy.model_base.BaseModel, "SD1.x", 512, 512),
)
_PREDICTIONS = {comfy.model_sampling.EPS: "eps", comfy.model_sampling.V_PREDICTION: "v"}


@dataclass(frozen=True)
class ModelFamily:
    name: str           # "SD1.x", "SD2.x" or "SDXL"
    config_name: str    # the host's model config class, e.g. "SD20"
    prediction: str     # "eps" or "v"
    latent_factor: int  # image pixels per latent cell, per side
    native_size: int    # the image side the family was trained at, in pixels
    latent_channels: int  # the latent's channels, from the host's latent format


def _refuse(config_name: str, why: str):
    raise ValueError(f"model: DragNeXt cannot edit with this {config_name} model ({why}); it serves {SERVED}")


def _prediction(sampling, config_name: str) -> str:
    mro = type(sampling).__mro__[1:]  # the host builds class ModelSampling(discrete, prediction)
    discrete = next((c for c in mro if issubclass(c, comfy.model_sampling.ModelSamplingDiscrete)), None)
    if discrete is not comfy.model_sampling.ModelSamplingDiscrete:
        _refuse(config_name, f"it samples with {type(sampling).__name__}, not a discrete DDPM schedule")
    mixin = next((c for c in mro if issubclass(c, comfy.model_sampling.EPS)), None)
    if mixin not in _PREDICTIONS:
        _refuse(config_name, f"it predicts {getattr(mixin, '__name__', 'neither eps nor v')}")
    return _PREDICTIONS[mixin]


def model_family(model_patcher) -> ModelFamily:
    """The family of the host MODEL, or a ValueError naming it when the pack cannot serve it."""
    model = model_patcher.model
    config = model.model_config
    name = type(config).__name__
    family = next((f for f in _FAMILIES if isinstance(config, f[0])), None)
    if family is None:
        _refuse(name, "not an SD1.x, SD2.x or SDXL UNet")
    config_class, model_class, family_name, eps_size, v_size = family
    if not isinstance(model_patcher.get_model_object("diffusion_model"), UNetModel):
        _refuse(name, "its diffusion model is not a UNet")
    if model.concat_keys:
        _refuse(name, f"an inpainting or edit UNet: it also takes {', '.join(model.concat_keys)}")
    if type(model) is not model_class:
        _refuse(name, f"its host model {type(model).__name__} needs other conditioning than {family_name}")
    if config.unet_config.get("use_temporal_attention") or config.unet_config.get("use_temporal_resblock"):
        _refuse(name, "a video UNet")
    prediction = _prediction(model_patcher.get_model_object("model_sampling"), name)
    factor = getattr(model.latent_format, "spacial_downscale_ratio", SD_VAE_FACTOR)
    # a model trained at another size may say so on its config (the pack's toy prior: 128 px)
    native = getattr(config, "native_image_size", None) or (v_size if prediction == "v" else eps_size)
    channels = int(model.latent_format.latent_channels)
    return ModelFamily(family_name, name, prediction, int(factor), int(native), channels)


def check_latent_channels(family: ModelFamily, latent, field: str, fix: str):
    """A latent of another model (16 channels into an SD1.x UNet's 4) would fail
    inside the first UNet pass; refuse it first, naming the input."""
    if latent.shape[1] != family.latent_channels:
        raise ValueError(f"{field}: a {latent.shape[1]}-channel latent, but this {family.name} model takes "
                         f"{family.latent_channels} channels; {fix}")


def warn_if_not_native(family: ModelFamily, height: int, width: int):
    """Families edit best near the size they were trained at; other sizes still run."""
    if max(height, width) * 2 < family.native_size or min(height, width) > 2 * family.native_size:
        logging.warning("DragNeXt: %s models are trained at %d px; this image is %dx%d",
                        family.name, family.native_size, width, height)


def decoder_stage_factors(diffusion_model) -> list:
    """For each output block, its downscale factor relative to the latent (1: full size)."""
    blocks = diffusion_model.output_blocks
    upsamplers = [any(isinstance(layer, Upsample) for layer in block) for block in blocks]
    levels = sum(upsamplers)
    factors, seen = [], 0
    for has_upsampler in upsamplers:
        factors.append(2 ** (levels - seen))
        seen += has_upsampler
    return factors


def default_mutual_attention_from_layer(diffusion_model) -> int:
    """The first decoder self-attention layer of the decoder's higher-resolution half: the
    stages at the latent's resolution and at half of it. On SD1.x/SD2.x that is 3 of 9
    (the reference's layers 10..15 of 16); on SDXL 30 of 36 (its 64x64 stage at 1024 px,
    the 640-channel blocks; the 30 layers before are the 1280-channel stage at 32x32)."""
    factors = decoder_stage_factors(diffusion_model)
    layers = decoder_self_attention_layers(diffusion_model)
    fine = [i for i, (block_id, _) in enumerate(layers) if factors[block_id] <= 2]
    if not layers:
        raise ValueError("mutual_attention: this model's decoder has no self-attention layers; switch it off")
    return fine[0] if fine else len(layers) - 1
