"""scripts/device_train_prior.sh, the prepared GPU training command, dry-run on the CPU with tiny
configs: two runs side by side, their steps set from the measured rate, their weights split for the
device tool and joined back here into priors that load; bad configs refused before any model work."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proof.pack import host_on_cpu

host_on_cpu()

from proof import prior  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "device_train_prior.sh"
PROBE = 20


def tiny_configs(tmp_path, folder="configs", **train):
    (tmp_path / folder).mkdir()
    paths = []
    for name, gamma in (("a", 5.0), ("b", None)):
        config = prior.load_config()
        config["unet"]["model_channels"] = 32
        config["latent"]["autoencoder"] = str(tmp_path / "ae")
        config["train"].update(dict(n_scenes=3, batch=2, threads=1, warmup=PROBE, min_snr_gamma=gamma), **train)
        path = tmp_path / folder / f"{name}.json"
        path.write_text(json.dumps(config))
        paths.append(str(path))
    return paths


def run_script(tmp_path, *args):
    env = dict(os.environ, PY=sys.executable, DEVICE="cpu", PROBE=str(PROBE), LOG_EVERY="5",
               WORK=str(tmp_path / "work"), OUT=str(tmp_path / "out"))
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=600)


def test_the_dry_run_trains_side_by_side_and_its_split_weights_join_into_priors(tmp_path):
    done = run_script(tmp_path, "75", *tiny_configs(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "s a step side by side" in done.stdout
    for name in ("gpu_a", "gpu_b"):
        parts = sorted((tmp_path / "out").glob(f"{name}.safetensors.part*"))
        assert [p.name[-1] for p in parts] == ["0", "1"]
        joined = tmp_path / "joined" / name
        subprocess.run(["bash", str(SCRIPT), "--join", str(tmp_path / "out"), str(joined)], check=True)
        assert (joined / "toy_prior.safetensors").read_bytes() == (tmp_path / "work" / name /
                                                                   "toy_prior.safetensors").read_bytes()
        log = json.loads((joined / "train_log.json").read_text())
        steps = prior.load_config(str(joined))["train"]["steps"]
        assert log["steps"] == steps and steps >= PROBE and (steps - PROBE) % 100 == 0
        first = [(0, 1), (1, PROBE)] if name == "gpu_a" else [(0, PROBE)]  # the first run renders the scenes
        assert [(s["from_step"], s["to_step"]) for s in log["sittings"]] == first + [(PROBE, steps)]
        prior.load_prior(str(joined))
    assert (tmp_path / "out" / "device.log").read_text().count("s a step side by side") == 1


@pytest.mark.parametrize("change, message", [
    ({"warmup": PROBE - 1}, "is under the 20 steps run before the total is known"),
    ({"n_scenes": 4}, "the configs differ in their scenes or decoder"),
    ({"init": {"prior": "models/toy_prior", "sha256": "0" * 64}}, "train.init.sha256 is not the hash of"),
])
def test_configs_the_script_cannot_train_are_refused_before_any_model_work(tmp_path, change, message):
    a, _ = tiny_configs(tmp_path)
    _, b = tiny_configs(tmp_path, "changed", **change)
    done = run_script(tmp_path, "75", a, b)
    assert done.returncode != 0 and message in done.stdout + done.stderr
    assert not (tmp_path / "work").exists() and not (tmp_path / "ae").exists()
