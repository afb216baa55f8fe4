"""The feature layer options, named for what they are, on the real SD1.5 UNet architecture:
all_stages (the paper), third_up_block (the reference code's feature_idx 3) and last_up_block."""
import pytest
import torch

import comfy.model_patcher
import comfy.supported_models

from bench.model import SD15_UNET, conditioning
from dragnext.nodes.feature_taps import FeatureTaps, stage_outputs, tapped_stages, with_feature_taps
from dragnext.nodes.host_unet import PassMeter, run_stage

LATENT = 16   # a 128-px image: the shapes, not the pictures, are under test


@pytest.fixture(scope="module")
def sd15():
    """SD1.5's UNet with unset weights (torch.empty): every shape is real, no value matters."""
    model = comfy.supported_models.SD15(dict(SD15_UNET)).get_model({}, device=torch.device("cpu"))
    model.diffusion_model.requires_grad_(False)
    cpu = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)


def tapped_shapes(model, layers):
    taps = FeatureTaps()
    patched = with_feature_taps(model, layers, taps)
    seen = {}

    def loop(make_unet, latent):
        _, maps = make_unet(PassMeter("test", 1), taps)(torch.zeros(1, 4, LATENT, LATENT), 741, features=True)
        seen["shapes"] = [tuple(m.shape) for m in maps]
        return latent

    with torch.inference_mode():
        run_stage(patched, conditioning(), torch.zeros(1, 4, LATENT, LATENT), [741], loop)
    return seen["shapes"]


def test_sd15_decoder_stages(sd15):
    assert stage_outputs(sd15.get_model_object("diffusion_model")) == [3, 6, 9, "out"]


@pytest.mark.parametrize("layers,shapes", [
    ("third_up_block", [(1, 640, LATENT, LATENT)]),            # the reference's, at the latent's resolution
    ("last_up_block", [(1, 320, LATENT, LATENT)]),
    ("all_stages", [(1, 1280, LATENT // 4, LATENT // 4), (1, 1280, LATENT // 2, LATENT // 2),
                    (1, 640, LATENT, LATENT), (1, 320, LATENT, LATENT)]),   # 3520 channels in all
])
def test_sd15_tapped_maps(sd15, layers, shapes):
    assert tapped_shapes(sd15, layers) == shapes


def test_a_decoder_of_two_stages_has_no_third(tiny_model):
    dm = tiny_model.get_model_object("diffusion_model")
    assert tapped_stages(dm, "last_up_block") == ["out"]
    with pytest.raises(ValueError, match="^feature_layers: 'third_up_block' needs a decoder of at least 3 stages"):
        tapped_stages(dm, "third_up_block")
    with pytest.raises(ValueError, match="^feature_layers: unknown 'mid_block'"):
        tapped_stages(dm, "mid_block")
