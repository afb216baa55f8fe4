"""The project's toy diffusion prior: a small UNet of the host's SD1.5 family
(comfy.supported_models.SD15, BaseModel, EPS, SD1 discrete schedule) on one of two latents
(config.latent.kind): "conv_ae", the bundled prior's, a fixed anti-aliased filterbank encoder
with a learned decoder (proof/autoencoder.py), whose latent moves smoothly with sub-cell shifts
as SD's VAE latent does; or "patch_pca", the first prior's, 8x8 pixel patches projected onto a
PCA basis (16 components, one common scale) fitted on training scenes, exact at whole-cell
shifts only.

The latent of an (H, W) image is (16, H/8, W/8), the host's usual 8x downscale, or with
config.latent.stride 4 (the filterbank encoder only) (16, H/4, W/4): the latent format and the
VAE both declare the factor, which the nodes read (nodes/model_family.py).
"""
import json
import os

import torch

import comfy.latent_formats
import comfy.model_management
import comfy.model_patcher
import comfy.sd
import comfy.supported_models

PATCH = 8
PATCH_DIM = 3 * PATCH * PATCH
LATENT_CHANNELS = 16
BASIS_KEYS = ("toy_prior.basis", "toy_prior.mean", "toy_prior.std")  # (16, 192), (192,), (16,)
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "toy_prior")
CONTEXT_KEY = "toy_prior.context"
PROMPT_KEYS = ("toy_prior.prompt_kinds", "toy_prior.prompt_hues")  # proof/prompt.py's table
LATENT_KINDS = ("patch_pca", "conv_ae")  # config.latent.kind: this file's PCA patches, proof/autoencoder.py


class PatchLatent(comfy.latent_formats.LatentFormat):
    """The toy latent's format: 16 channels at 1/stride (the PCA patch latent's name, kept for both kinds)."""
    latent_channels = LATENT_CHANNELS

    def __init__(self, scale_factor: float = 2.0, stride: int = PATCH):
        self.scale_factor = scale_factor
        self.spacial_downscale_ratio = stride  # the host's name (newer hosts declare it on every format)


def latent_stride(config: dict) -> int:
    """The latent's downscale factor: config.latent.stride (conv_ae only), 8 by default."""
    stride = int(config.get("latent", {}).get("stride", PATCH))
    if stride != PATCH and latent_kind(config) != "conv_ae":
        raise ValueError(f"config.latent.stride: {stride} needs kind 'conv_ae'; the PCA patch latent is stride {PATCH}")
    return stride


def make_model_config(config: dict):
    """A comfy.supported_models.SD15 whose latent format is the patch latent."""
    latent_scale, stride = float(config["latent_scale"]), latent_stride(config)

    class ToyPriorSD15(comfy.supported_models.SD15):
        latent_format = PatchLatent

        def __init__(self, unet_config):
            super().__init__(unet_config)
            self.latent_format = PatchLatent(latent_scale, stride)

        def inpaint_model(self):
            return False  # the host calls any UNet with more than 4 input channels an inpainter

    unet = dict(config["unet"])
    unet.update(in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS)
    model_config = ToyPriorSD15(unet)
    model_config.set_inference_dtype(torch.float32, None)
    return model_config


def build_base_model(config: dict, init_seed: int | None = None):
    """The host BaseModel for `config`; weights initialised from `init_seed` when given
    (the host's ops leave them uninitialised)."""
    torch.set_flush_denormal(True)
    model = make_model_config(config).get_model({}, device=torch.device("cpu"))
    model.to(torch.float32)
    if init_seed is not None:
        init_weights(model.diffusion_model, init_seed)
    return model


def is_residual_branch_end(name: str) -> bool:
    """The last layer of a res block's or a transformer's residual branch (DDPM's zero_module)."""
    return name.endswith("out_layers.3") or name.endswith("proj_out")


def init_weights(net: torch.nn.Module, seed: int):
    """Norms to identity, biases to zero, weights ~ N(0, 1/fan_in); the last layer of each
    residual branch and the output conv start at zero (DDPM's zero_module), so the
    untrained prior is the identity through its skips and predicts eps = 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in net.named_modules():
            norm = isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm))
            for pname, p in m.named_parameters(recurse=False):
                if norm:
                    p.fill_(1.0 if pname == "weight" else 0.0)
                elif pname == "bias" or p.ndim == 1:
                    p.zero_()
                elif name == "out.2" or is_residual_branch_end(name):
                    p.zero_()
                else:
                    p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p[0].numel()) ** 0.5)


def fit_basis(images: torch.Tensor, k: int = LATENT_CHANNELS) -> dict:
    """PCA of the 8x8 patches of (B, 3, H, W) images in [-1, 1]: top-k basis, mean, and one
    common scale for all coefficients (mean variance 1). Not whitened: the colour components
    keep their larger size, so noise at t ~ 750 hides the layout less than the detail."""
    u = torch.nn.functional.pixel_unshuffle(images.to(torch.float64), PATCH).movedim(1, -1).reshape(-1, PATCH_DIM)
    mean = u.mean(0)
    evals, evecs = torch.linalg.eigh(torch.cov((u - mean).T))
    order = torch.argsort(evals, descending=True)[:k]
    basis = evecs[:, order].T.contiguous()
    basis = basis * torch.sign(basis.sum(1, keepdim=True) + 1e-12)  # a fixed sign per component
    scale = evals[order].clamp_min(1e-8).mean().sqrt().expand(k)  # stored per component: the loader reads any scale
    return {BASIS_KEYS[0]: basis.float(), BASIS_KEYS[1]: mean.float(), BASIS_KEYS[2]: scale.float().contiguous()}


def encode_patches(pixels: torch.Tensor, basis: dict) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> (B, 16, H/8, W/8) scaled PCA coefficients."""
    b, m, s = (basis[k].to(pixels) for k in BASIS_KEYS)
    u = torch.nn.functional.pixel_unshuffle(pixels, PATCH) - m.view(1, -1, 1, 1)
    return torch.einsum("bchw,kc->bkhw", u, b) / s.view(1, -1, 1, 1)


def decode_patches(samples: torch.Tensor, basis: dict) -> torch.Tensor:
    b, m, s = (basis[k].to(samples) for k in BASIS_KEYS)
    u = torch.einsum("bkhw,kc->bchw", samples * s.view(1, -1, 1, 1), b) + m.view(1, -1, 1, 1)
    return torch.nn.functional.pixel_shuffle(u, PATCH)


class PatchAutoencoder(torch.nn.Module):
    """The PCA patch 'autoencoder' ([-1, 1] pixels), a fixed linear map and its inverse."""

    def __init__(self, basis: dict):
        super().__init__()
        # A parameter so the host's VAE patcher has something to place on a device.
        self.toy_patch_vae = torch.nn.Parameter(torch.tensor(1.0))
        self.basis = {k: v.to(torch.float32) for k, v in basis.items()}

    def encode(self, pixels: torch.Tensor, *_args, **_kwargs) -> torch.Tensor:
        return encode_patches(pixels, self.basis)

    def decode(self, samples: torch.Tensor, *_args, **_kwargs) -> torch.Tensor:
        return decode_patches(samples, self.basis)


class ModuleVAE(comfy.sd.VAE):
    """The host VAE class around a torch autoencoder with encode/decode on [-1, 1] pixels
    and a latent at 1/module.stride (8 when the module does not say), so VAEEncode/VAEDecode
    work on it. Built on the host's own pixel-space VAE path, then given the module and its geometry."""

    def __init__(self, module: torch.nn.Module, latent_channels: int = LATENT_CHANNELS):
        super().__init__(sd={"pixel_space_vae": torch.tensor(1.0)}, dtype=torch.float32)
        self.first_stage_model = module.eval()
        self.patcher = comfy.model_patcher.ModelPatcher(
            self.first_stage_model, load_device=self.device, offload_device=comfy.model_management.vae_offload_device())
        self.downscale_ratio = self.upscale_ratio = int(getattr(module, "stride", PATCH))
        self.latent_channels = latent_channels
        self.size = None


class PatchVAE(ModuleVAE):
    """The PCA patch latent through the host's VAE class."""

    def __init__(self, basis: dict):
        super().__init__(PatchAutoencoder(basis))


def latent_kind(config: dict) -> str:
    kind = config.get("latent", {}).get("kind", "patch_pca")
    if kind not in LATENT_KINDS:
        raise ValueError(f"config.latent.kind: unknown {kind!r}, expected one of {LATENT_KINDS}")
    return kind


def load_autoencoder(config: dict):
    """The convolutional autoencoder named by config.latent.autoencoder (a folder written by
    proof.autoencoder), for training a prior on its latent."""
    import safetensors.torch
    folder = config["latent"]["autoencoder"]
    sd = safetensors.torch.load_file(os.path.join(folder, "autoencoder.safetensors"))
    return autoencoder_from(sd, config)


def autoencoder_from(sd: dict, config: dict):
    """The autoencoder config.latent describes, its weights the AE entries of sd (removed from it)."""
    from . import autoencoder
    latent = config["latent"]
    return autoencoder.from_prior_state_dict(sd, LATENT_CHANNELS, latent["widths"], latent.get("sigma"),
                                            latent.get("filters", "jet"), latent.get("gains"), latent_stride(config))


def image_to_latent(images: torch.Tensor, basis: dict) -> torch.Tensor:
    """IMAGE (B, H, W, 3) in [0, 1] -> LATENT samples (B, 16, H/8, W/8), as PatchVAE.encode."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] % PATCH or images.shape[2] % PATCH:
        raise ValueError(f"expected (B, H, W, 3) with H, W multiples of {PATCH}, got {tuple(images.shape)}")
    return encode_patches(images.movedim(-1, 1) * 2 - 1, basis)


def latent_to_image(samples: torch.Tensor, basis: dict) -> torch.Tensor:
    if samples.ndim != 4 or samples.shape[1] != LATENT_CHANNELS:
        raise ValueError(f"expected (B, {LATENT_CHANNELS}, h, w), got {tuple(samples.shape)}")
    return ((decode_patches(samples, basis) + 1) / 2).clamp(0, 1).movedim(1, -1)


def load_config(directory: str = DEFAULT_DIR) -> dict:
    with open(os.path.join(directory, "config.json")) as f:
        return json.load(f)


def load_prior(directory: str = DEFAULT_DIR):
    """(ModelPatcher, VAE, CONDITIONING) for the prior in `directory` (the committed one by
    default): its latent is the PCA patch latent or, with config.latent.kind "conv_ae", the
    convolutional autoencoder stored with the weights."""
    import safetensors.torch
    config = load_config(directory)
    path = os.path.join(directory, config["weights"])
    if not os.path.isfile(path):
        raise ValueError(f"toy prior weights not found: {path}")
    sd = safetensors.torch.load_file(path)
    context = sd.pop(CONTEXT_KEY).to(torch.float32)
    for key in PROMPT_KEYS:  # a prompted prior's token table: prompt_table reads it
        sd.pop(key, None)
    if latent_kind(config) == "conv_ae":
        vae = ModuleVAE(autoencoder_from(sd, config))
    else:
        vae = PatchVAE({k: sd.pop(k).to(torch.float32) for k in BASIS_KEYS})
    model = build_base_model(config)
    model.diffusion_model.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    model.model_config.native_image_size = config["image_size"]  # nodes/model_family.py reads it
    patcher = comfy.model_patcher.ModelPatcher(
        model, load_device=comfy.model_management.get_torch_device(), offload_device=torch.device("cpu"))
    return patcher, vae, [[context, {}]]


def prompt_table(directory: str = DEFAULT_DIR) -> dict | None:
    """A prompted prior's token table (proof/prompt.py), None for a prior trained on the empty prompt."""
    from safetensors import safe_open
    config = load_config(directory)
    with safe_open(os.path.join(directory, config["weights"]), "pt") as f:
        keys = set(f.keys())
        if not keys & set(PROMPT_KEYS):
            return None
        return {k: f.get_tensor(k).to(torch.float32) for k in PROMPT_KEYS}
