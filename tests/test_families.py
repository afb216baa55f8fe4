"""Model families: what the nodes read from the host's model (family, prediction, latent
factor, native size, decoder stages, mutual-attention range), on tiny models of each
family's host classes and on the real architectures built on the meta device (shapes
only, no weights), and refusal of the families the pack cannot serve before any UNet pass."""
import dataclasses

import pytest
import torch

import comfy.ldm.modules.attention as host_attention
import comfy.model_patcher
import comfy.patcher_extension
import comfy.supported_models
import comfy.model_sampling

from dragnext.dragnext_ops.state import DragEdit
from dragnext.nodes.denoise_node import DragNeXtDenoise
from dragnext.nodes.feature_taps import FEATURE_LAYERS, FeatureTaps, with_feature_taps
from dragnext.nodes.host_unet import PassMeter, run_stage
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.model_family import (
    decoder_stage_factors, default_mutual_attention_from_layer, model_family,
)
from dragnext.nodes.mutual_attention_patch import decoder_self_attention_layers
from dragnext.nodes.pbsi_node import DragNeXtPBSI
from bench.model import family_model
from harness.tiny_models import (
    FAMILY_LAYOUTS, family_conditioning, family_unet_config, tiny_family_model, unet_config,
)
from test_model_untouched import drag_spec

META = torch.device("meta")
# family -> its text encoder's context width, its native image size
REAL = {"sd15": (768, 512), "sd2": (1024, 768), "sdxl": (2048, 1024)}


# ----------------------------------------------------------------- what the nodes read

@pytest.mark.parametrize("family, v, expected", [
    ("sd15", False, ("SD1.x", "SD15", "eps", 8, 512)),
    ("sd2", False, ("SD2.x", "SD20", "eps", 8, 512)),
    ("sd2", True, ("SD2.x", "SD20", "v", 8, 768)),   # the host's own v-prediction test on the weights
    ("sdxl", False, ("SDXL", "SDXL", "eps", 8, 1024)),
])
def test_family_is_read_from_the_host_model(family, v, expected):
    f = model_family(tiny_family_model(family, v_prediction=v))
    assert (f.name, f.config_name, f.prediction, f.latent_factor, f.native_size) == expected


def test_toy_prior_is_an_sd1_family_model():
    from proof.prior import DEFAULT_DIR, load_prior
    model, _, _ = load_prior(DEFAULT_DIR)
    f = model_family(model)
    assert f.name == "SD1.x" and f.latent_factor == 8
    assert f.native_size == 128   # trained on 128 px scenes: no "trained at 512 px" warning on them


def real_architecture(family: str):
    """The family's real UNet (SD1.5 860 M, SD2 768-v 865 M, SDXL 2.6 G parameters) on the meta
    device, as the host's detection configures it (bench/model.py): shapes only, nothing computed."""
    return family_model(family, device=META)


def meta_forward(patcher, family: str, latent_side: int):
    """One forward of the patched UNet on meta tensors with the patcher's object patches and
    transformer options; torch's attention, which needs no free-memory query."""
    context, _ = REAL[family]
    dm = patcher.model.diffusion_model
    options = dict(patcher.model_options["transformer_options"])
    options["optimized_attention_override"] = lambda func, *a, **k: host_attention.attention_pytorch(*a, **k)
    options["wrappers"] = patcher.wrappers   # as the host's sampler hands them to the UNet
    adm = FAMILY_LAYOUTS[family]["adm"]
    y = torch.empty(1, adm, device=META) if adm is not None else None
    patcher.patch_model(load_weights=False)
    try:
        return dm(torch.empty(1, 4, latent_side, latent_side, device=META), torch.empty(1, device=META),
                  context=torch.empty(1, 77, context, device=META), y=y, transformer_options=options)
    finally:
        patcher.unpatch_model(unpatch_weights=False)


# (channels, resolution as a fraction of the latent's side) of each decoder stage's output
STAGES = {"sd15": [(1280, 4), (1280, 2), (640, 1), (320, 1)], "sd2": [(1280, 4), (1280, 2), (640, 1), (320, 1)],
          "sdxl": [(1280, 2), (640, 1), (320, 1)]}
# which of those each feature_layers choice taps: the third stage (diffusers' up_blocks[2],
# the reference's feature_idx 3) on SDXL is its last
TAPPED = {"all_stages": lambda s: s, "third_up_block": lambda s: [s[2]], "last_up_block": lambda s: [s[-1]]}


@pytest.mark.parametrize("family", sorted(REAL))
def test_real_architectures_tap_the_family_channels_and_resolutions(family):
    _, native = REAL[family]
    side = native // 8
    patcher = real_architecture(family)
    for layers in FEATURE_LAYERS:
        taps = FeatureTaps()
        tapped = with_feature_taps(patcher, layers, taps)
        taps.start()
        out = meta_forward(tapped, family, side)
        maps = taps.stop()
        assert out.shape == (1, 4, side, side)
        expected = [(1, ch, side // f, side // f) for ch, f in TAPPED[layers](STAGES[family])]
        assert [tuple(m.shape) for m in maps] == expected, (family, layers)
    assert not patcher.object_patches and patcher.model.diffusion_model.out.__class__ is torch.nn.Sequential


@pytest.mark.parametrize("family, layers, default", [("sd15", 9, 3), ("sd2", 9, 3), ("sdxl", 36, 30)])
def test_real_architectures_mutual_attention_range(family, layers, default):
    dm = real_architecture(family).model.diffusion_model
    found = decoder_self_attention_layers(dm)
    assert len(found) == layers
    first = default_mutual_attention_from_layer(dm)
    assert first == default
    # the shared layers are exactly those of the stages at the latent's resolution and half of it
    factors = decoder_stage_factors(dm)
    assert [factors[b] <= 2 for b, _ in found] == [i >= default for i in range(layers)]
    if family == "sdxl":   # the 640-channel stage: 3 transformers of depth 2
        assert {b for b, _ in found[default:]} == {3, 4, 5}
        assert dm.output_blocks[3][1].transformer_blocks[0].attn1.to_q.weight.shape == (640, 640)


@pytest.mark.parametrize("family", ["sd2", "sdxl"])
def test_tiny_family_features_through_the_host(family):
    """The taps PBSI uses, through the host's sampler: channels are the family's width
    pattern (model_channels 32: 32 x channel_mult) at its stage resolutions."""
    model, cond = tiny_family_model(family), family_conditioning(family)
    side = 16
    expected = [(ch // 10, side // f) for ch, f in STAGES[family]]   # the real widths are 320 x channel_mult
    taps = FeatureTaps()
    out = {}

    def loop(make_unet, latent):
        _, out["maps"] = make_unet(PassMeter("test", 1), taps)(torch.randn(1, 4, side, side), 501, features=True)
        return latent

    with torch.inference_mode():
        run_stage(with_feature_taps(model, "all_stages", taps), cond, torch.zeros(1, 4, side, side), [501], loop)
    assert [(m.shape[1], m.shape[-1]) for m in out["maps"]] == expected


# ----------------------------------------------------------------- refused families

def counting(model_patcher):
    """A clone that counts UNet passes (a host diffusion-model wrapper)."""
    calls = []
    clone = model_patcher.clone()

    def count(executor, *args, **kwargs):
        calls.append(1)
        return executor(*args, **kwargs)

    clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "test_count", count)
    return clone, calls


def tiny_sd15_variant(config_class, in_channels):
    config = config_class({**unet_config(), "in_channels": in_channels})
    model = config.get_model({}, device=torch.device("cpu"))
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def meta_model(config_class, unet):
    model = config_class(unet).get_model({}, device=META)
    return comfy.model_patcher.ModelPatcher(model, load_device=META, offload_device=META)


def flux_dit():
    return meta_model(comfy.supported_models.Flux, {
        "image_model": "flux", "in_channels": 16, "out_channels": 16, "vec_in_dim": 64, "context_in_dim": 64,
        "hidden_size": 64, "mlp_ratio": 4.0, "num_heads": 2, "depth": 1, "depth_single_blocks": 1,
        "axes_dim": [8, 12, 12], "theta": 10000, "qkv_bias": True, "guidance_embed": True, "patch_size": 2})


def svd_video():
    unet = {**family_unet_config("sd2"), "in_channels": 8, "adm_in_channels": 768, "num_classes": "sequential",
            "use_temporal_attention": True, "use_temporal_resblock": True, "merge_strategy": "learned_with_images",
            "merge_factor": 0.0, "video_kernel_size": [3, 1, 1], "disable_temporal_crossattention": False,
            "extra_ff_mix_layer": True, "use_spatial_context": True, "max_ddpm_temb_period": 1000}
    return meta_model(comfy.supported_models.SVD_img2vid, unet)


class X0Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.X0):
    """What the host's ModelSamplingDiscrete node patches in for sampling 'x0'."""


def x0_patched():
    model = tiny_family_model("sd15")
    patched = model.clone()
    patched.add_object_patch("model_sampling", X0Sampling(model.model.model_config))
    return patched


REFUSED = {
    "inpainting": (lambda: tiny_sd15_variant(comfy.supported_models.SD15, 9), "SD15", "an inpainting or edit UNet: it also takes mask, masked_image"),
    "instruct-pix2pix": (lambda: tiny_sd15_variant(comfy.supported_models.SD15_instructpix2pix, 8),
                         "SD15_instructpix2pix", "its host model SD15_instructpix2pix needs other conditioning"),
    "DiT": (flux_dit, "Flux", "not an SD1.x, SD2.x or SDXL UNet"),
    "video": (svd_video, "SVD_img2vid", "not an SD1.x, SD2.x or SDXL UNet"),
    "x0 sampling": (x0_patched, "SD15", "it predicts X0"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_refused_family_is_named_before_any_unet_pass(kind, tiny_model, tiny_cond):
    build, name, why = REFUSED[kind]
    refused, calls = counting(build())
    message = f"^model: DragNeXt cannot edit with this {name} model \\({why}"
    latent = torch.zeros(1, 4, 8, 8)
    with torch.inference_mode():
        with pytest.raises(ValueError, match=message):
            DragNeXtInversion.execute(refused, {"samples": latent}, tiny_cond, 10, 0.5)
        (inversion,) = DragNeXtInversion.execute(tiny_model, {"samples": latent}, tiny_cond, 10, 0.5).args
        with pytest.raises(ValueError, match=message):
            DragNeXtPBSI.execute(refused, inversion, drag_spec(), tiny_cond, 1, 1, 0.02, 0.2, "all_stages", "paper", method="paper")
        edit = DragEdit(inversion, 1, edited=inversion.inverted, original=inversion.inverted, losses=[])
        with pytest.raises(ValueError, match=message):
            DragNeXtDenoise.execute(refused, edit, tiny_cond, True, -1)
    assert calls == []



def _with(cond, **options):
    return [[cond[0][0], {**cond[0][1], **options}]]


UNUSABLE_CONDITIONING = {
    "two entries (Conditioning Combine)": (lambda c: c + c, "one prompt \\(one conditioning entry\\), got 2"),
    "no entry": (lambda c: [], "one prompt \\(one conditioning entry\\), got 0"),
    "an area": (lambda c: _with(c, area=(8, 8, 0, 0), strength=1.0), "area or mask conditioning"),
    "a mask": (lambda c: _with(c, mask=torch.ones(1, 8, 8)), "area or mask conditioning"),
    "a timestep range": (lambda c: _with(c, start_percent=0.5, end_percent=1.0), "a timestep range"),
}


@pytest.mark.parametrize("kind", sorted(UNUSABLE_CONDITIONING))
def test_conditioning_the_stages_cannot_use_is_named_before_any_unet_pass(kind, tiny_model, tiny_cond):
    """Two entries would be batched [orig, edit, orig, edit]: mutual attention would share
    nothing and PBSI would read the first entry's features, both without an error."""
    make, message = UNUSABLE_CONDITIONING[kind]
    bad = make(tiny_cond)
    model, calls = counting(tiny_model)
    latent = torch.zeros(1, 4, 8, 8)
    with torch.inference_mode():
        (inversion,) = DragNeXtInversion.execute(model, {"samples": latent}, tiny_cond, 10, 0.5).args
        passes = len(calls)
        with pytest.raises(ValueError, match="^conditioning: .*" + message):
            DragNeXtInversion.execute(model, {"samples": latent}, bad, 10, 0.5)
        with pytest.raises(ValueError, match="^conditioning: .*" + message):
            DragNeXtPBSI.execute(model, inversion, drag_spec(), bad, 1, 1, 0.02, 0.2, "all_stages", "paper",
                                 method="paper")
        edit = DragEdit(inversion, 1, edited=inversion.inverted, original=inversion.inverted, losses=[])
        with pytest.raises(ValueError, match="^conditioning: .*" + message):
            DragNeXtDenoise.execute(model, edit, bad, True, -1)
    assert len(calls) == passes


def test_pbsi_names_a_controlnet_before_any_unet_pass(tiny_model, tiny_cond):
    """The host's ControlNet, built in inference mode as its loader builds it: the inversion
    runs through it, PBSI's backward pass could not, so PBSI refuses it up front."""
    import comfy.cldm.cldm
    import comfy.controlnet
    import comfy.ops
    from harness.tiny_models import init_weights
    model, calls = counting(tiny_model)
    with torch.inference_mode():
        config = {k: v for k, v in unet_config().items()
                  if k not in ("out_channels", "use_temporal_attention", "use_temporal_resblock")}
        net = comfy.cldm.cldm.ControlNet(hint_channels=3, device=torch.device("cpu"),
                                         operations=comfy.ops.disable_weight_init, **config)
        init_weights(net, 1)
        control = comfy.controlnet.ControlNet(net, load_device=torch.device("cpu")).copy().set_cond_hint(
            torch.rand(1, 3, 64, 64), 1.0, (0.0, 1.0))
        cond = _with(tiny_cond, control=control, control_apply_to_uncond=False)
        (inversion,) = DragNeXtInversion.execute(model, {"samples": torch.zeros(1, 4, 8, 8)}, cond, 10, 0.5).args
        passes = len(calls)
        with pytest.raises(ValueError, match="^conditioning: PBSI .* ControlNet .*from before Apply ControlNet"):
            DragNeXtPBSI.execute(model, inversion, drag_spec(), cond, 1, 1, 0.02, 0.2, "all_stages", "paper",
                                 method="paper")
    assert len(calls) == passes > 0


def test_a_latent_of_another_model_is_named_before_any_unet_pass(tiny_model, tiny_cond):
    model, calls = counting(tiny_model)
    with torch.inference_mode():
        with pytest.raises(ValueError, match="^latent: a 16-channel latent, but this SD1.x model takes 4 channels; "
                                             "encode the image with this model's VAE"):
            DragNeXtInversion.execute(model, {"samples": torch.zeros(1, 16, 8, 8)}, tiny_cond, 10, 0.5)
        (inversion,) = DragNeXtInversion.execute(model, {"samples": torch.zeros(1, 4, 8, 8)}, tiny_cond, 10, 0.5).args
        passes = len(calls)
        other = dataclasses.replace(inversion, latents=[z.repeat(1, 4, 1, 1) for z in inversion.latents])
        with pytest.raises(ValueError, match="^inversion: a 16-channel latent.*invert the image with this model"):
            DragNeXtPBSI.execute(model, other, drag_spec(), tiny_cond, 1, 1, 0.02, 0.2, "all_stages", "paper",
                                 method="paper")
        edit = DragEdit(other, 1, edited=other.inverted, original=other.inverted, losses=[])
        with pytest.raises(ValueError, match="^edit: a 16-channel latent"):
            DragNeXtDenoise.execute(model, edit, tiny_cond, True, -1)
    assert len(calls) == passes


# ----------------------------------------------------------------- SDXL's graph in-process

def test_sdxl_graph_through_the_four_nodes_on_the_host_sdxl_class():
    """What the server test does for SD1.5 and SD2.x, for SDXL in-process: the smallest
    checkpoint the host detects as SDXL needs its full encoder (transformer depths 2 and 10
    at 640 and 1280 channels) and both text encoders (CLIP-L and CLIP-G, 818 M parameters),
    too large to generate and run in CI. Here: the host's SDXL config and model class
    (size-and-pooled-text conditioning, as CLIPTextEncode gives it) at 32 channels."""
    import json
    from dragnext.nodes.spec_node import DragNeXtSpec
    model, cond = tiny_family_model("sdxl", seed=1), family_conditioning("sdxl")
    image = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(2))
    spec = {"version": 1, "operations": [
        {"type": "translate", "handle": [20, 32], "target": [40, 32],
         "region": [{"tool": "brush", "mode": "add", "radius": 8, "points": [[20, 32]]}]}]}
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)) / 0.13025
    with torch.inference_mode():
        (drag,) = DragNeXtSpec.execute(image, json.dumps(spec)).args
        (inversion,) = DragNeXtInversion.execute(model, {"samples": latent}, cond, 10, 0.6).args
        edit, states = DragNeXtPBSI.execute(model, inversion, drag, cond, 2, 2, 0.05, 0.2,
                                            "all_stages", "paper", method="paper").args
        (out,) = DragNeXtDenoise.execute(model, edit, cond, True, -1).args
    assert inversion.passes == {"forward": 6, "forward_backward": 0}
    assert edit.passes == {"forward": 4, "forward_backward": 4}
    assert states["samples"].shape == (2, 4, 8, 8)
    assert out["samples"].shape == (1, 4, 8, 8) and torch.isfinite(out["samples"]).all()
    assert (edit.edited - edit.original).abs().max() > 0
