"""The oracle ratio L(ground truth) / L(start): near 0 when the features are shift-equivariant
by construction, 1 when they cannot see the move; offset scenes move the object exactly;
the host path (inversion, feature taps) on the committed prior."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from proof.pack import host_on_cpu

host_on_cpu()

from dragnext_ops.ddim import make_schedule  # noqa: E402
from dragnext_ops.spec import build_spec, parse_spec  # noqa: E402
from proof import oracle, prior  # noqa: E402

SIZE = 128


def translate_spec(dx: int, dy: int):
    spec = {"version": 1, "operations": [
        {"type": "translate", "handle": [44, 60], "target": [44 + dx, 60 + dy],
         "region": [{"tool": "brush", "mode": "add", "radius": 12, "points": [[44, 60]]}]}], "editable": []}
    return build_spec(parse_spec(json.dumps(spec)), SIZE, SIZE)


def schedule():
    alphas = torch.linspace(0.999, 0.01, 1000, dtype=torch.float64)
    return make_schedule(alphas, 50, 0.75)


def smooth_latent(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((1, 4, SIZE // 8, SIZE // 8), generator=g)
    return torch.nn.functional.avg_pool2d(z, 3, 1, 1, count_include_pad=False) * 3


def equivariant(z, t, features=False):
    # several maps, each a shift-equivariant (stride-1) function of the latent
    blurred = torch.nn.functional.avg_pool2d(z, 3, 1, 1, count_include_pad=False)
    return torch.zeros_like(z), [torch.tanh(z), blurred * 2, torch.relu(z)]


@pytest.mark.parametrize("cells", [(2, 0), (1, 1), (0, -3)])
def test_shift_equivariant_features_make_the_ground_truth_nearly_free(cells):
    dx, dy = cells[0] * 8, cells[1] * 8  # whole latent cells, in pixels
    z_start = smooth_latent(0)
    z_truth = torch.roll(z_start, shifts=(cells[1], cells[0]), dims=(-2, -1))
    truth, start = oracle.oracle_losses(equivariant, z_start, z_truth, schedule(), translate_spec(dx, dy))
    assert start > 0.1 and truth / start < 0.02


def test_features_blind_to_the_move_give_a_ratio_of_one():
    z_start = smooth_latent(1)
    z_truth = torch.roll(z_start, shifts=(0, 2), dims=(-2, -1))
    fixed = smooth_latent(2)
    spec = translate_spec(16, 0)

    def ignores_the_latent(z, t, features=False):
        return torch.zeros_like(z), [fixed]

    def position_blind(z, t, features=False):  # sees the content, not where it is
        return torch.zeros_like(z), [z.mean((-2, -1), keepdim=True).expand_as(z) + fixed]

    for denoiser in (ignores_the_latent, position_blind):
        truth, start = oracle.oracle_losses(denoiser, z_start, z_truth, schedule(), spec)
        assert start > 0.1 and truth == pytest.approx(start, rel=1e-5)


def test_the_loss_is_pbsi_feature_term_at_the_full_offset():
    # Features = the latent itself: the loss at the start is 10 x mean |F[target] - F[handle]|.
    z = smooth_latent(3)
    spec = translate_spec(16, 8)
    truth, start = oracle.oracle_losses(lambda z, t, features=False: (z, [z]), z, z, schedule(), spec)
    grid = torch.nn.functional.interpolate(z, (SIZE // 2, SIZE // 2), mode="bilinear", align_corners=False)[0]
    rows, cols = np.nonzero(spec.operations[0].region[::2, ::2])
    expected = 10 * (grid[:, rows + 4, cols + 8] - grid[:, rows, cols]).abs().mean()
    assert truth == start == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("offset", [(16, 16), (13, 19), (3, 2)])
def test_offset_scenes_move_the_dragged_object_by_exactly_the_offset(offset):
    scene = oracle.dev_scenes(offset, 1, oracle.DEV_SEED_BASE)[0]
    op = scene.operations[0]
    dx, dy = scene.meta["offset"]
    assert (abs(dx), abs(dy)) == offset
    assert (op["target"][0] - op["handle"][0], op["target"][1] - op["handle"][1]) == (dx, dy)
    k = op["object"]
    assert np.array_equal(np.roll(scene.masks[k], (dy, dx), axis=(0, 1)), scene.edited_masks[k])
    assert scene.editable_mask[scene.edited_masks[k]].all() and scene.editable_mask[scene.masks[k]].all()
    others = [i for i in range(len(scene.objects)) if i != k]
    assert all(np.array_equal(scene.masks[i], scene.edited_masks[i]) for i in others)
    oracle.drag_spec(scene)  # a valid spec for the nodes


def test_development_seeds_are_apart_from_evaluation_and_training():
    config = prior.load_config()
    assert oracle.DEV_SEED_BASE > 29 and oracle.DEV_SEED_BASE + 10 ** 5 < config["train"]["scene_seed_base"]


def test_through_the_host_a_ground_truth_equal_to_the_original_gives_exactly_one():
    torch.set_num_threads(1)
    model, vae, cond = prior.load_prior()
    scene = oracle.dev_scenes((16, 0), 1, oracle.DEV_SEED_BASE)[0]
    still = dataclasses.replace(scene, edited=scene.image.copy())
    r = oracle.scene_ratio(model, vae, cond, still)
    assert r["start"] > 0.1 and r["ratio"] == pytest.approx(1.0, abs=1e-6)
    assert r["clean_latent_ratio"] == pytest.approx(1.0, abs=1e-6) == r["inverted_latent_ratio"]
    # a whole-cell move: the stride-8 latent moves exactly with it, its inversion no more than that
    moved = oracle.scene_ratio(model, vae, cond, scene)
    assert moved["clean_latent_ratio"] < 0.1 and moved["inverted_latent_ratio"] > moved["clean_latent_ratio"]
    # a shorter inversion ends at a lower noise level: its latent keeps more of the clean one's equivariance
    shallow = oracle.scene_ratio(model, vae, cond, scene, strength=0.1)
    assert shallow["clean_latent_ratio"] == pytest.approx(moved["clean_latent_ratio"])
    assert shallow["inverted_latent_ratio"] < moved["inverted_latent_ratio"], (shallow, moved)


def test_the_latent_only_ratio_is_zero_for_whole_cell_moves_and_one_for_no_move():
    from proof import autoencoder
    fb = autoencoder.FilterbankEncoder(sigma=4.0)
    scene = oracle.dev_scenes((16, 16), 1, oracle.DEV_SEED_BASE)[0]
    r = oracle.latent_ratio(fb, scene)
    assert r["start"] > 0.1 and r["ratio"] < 0.1
    still = dataclasses.replace(scene, edited=scene.image.copy())
    assert oracle.latent_ratio(fb, still)["ratio"] == pytest.approx(1.0, abs=1e-6)


def tiny_conv_ae_config(folder, **unet) -> dict:
    """A prior config on an untrained isotropic-filterbank latent saved in folder."""
    from proof import autoencoder
    autoencoder.save(autoencoder.ConvAutoencoder(16, (8, 16, 16), 4.0, "isotropic"), str(folder))
    config = json.loads(json.dumps(prior.load_config()))
    config["unet"].update(model_channels=32, context_dim=16, **unet)
    config.update(latent_scale=5.0, latent={"kind": "conv_ae", "autoencoder": str(folder), "widths": [8, 16, 16],
                                            "sigma": 4.0, "filters": "isotropic"})
    return config


def test_an_untrained_unet_without_strided_downsampling_keeps_whole_cell_moves_nearly_free(tmp_path):
    torch.set_num_threads(1)
    scenes = oracle.dev_scenes((16, 16), 2, oracle.DEV_SEED_BASE)
    strided = oracle.untrained_ratio_of(tiny_conv_ae_config(tmp_path))  # mults 1-2-2, stride-2 convolutions
    flat = oracle.untrained_ratio_of(tiny_conv_ae_config(
        tmp_path, channel_mult=[1], num_res_blocks=[2], transformer_depth=[1, 1], transformer_depth_output=[1, 1, 1]))
    still = dataclasses.replace(scenes[0], edited=scenes[0].image.copy())
    r_still = strided(still)
    assert r_still["ratio"] == pytest.approx(1.0, abs=1e-6) and r_still["stages"] == 3  # every decoder stage read
    r_flat = [flat(sc)["ratio"] for sc in scenes]
    r_strided = [strided(sc)["ratio"] for sc in scenes]
    assert max(r_flat) < 0.25 and min(r_strided) > 2 * max(r_flat), (r_flat, r_strided)
    with pytest.raises(ValueError, match="conv_ae"):
        oracle.untrained_ratio_of({k: v for k, v in prior.load_config().items() if k != "latent"})  # PCA: fitted by training
