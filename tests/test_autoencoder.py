"""The convolutional autoencoder latent: the latent shift and the equivariance measure are
right (the PCA patch latent is exact at whole-patch shifts, not below), and a prior on the
autoencoder's latent trains, stores the autoencoder and serves it through the host's VAE class."""
import json
import os

import pytest
import torch

from proof.pack import host_on_cpu

host_on_cpu()

from proof import autoencoder, prior  # noqa: E402
from proof.train_prior import scene_images, to_pixels, train  # noqa: E402


def test_shift_latent_moves_by_whole_and_fractional_cells():
    z = torch.randn(1, 2, 8, 8)
    rolled = autoencoder.shift_latent(z, 2, -1)
    assert torch.allclose(rolled[..., 1:-1, 2:], torch.roll(z, (-1, 2), (-2, -1))[..., 1:-1, 2:], atol=1e-5)
    ramp = torch.arange(8.0).expand(1, 1, 8, 8).clone()
    assert torch.allclose(autoencoder.shift_latent(ramp, 0.25, 0)[..., 1:], ramp[..., 1:] - 0.25, atol=1e-5)


@pytest.fixture(scope="module")
def images():
    return to_pixels(scene_images(2, 500_000, 128))


def test_equivariance_error_is_zero_for_the_patch_latent_at_whole_patches_only(images):
    basis = prior.fit_basis(images.double())
    errors = autoencoder.equivariance_error(lambda x: prior.encode_patches(x, basis), images,
                                            shifts=((8, 0), (8, 8), (3, 0)))
    assert errors["(8,0)"] < 1e-5 and errors["(8,8)"] < 1e-5 and errors["(3,0)"] > 0.1


def test_a_prior_on_the_autoencoder_latent_trains_and_loads_through_the_host_vae(images, tmp_path):
    import comfy.sd
    torch.set_num_threads(1)
    ae, summary = autoencoder.train_autoencoder(images, 2, batch=2, log=lambda *_: None)
    assert summary["steps"] == 2
    ae_dir = autoencoder.save(ae, str(tmp_path / "ae"))
    config = prior.load_config()
    config["train"].update(n_scenes=2, warmup=1, batch=2, threads=1)
    config["latent"] = {"kind": "conv_ae", "autoencoder": ae_dir, "widths": list(ae.widths)}
    config["latent_scale"] = autoencoder.latent_scale(ae, images)
    train(json.loads(json.dumps(config)), str(tmp_path / "prior"), steps=2, log_every=1)

    model, vae, cond = prior.load_prior(str(tmp_path / "prior"))
    assert isinstance(vae, comfy.sd.VAE)
    image = (images[:1].movedim(1, -1) + 1) / 2
    latent = vae.encode(image)
    with torch.no_grad():
        expected = ae.encode(images[:1])
        assert latent.shape == (1, prior.LATENT_CHANNELS, 16, 16)
        assert torch.allclose(latent, expected, atol=1e-4)
        assert torch.allclose(vae.decode(latent)[0].movedim(-1, 0),
                              ((ae.decode(expected)[0] + 1) / 2).clamp(0, 1), atol=1e-4)
    assert model.model.latent_format.scale_factor == pytest.approx(config["latent_scale"])
    from proof.prior_quality import host_codec
    encode, decode = host_codec(model.model, vae)
    with torch.no_grad():  # proof.prior_quality's pixels <-> the model's scaled latent
        assert torch.allclose(encode(images[:1]), expected * config["latent_scale"], atol=1e-4)
        assert torch.allclose(decode(encode(images[:1])), ae.decode(expected).clamp(-1, 1), atol=1e-4)
    with pytest.raises(ValueError, match="config.latent.kind"):
        prior.latent_kind({"latent": {"kind": "vq"}})


def test_the_filterbank_encoder_moves_with_whole_cells_exactly_and_sub_cell_shifts_smoothly(images):
    fb = autoencoder.FilterbankEncoder(sigma=4.0, filters="isotropic")  # the bundled prior's encoder
    z = fb(images)
    assert z.shape == (len(images), 16, 16, 16)
    # content moved by one whole cell: the latent moves by one cell (away from the padded border)
    moved = torch.roll(images, (8, 8), (-2, -1))
    assert torch.allclose(fb(moved)[..., 4:-4, 4:-4], torch.roll(z, (1, 1), (-2, -1))[..., 4:-4, 4:-4], atol=1e-5)
    basis = prior.fit_basis(images.double())
    shifts = ((2, 0), (3, 5))
    errors = autoencoder.equivariance_error(fb, images, shifts=shifts)
    pca = autoencoder.equivariance_error(lambda x: prior.encode_patches(x, basis), images, shifts=shifts)
    assert all(errors[k] < 0.6 * pca[k] for k in errors), (errors, pca)  # 0.38 and 0.47 of the PCA's


def test_a_filterbank_autoencoder_trains_only_its_decoder_and_round_trips_its_folder(images, tmp_path):
    before = autoencoder.FilterbankEncoder(sigma=4.0).kernel.clone()
    ae, _ = autoencoder.train_autoencoder(images, 2, batch=2, sigma=4.0, log=lambda *_: None)
    assert not list(ae.encoder.parameters()) and torch.equal(ae.encoder.kernel, before)
    autoencoder.save(ae, str(tmp_path))
    (tmp_path / "autoencoder.json").write_text(json.dumps({"latent_channels": 16, "widths": list(ae.widths),
                                                           "sigma": 4.0}))
    loaded = autoencoder.load(str(tmp_path))
    with torch.no_grad():
        assert torch.equal(loaded.encode(images), ae.encode(images))
        assert torch.allclose(loaded.decode(ae.encode(images)), ae.decode(ae.encode(images)))


def test_whitening_gains_give_every_channel_unit_variance_and_leave_the_round_trip_unchanged(images):
    ae = autoencoder.ConvAutoencoder(16, (8, 16, 16), 4.0, "isotropic")
    gains = autoencoder.whitening_gains(ae, images)
    config = {"latent": {"widths": [8, 16, 16], "sigma": 4.0, "filters": "isotropic", "gains": gains}}
    white = prior.autoencoder_from(autoencoder.state_dict_for_prior(ae), config)  # as a prior's config builds it
    with torch.no_grad():
        z = white.encode(images)
        assert torch.allclose(z.transpose(0, 1).flatten(1).std(1), torch.ones(16), atol=1e-4)
        assert max(gains) > 2 * min(gains)  # the Laplacians' channels are the weak ones
        assert torch.allclose(white.decode(z), ae.decode(ae.encode(images)), atol=1e-5)
    with pytest.raises(ValueError, match="gains"):
        autoencoder.ConvAutoencoder(16, (8, 16, 16), 4.0, "isotropic", gains[:3])


def test_the_isotropic_filterbank_turns_with_the_image_and_the_jet_does_not(images):
    iso = autoencoder.FilterbankEncoder(sigma=4.0, filters="isotropic")
    jet = autoencoder.FilterbankEncoder(sigma=4.0)

    def turn(x):
        return torch.rot90(x, 1, (-2, -1))

    inner = (..., slice(4, -4), slice(4, -4))  # away from the replicate-padded border
    assert torch.allclose(iso(turn(images))[inner], turn(iso(images))[inner], atol=1e-5)
    assert not torch.allclose(jet(turn(images))[inner], turn(jet(images))[inner], atol=1e-2)
    with pytest.raises(ValueError, match="filters"):
        autoencoder.FilterbankEncoder(filters="gabor")


def _filterbank_folder(images, folder, seed: int, sigma: float = 4.0, widths=(16, 32, 48), half_extent=None,
                       stride: int = 8):
    ae, _ = autoencoder.train_autoencoder(images, 2, batch=2, seed=seed, sigma=sigma, filters="isotropic",
                                          widths=widths, stride=stride, log=lambda *_: None)
    autoencoder.save(ae, str(folder))
    (folder / "autoencoder.json").write_text(json.dumps({"latent_channels": 16, "widths": list(ae.widths),
                                                         "sigma": sigma, "filters": "isotropic", "stride": stride,
                                                         "half_extent": half_extent, "reconstruction_l1": 0.5}))
    return ae


def test_a_filterbank_prior_takes_another_decoder_and_keeps_its_unet(images, tmp_path):
    from proof.redecode import redecode
    torch.set_num_threads(1)
    first = _filterbank_folder(images, tmp_path / "ae", seed=0)
    config = prior.load_config()
    config["train"].update(n_scenes=2, warmup=1, batch=2, threads=1)
    config["latent"] = {"kind": "conv_ae", "autoencoder": str(tmp_path / "ae"), "widths": list(first.widths),
                        "sigma": 4.0, "filters": "isotropic"}
    config["latent_scale"] = autoencoder.latent_scale(first, images)
    train(json.loads(json.dumps(config)), str(tmp_path / "prior"), steps=2, log_every=1)
    second = _filterbank_folder(images, tmp_path / "ae2", seed=1, widths=(16, 24, 64))

    new_config = redecode(str(tmp_path / "prior"), str(tmp_path / "ae2"), str(tmp_path / "prior2"))
    assert new_config["latent"]["widths"] == [16, 24, 64] == prior.load_config(str(tmp_path / "prior2"))["latent"]["widths"]
    (old, _, _), (new, vae, _) = prior.load_prior(str(tmp_path / "prior")), prior.load_prior(str(tmp_path / "prior2"))
    old_sd, new_sd = old.model.diffusion_model.state_dict(), new.model.diffusion_model.state_dict()
    assert all(torch.equal(old_sd[k], new_sd[k]) for k in old_sd)
    with torch.no_grad():
        z = second.encode(images[:1])
        assert torch.allclose(vae.decode(z)[0].movedim(-1, 0), ((second.decode(z)[0] + 1) / 2).clamp(0, 1), atol=1e-4)
        assert not torch.allclose(second.decode(z), first.decode(z), atol=1e-3)  # the decoder did change
    log = json.loads((tmp_path / "prior2" / "train_log.json").read_text())
    assert log["steps"] == 2 and log["latent_reconstruction_l1"] == 0.5 and log["decoder_from"] == str(tmp_path / "ae2")

    _filterbank_folder(images, tmp_path / "ae_sigma3", seed=0, sigma=3.0)
    with pytest.raises(ValueError, match="sigma"):
        redecode(str(tmp_path / "prior"), str(tmp_path / "ae_sigma3"), str(tmp_path / "prior3"))
    assert not (tmp_path / "prior3").exists()
    _filterbank_folder(images, tmp_path / "ae_stride4", seed=0, stride=4)
    with pytest.raises(ValueError, match="stride"):
        redecode(str(tmp_path / "prior"), str(tmp_path / "ae_stride4"), str(tmp_path / "prior3"))
    _filterbank_folder(images, tmp_path / "ae_big", seed=0, half_extent=[0.3, 0.4])
    config["half_extent"] = [0.16, 0.24]
    (tmp_path / "prior" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="half extent"):
        redecode(str(tmp_path / "prior"), str(tmp_path / "ae_big"), str(tmp_path / "prior3"))
    (tmp_path / "pca").mkdir()
    (tmp_path / "pca" / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "latent"}))
    with pytest.raises(ValueError, match="fixed filterbank"):
        redecode(str(tmp_path / "pca"), str(tmp_path / "ae2"), str(tmp_path / "prior4"))


def test_the_stride_4_filterbank_halves_the_cell_and_moves_with_whole_cells_exactly(images):
    fb = autoencoder.FilterbankEncoder(sigma=2.0, filters="isotropic", stride=4)
    z = fb(images)
    assert z.shape == (len(images), 16, 32, 32)
    moved = torch.roll(images, (4, -8), (-2, -1))  # one cell down, two left
    assert torch.allclose(fb(moved)[..., 6:-6, 6:-6], torch.roll(z, (1, -2), (-2, -1))[..., 6:-6, 6:-6], atol=1e-5)
    ae = autoencoder.ConvAutoencoder(16, (8, 16, 16), 2.0, "isotropic", stride=4)
    with torch.no_grad():
        assert ae.decode(ae.encode(images)).shape == images.shape  # one upsampling fewer than stride 8's
    with pytest.raises(ValueError, match="stride: the learned encoder"):
        autoencoder.ConvAutoencoder(16, (8, 16, 16), None, stride=4)
    with pytest.raises(ValueError, match="stride: 2 is not one of"):
        autoencoder.FilterbankEncoder(sigma=2.0, stride=2)


def test_a_stride_4_prior_serves_a_quarter_size_latent_that_the_nodes_edit(images, tmp_path):
    """The host VAE and the latent format declare 4; the nodes read it (model_family) and
    run a whole drag on the 32x32 latent of a 128 px scene."""
    import numpy as np

    from proof import methods, scenes
    from proof.pack import pack_module
    torch.set_num_threads(1)
    _filterbank_folder(images, tmp_path / "ae", seed=0, sigma=2.0, widths=(8, 16, 16), stride=4)
    with open(os.path.join(os.path.dirname(prior.__file__), "configs", "prior_iso2s4.json")) as f:
        config = json.load(f)
    config["train"].update(n_scenes=2, warmup=1, batch=2, threads=1)
    config["latent"].update(autoencoder=str(tmp_path / "ae"), widths=[8, 16, 16])
    config["latent_scale"] = 5.0
    train(json.loads(json.dumps(config)), str(tmp_path / "prior"), steps=2, log_every=1)
    model, vae, cond = prior.load_prior(str(tmp_path / "prior"))
    assert vae.downscale_ratio == 4 and vae.encode((images[:1].movedim(1, -1) + 1) / 2).shape == (1, 16, 32, 32)
    assert pack_module("nodes.model_family").model_family(model).latent_factor == 4
    scene = scenes.make_scene(3, "translate")
    edited, _ = methods.dragnext(methods.Settings.quick())(model, vae, cond, scene, {})
    assert edited.shape == scene.image.shape and np.isfinite(edited).all()
    pasted, _ = methods.copy_paste(methods.Settings.quick())(model, vae, cond, scene, {})
    assert pasted.shape == scene.image.shape
    config["latent"] = {"kind": "patch_pca", "stride": 4}
    with pytest.raises(ValueError, match="config.latent.stride"):
        prior.latent_stride(config)


def test_a_priors_stored_autoencoder_is_written_out_as_the_one_it_serves(images, tmp_path):
    """`proof.autoencoder --from-prior`: the decoder a new prior trains on comes out of the bundled
    weights (out/ does not outlive a session), and is the very autoencoder the prior's VAE runs."""
    meta = autoencoder.extract_from_prior(prior.DEFAULT_DIR, str(tmp_path / "ae"))
    config = prior.load_config()
    assert meta["widths"] == config["latent"]["widths"] and meta["sigma"] == config["latent"]["sigma"]
    written = autoencoder.load(str(tmp_path / "ae"))
    _, vae, _ = prior.load_prior()
    with torch.no_grad():
        z = written.encode(images)
        assert torch.equal(z, vae.first_stage_model.encode(images))
        assert torch.equal(written.decode(z), vae.first_stage_model.decode(z))


def test_a_prior_without_an_autoencoder_is_refused_before_its_weights_are_read(tmp_path):
    config = prior.load_config()
    config["latent"] = {"kind": "patch_pca"}
    config["weights"] = "missing.safetensors"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="only a 'conv_ae' prior stores an autoencoder"):
        autoencoder.extract_from_prior(str(tmp_path), str(tmp_path / "ae"))
    assert not (tmp_path / "ae").exists()
