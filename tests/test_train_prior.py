"""Resumable prior training: N steps straight equal N/2, a resume and N/2 more, bit for bit
(weights, EMA, optimizer, losses); train_log.json adds up the sittings; a checkpoint only
continues the run it came from; a warm start continues a trained prior."""
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from proof.pack import host_on_cpu

host_on_cpu()

from proof import prior  # noqa: E402
from proof.train_prior import CHECKPOINT, equivariance_penalty, interior_cells, train  # noqa: E402
from proof.warm_start import file_sha256  # noqa: E402


@pytest.fixture
def tiny_config(bundled_config):
    config = bundled_config
    config["train"].update(n_scenes=3, warmup=1, batch=2, threads=1)
    return config


def test_a_resumed_run_equals_an_uninterrupted_one(tiny_config, tmp_path):
    straight = train(tiny_config, str(tmp_path / "a"), steps=4, log_every=1)
    first = train(tiny_config, str(tmp_path / "b"), steps=4, log_every=1, until=2)
    assert first["steps"] == 2 and (tmp_path / "b" / CHECKPOINT).is_file()
    resumed = train(tiny_config, str(tmp_path / "b"), steps=4, log_every=1, resume=True)

    a, b = (load_file(str(tmp_path / d / tiny_config["weights"])) for d in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ca, cb = (torch.load(tmp_path / d / CHECKPOINT, weights_only=False) for d in ("a", "b"))
    assert all(torch.equal(ca["net"][k], cb["net"][k]) for k in ca["net"])
    for sa, sb in zip(ca["opt"]["state"].values(), cb["opt"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)  # Adam's moments and step count
    assert torch.equal(ca["generator"], cb["generator"])  # the same data position
    assert [e["loss"] for e in straight["log"]] == [e["loss"] for e in resumed["log"]]

    log = json.loads((tmp_path / "b" / "train_log.json").read_text())
    assert log["steps"] == 4
    assert [(s["from_step"], s["to_step"], s["device"]) for s in log["sittings"]] == [(0, 2, "cpu"), (2, 4, "cpu")]
    assert log["seconds"] >= sum(s["seconds"] for s in log["sittings"]) - 0.2
    assert prior.load_config(str(tmp_path / "b"))["train"]["steps"] == 4  # the folder is a loadable prior
    prior.load_prior(str(tmp_path / "b"))


def test_resume_without_a_checkpoint_starts_afresh_and_a_time_limit_ends_the_sitting(tiny_config, tmp_path):
    summary = train(tiny_config, str(tmp_path), steps=4, log_every=1, resume=True, max_seconds=0)
    assert summary["steps"] == 1 and summary["sittings"] == [dict(summary["sittings"][0], from_step=0, to_step=1)]
    again = train(tiny_config, str(tmp_path), steps=4, log_every=1, resume=True, until=3)
    assert again["steps"] == 3 and len(again["sittings"]) == 2


def test_a_checkpoint_refuses_another_run_but_may_grow_its_steps(tiny_config, tmp_path):
    train(tiny_config, str(tmp_path), steps=2, log_every=1)
    grown = train(tiny_config, str(tmp_path), steps=3, log_every=1, resume=True)
    assert grown["steps"] == 3
    changed = json.loads(json.dumps(tiny_config))
    changed["train"]["lr"] = 0.5
    with pytest.raises(ValueError, match=r"config\.train: differs from the checkpoint"):
        train(changed, str(tmp_path), steps=4, resume=True)


def test_cuda_asked_for_without_one_is_refused_before_any_scene_or_model_work(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device: cuda asked for"):
        train(tiny_config, str(tmp_path / "run"), steps=2, device="cuda")
    assert not (tmp_path / "run").exists()


def test_interior_cells_keep_clear_of_the_borders_and_the_seam():
    # a roll by +2 on 10 cells: out[i] = in[i - 2]; margin 1 keeps i in 1..8 and i - 2 in 1..8
    assert interior_cells(10, 2, 1).nonzero().flatten().tolist() == [3, 4, 5, 6, 7, 8]
    assert interior_cells(10, -3, 2).nonzero().flatten().tolist() == [2, 3, 4]
    assert not interior_cells(6, 3, 2).any()


def test_the_equivariance_penalty_is_zero_only_for_a_shift_equivariant_network():
    torch.manual_seed(0)
    z = torch.randn(3, 4, 16, 16)
    conv = torch.nn.Conv2d(4, 4, 3, padding=1)  # equivariant away from its zero padding
    ramp = torch.linspace(0, 1, 16)[:, None] + torch.linspace(0, 1, 16)  # a network that knows where it is
    weight = torch.ones(3)
    with torch.no_grad():
        for dy, dx in ((1, 0), (-2, 3), (3, -1)):
            rolled = torch.roll(z, (dy, dx), dims=(-2, -1))
            assert float(equivariance_penalty(conv(z), conv(rolled), dy, dx, 1, weight)) < 1e-12
            assert float(equivariance_penalty(z + ramp, rolled + ramp, dy, dx, 1, weight)) > 1e-3
        # the interior only: at margin 0 the seam and the padding count
        assert float(equivariance_penalty(conv(z), conv(torch.roll(z, (1, 0), dims=(-2, -1))), 1, 0, 0, weight)) > 1e-3
    with pytest.raises(ValueError, match="lower max_cells or margin"):
        equivariance_penalty(z, z, 3, 0, 7, weight)


def test_the_equivariance_term_trains_and_is_checked_before_any_model_work(tiny_config, tmp_path):
    plain = train(tiny_config, str(tmp_path / "plain"), steps=2, log_every=1)
    with_term = json.loads(json.dumps(tiny_config))
    with_term["train"]["equivariance"] = {"weight": 1.0, "max_cells": 1, "margin": 0}
    summary = train(with_term, str(tmp_path / "term"), steps=2, log_every=1)
    assert all(torch.isfinite(torch.tensor(e["loss"])) for e in summary["log"])
    assert [e["loss"] for e in summary["log"]] != [e["loss"] for e in plain["log"]]
    odd = json.loads(json.dumps(with_term))
    odd["train"]["batch"] = 3
    with pytest.raises(ValueError, match=r"config\.train\.equivariance: needs an even batch"):
        train(odd, str(tmp_path / "odd"), steps=1)
    assert not (tmp_path / "odd").exists()  # refused before the folder, the scenes or the UNet


def _parent(tiny_config, tmp_path):
    """A trained tiny prior and a config that continues it (train.init pinned by its hash)."""
    train(tiny_config, str(tmp_path / "parent"), steps=2, log_every=1)
    child = json.loads(json.dumps(tiny_config))
    weights = tmp_path / "parent" / tiny_config["weights"]
    child["train"]["init"] = {"prior": str(tmp_path / "parent"), "sha256": file_sha256(str(weights))}
    return child, load_file(str(weights))


def test_a_warm_start_begins_at_the_parents_weights_and_context(tiny_config, tmp_path):
    child, parent = _parent(tiny_config, tmp_path)
    child["train"]["lr"] = 0.0  # no step moves the weights: the EMA stays the parent's
    train(child, str(tmp_path / "child"), steps=2, log_every=1)
    got = load_file(str(tmp_path / "child" / tiny_config["weights"]))
    assert got.keys() == parent.keys() and all(torch.equal(got[k], parent[k]) for k in parent)
    cold = json.loads(json.dumps(child))
    del cold["train"]["init"]  # the same run from random weights ends elsewhere: the equality above is the init's
    train(cold, str(tmp_path / "cold"), steps=2, log_every=1)
    cold_w = load_file(str(tmp_path / "cold" / tiny_config["weights"]))
    assert not torch.equal(cold_w["input_blocks.0.0.weight"], parent["input_blocks.0.0.weight"])

    child["train"]["lr"] = tiny_config["train"]["lr"]  # it trains on, and a checkpoint resumes it, not the parent
    train(child, str(tmp_path / "grow"), steps=2, log_every=1, until=1)
    resumed = train(child, str(tmp_path / "grow"), steps=2, log_every=1, resume=True)
    assert resumed["train"]["init"] == child["train"]["init"] and resumed["steps"] == 2


def test_a_warm_start_may_change_the_latent_scale(tiny_config, tmp_path):
    """The child starts at the parent's weights and keeps its own scale (a continuation that re-learns
    the noise levels, proof/configs/prior_half_scale.json)."""
    child, parent = _parent(tiny_config, tmp_path)
    child.update(latent_scale=tiny_config["latent_scale"] / 2)
    child["train"]["lr"] = 0.0
    summary = train(child, str(tmp_path / "child"), steps=1, log_every=1)
    got = load_file(str(tmp_path / "child" / tiny_config["weights"]))
    assert all(torch.equal(got[k], parent[k]) for k in parent)
    assert prior.load_config(str(tmp_path / "child"))["latent_scale"] == tiny_config["latent_scale"] / 2
    assert summary["steps"] == 1


@pytest.mark.parametrize("change, message", [
    (lambda c: c["train"]["init"].update(sha256="0" * 64), r"config\.train\.init\.sha256: .* hashes to"),
    (lambda c: c["unet"].update(model_channels=32), r"config\.unet: .* differs from the parent's"),
    (lambda c: c["latent"].update(sigma=3.0), r"config\.latent: .* differs from the parent's"),
    (lambda c: c["train"].update(init="models/toy_prior"), r"config\.train\.init: expected"),
])
def test_a_warm_start_from_the_wrong_parent_is_refused_before_any_work(tiny_config, tmp_path, change, message):
    child, _ = _parent(tiny_config, tmp_path)
    change(child)
    with pytest.raises(ValueError, match=message):
        train(child, str(tmp_path / "child"), steps=1)
    assert not (tmp_path / "child").exists()


def test_a_warm_start_on_another_decoder_is_refused(tiny_config, tmp_path):
    from proof import autoencoder
    child, _ = _parent(tiny_config, tmp_path)
    latent = child["latent"]
    torch.manual_seed(1)
    other = autoencoder.ConvAutoencoder(prior.LATENT_CHANNELS, latent["widths"], latent["sigma"], latent["filters"])
    latent["autoencoder"] = autoencoder.save(other, str(tmp_path / "other_ae"))
    with pytest.raises(ValueError, match=r"config\.latent: the autoencoder in .* is not the one in"):
        train(child, str(tmp_path / "child"), steps=1)


@pytest.mark.parametrize("name", ["prior_gpu_more.json", "prior_gpu_more_1e4.json"])
def test_the_committed_continuation_configs_continue_the_bundled_prior(tmp_path, name):
    """proof/configs/prior_gpu_more*.json (the next GPU run's) name the bundled weights by their hash
    (bundling others leaves it pointing at a parent that is gone, and this fails until it is updated):
    its first steps' loss is the trained prior's, a cold start's is the untrained network's."""
    from proof import autoencoder
    config = json.loads((Path(prior.DEFAULT_DIR).parent.parent / "proof" / "configs" / name).read_text())
    bundled = prior.load_config()
    assert config["train"]["scene_seed_base"] >= bundled["train"]["scene_seed_base"] + bundled["train"]["n_scenes"]
    config["latent"]["autoencoder"] = str(tmp_path / "ae")
    autoencoder.extract_from_prior(prior.DEFAULT_DIR, config["latent"]["autoencoder"])
    config["train"].update(n_scenes=32, batch=16, threads=2)
    warm = train(config, str(tmp_path / "warm"), steps=2, log_every=1)
    del config["train"]["init"]
    cold = train(config, str(tmp_path / "cold"), steps=2, log_every=1)
    assert max(e["loss"] for e in warm["log"]) < 0.02 < 0.5 < min(e["loss"] for e in cold["log"])
