"""The benchmark counts and times every UNet pass of an edit, and only those: checked on
a tiny model (timings themselves belong to `python -m bench.run`, not to tests)."""
import torch

from bench import report
from bench.edit import run_edit
from bench.presets import Preset
from dragnext.nodes.host_unet import PassMeter


def test_every_pass_is_counted_and_timed(tiny_model, tiny_cond):
    preset = Preset(steps=10, strength=0.5, pbsi_timesteps=2, iterations=3)
    stages = run_edit(tiny_model, tiny_cond, 64, preset, torch.device("cpu"))
    by_name = {s.name: s for s in stages}
    assert [s.name for s in stages] == ["inversion", "spec", "PBSI", "denoise"]
    assert report.count_check(stages, preset) == []
    assert (by_name["PBSI"].forward[0], by_name["PBSI"].forward_backward[0]) == (4, 6)
    assert by_name["denoise"].forward[0] == 3
    assert by_name["inversion"].counted == {"forward": 5, "forward_backward": 0}
    for s in stages:
        assert 0.0 <= s.pass_time <= s.wall
        assert s.peak > 0
    assert PassMeter.timer is None  # the node behaves as without the benchmark afterwards


def test_bare_floor_uses_batch_two_for_denoising():
    from bench.edit import Stage
    stages = [Stage("inversion", 1.0, 1, (2, 0.0)), Stage("PBSI", 1.0, 1, (1, 0.0), (3, 0.0)),
              Stage("denoise", 1.0, 1, (4, 0.0))]
    bare = {"forward_b1": 1.0, "forward_b2": 10.0, "forward_backward_b1": 100.0}
    assert report.bare_floor(stages, bare) == 2 + 1 + 300 + 40
