"""The toy prompt (proof/prompt.py): each scene's objects named as kind and hue tokens in the
prior's context; a prompted training run sees the unprompted run's batches, stores its token
table, resumes bit for bit and trains with the equivariance term; a prompted prior is evaluated
with each scene's prompt."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from proof.pack import host_on_cpu

host_on_cpu()

from proof import objects, prior, prompt  # noqa: E402
from proof.scenes import make_scene  # noqa: E402
from proof.train_prior import CHECKPOINT, scene_data, train  # noqa: E402
from proof.warm_start import file_sha256  # noqa: E402


def test_a_prompt_names_each_objects_kind_and_nearest_hue():
    scene_objects = [{"kind": "triangle", "colour": (0.95, 0.1, 0.05)}, {"kind": "disc", "colour": (0.1, 0.2, 0.9)}]
    codes = prompt.object_codes(scene_objects)
    assert codes.tolist() == [[objects.KINDS.index("triangle"), 0], [objects.KINDS.index("disc"), 4], [-1, -1]]
    assert prompt.hue_index((0.9, 0.9, 0.1)) == 1 and prompt.hue_index((1.0, 0.0, 0.1)) == 0  # hue wraps at red
    with pytest.raises(ValueError, match="at most 3 objects"):
        prompt.object_codes(scene_objects * 2)


def test_a_context_replaces_one_token_per_object_and_is_the_empty_prompt_without_objects():
    table = prompt.token_table(8, seed=1)
    empty = torch.randn((1, 77, 8), generator=torch.Generator().manual_seed(2))
    codes = torch.tensor([[[2, 0], [0, 4], [-1, -1]], [[-1, -1]] * 3])
    ctx = prompt.contexts(codes, empty, table)
    kinds, hues = table[prompt.KINDS_KEY], table[prompt.HUES_KEY]
    assert torch.equal(ctx[0, 0], kinds[2] + hues[0]) and torch.equal(ctx[0, 1], kinds[0] + hues[4])
    assert torch.equal(ctx[0, 2:], empty[0, 2:])  # the rest of the prompt is the empty one
    assert torch.equal(ctx[1], empty[0])          # no objects named: the prompt ""
    assert torch.equal(prompt.token_table(8, seed=1)[prompt.KINDS_KEY], kinds)  # reproducible from its seed


def test_a_scenes_prompt_names_its_own_objects_and_training_sees_them():
    scene = make_scene(502_000, "translate")
    cond = prompt.conditioning(prompt.object_codes(scene.objects), torch.zeros((1, 77, 8)),
                                 prompt.token_table(8, seed=1))
    named = int((cond[0][0][0].abs().sum(-1) > 0).sum())
    assert named == len(scene.objects) and cond[0][1] == {}
    images, codes = scene_data(2, 1_000_000, 128)
    assert codes.shape == (4, prompt.MAX_OBJECTS, 2) and np.array_equal(codes[0], codes[1])  # an edit keeps them
    first = make_scene(1_000_000, "translate")
    assert np.array_equal(codes[0], prompt.object_codes(first.objects))
    assert np.array_equal(images[0], np.round(first.image * 255))


@pytest.fixture
def prompted_config(bundled_config):
    config = bundled_config
    config["train"].update(n_scenes=3, warmup=1, batch=2, threads=1, prompt={"seed": 7, "drop": 0.5})
    return config


def test_a_prompted_run_stores_its_table_resumes_bit_for_bit_and_draws_the_unprompted_runs_data(
        prompted_config, tmp_path):
    straight = train(prompted_config, str(tmp_path / "a"), steps=4, log_every=1)
    train(prompted_config, str(tmp_path / "b"), steps=4, log_every=1, until=2)
    resumed = train(prompted_config, str(tmp_path / "b"), steps=4, log_every=1, resume=True)
    assert [e["loss"] for e in straight["log"]] == [e["loss"] for e in resumed["log"]]
    ca, cb = (torch.load(tmp_path / d / CHECKPOINT, weights_only=False) for d in ("a", "b"))
    assert torch.equal(ca["drop_generator"], cb["drop_generator"])  # the resumed sitting went on drawing drops
    a, b = (load_file(str(tmp_path / d / prompted_config["weights"])) for d in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    table = prompt.token_table(int(prompted_config["unet"]["context_dim"]), 7)
    assert all(torch.equal(a[k], table[k]) for k in table)
    assert prior.prompt_table(str(tmp_path / "a")).keys() == table.keys()
    prior.load_prior(str(tmp_path / "a"))  # the UNet loads without the table's tensors

    plain = json.loads(json.dumps(prompted_config))
    del plain["train"]["prompt"]
    unprompted = train(plain, str(tmp_path / "c"), steps=4, log_every=1)
    cc = torch.load(tmp_path / "c" / CHECKPOINT, weights_only=False)
    assert torch.equal(ca["generator"], cc["generator"])  # the same batches, poses and noise
    assert [e["loss"] for e in unprompted["log"]] != [e["loss"] for e in straight["log"]]  # other contexts
    assert prior.prompt_table(str(tmp_path / "c")) is None


@pytest.mark.parametrize("value", [{"seed": 1}, {"seed": 1, "drop": 1.0}, {"seed": 1, "drop": 0.1, "x": 0}])
def test_a_malformed_prompt_is_refused_before_any_scene_is_rendered(prompted_config, tmp_path, value):
    prompted_config["train"]["prompt"] = value
    with pytest.raises(ValueError, match="config.train.prompt"):
        train(prompted_config, str(tmp_path), steps=1)
    assert not (tmp_path / "config.json").exists() and not list(tmp_path.glob("scenes_*"))


def test_a_warm_start_from_a_prompted_prior_is_refused(prompted_config, tmp_path):
    train(prompted_config, str(tmp_path / "parent"), steps=1, log_every=1)
    child = json.loads(json.dumps(prompted_config))
    weights = tmp_path / "parent" / prompted_config["weights"]
    child["train"]["init"] = {"prior": str(tmp_path / "parent"), "sha256": file_sha256(str(weights))}
    with pytest.raises(ValueError, match="prompted prior"):
        train(child, str(tmp_path / "child"), steps=1)


def test_a_prompted_run_trains_with_the_equivariance_term(prompted_config, tmp_path):
    prompted_config["train"]["equivariance"] = {"weight": 0.1, "max_cells": 1, "margin": 0}
    summary = train(prompted_config, str(tmp_path), steps=2, log_every=1)
    assert summary["steps"] == 2 and all(np.isfinite(e["loss"]) for e in summary["log"])


def test_the_evaluation_edits_each_scene_with_its_prompt_on_a_prompted_prior(prompted_config, tmp_path, monkeypatch):
    from proof import evaluate, methods
    train(prompted_config, str(tmp_path / "prior"), steps=1, log_every=1)
    seen = []

    def spy(model, vae, cond, scene, shared):
        seen.append((cond, scene))
        return scene.image, 0.0

    monkeypatch.setattr(methods, "all_methods", lambda settings: {"spy": spy})
    evaluate.evaluate(2, str(tmp_path / "eval"), methods.Settings(), op_types=("translate",),
                      prior_dir=str(tmp_path / "prior"), sheet_scenes=0)
    empty = prior.load_prior(str(tmp_path / "prior"))[2][0][0]
    table = prior.prompt_table(str(tmp_path / "prior"))
    assert len(seen) == 2
    for cond, scene in seen:
        want = prompt.contexts(torch.from_numpy(prompt.object_codes(scene.objects))[None], empty, table)
        assert torch.equal(cond[0][0], want) and not torch.equal(cond[0][0], empty)
    plain = [[empty, {}]]
    assert prompt.scene_conditioning(plain, None, seen[0][1]) is plain  # an unprompted prior keeps its own
