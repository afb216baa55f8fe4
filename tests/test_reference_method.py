"""The node's `reference` method on a small host model: the authors' pipeline (point-drag
stage, then PBSI with the reference's schedule, region and features), its progress bar and
its inputs."""
import math

import numpy as np
import pytest
import torch

import comfy.utils

from dragnext.dragnext_ops.spec import DragOperation, DragSpec
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.pbsi_node import DragNeXtPBSI, resolve
from harness.tiny_models import tiny_sd15

SIZE = 64


@pytest.fixture
def three_stage():
    """A tiny SD1.5-family model whose decoder has the three stages the reference's layer needs."""
    return tiny_sd15(seed=1, channel_mult=(1, 2, 2))


@pytest.fixture
def inversion(three_stage, tiny_cond):
    latent = torch.randn(1, 4, SIZE // 8, SIZE // 8, generator=torch.Generator().manual_seed(3)) * 4
    with torch.inference_mode():
        (inv,) = DragNeXtInversion.execute(three_stage, {"samples": latent}, tiny_cond, 10, 0.5).args
    return inv


def spec():
    region = np.zeros((SIZE, SIZE), dtype=bool)
    region[24:40, 12:28] = True
    editable = np.zeros((SIZE, SIZE), dtype=bool)
    editable[16:48, 8:56] = True
    return DragSpec(SIZE, SIZE, [DragOperation("translate", (20.0, 32.0), (44.0, 32.0), None, region)], editable)


def run(model, inv, cond, **inputs):
    """Each method's own features unless `inputs` say otherwise."""
    inputs = {"feature_layers": "method default", **inputs}
    with torch.inference_mode():
        return DragNeXtPBSI.execute(model, inv, spec(), cond, 3, 4, 0.05, 0.2, **inputs).args[0]


def test_method_defaults_resolve_to_each_methods_own():
    assert resolve("paper", "method default", "method default") == ("all_stages", "paper")
    assert resolve("reference", "method default", "method default") == ("third_up_block", "reference")
    assert resolve("reference", "all_stages", "final") == ("all_stages", "final")
    with pytest.raises(ValueError, match="^method"):
        resolve("diffusers", "method default", "method default")


def test_reference_method_runs_the_point_drag_stage_then_pbsi(three_stage, tiny_cond, inversion):
    progress = []
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: progress.append((value, total)))
    try:
        edit = run(three_stage, inversion, tiny_cond, method="reference", point_drag_timesteps=2,
                   tracks_per_timestep=2, steps_per_track=2)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert (edit.edited - edit.original).abs().max() > 1e-3
    # PBSI: 3 timesteps of 4 iterations, a 12-cell drag ramped over all 3 (reference
    # schedule) and truncated: every state moves at least a cell, so every iteration steps
    assert len(edit.losses) == 12
    stage_bound = 2 * 2 * 2
    fb = edit.passes["forward_backward"]
    assert 12 < fb <= 12 + stage_bound and edit.passes["forward"] == 6
    # the bar's total is the bound, and it ends full however early the stage stopped
    total = 3 + stage_bound + 12 + 3
    assert progress and all(t == total for _, t in progress) and progress[-1][0] == total


def test_paper_method_has_no_point_drag_stage(three_stage, tiny_cond, inversion):
    paper = run(three_stage, inversion, tiny_cond, method="paper", point_drag_timesteps=2)
    assert paper.passes == {"forward": 6, "forward_backward": 12}
    # reference with the stage off differs from the paper only in its geometry and features
    ref = run(three_stage, inversion, tiny_cond, method="reference", point_drag_timesteps=0)
    assert ref.passes == {"forward": 6, "forward_backward": 12}
    assert (ref.edited - paper.edited).abs().max() > 1e-4


def test_reference_inputs_are_checked_before_any_pass(three_stage, tiny_cond, inversion):
    with pytest.raises(ValueError, match="^point_drag_timesteps"):
        run(three_stage, inversion, tiny_cond, method="reference", point_drag_timesteps=4)
    with pytest.raises(ValueError, match="^feature_layers: 'third_up_block'"):
        # the fixture's default tiny model has two decoder stages
        run(tiny_sd15(seed=0), inversion, tiny_cond, method="reference")


def test_schema_lists_the_reference_knobs_after_the_old_inputs():
    ids = [i.id for i in DragNeXtPBSI.define_schema().inputs]
    old = ["model", "inversion", "drag", "conditioning", "pbsi_timesteps", "iterations", "lr", "mask_weight",
           "feature_layers", "progress_schedule"]
    assert ids[:len(old)] == old      # saved workflows list widget values in this order
    assert ids[len(old):] == ["method", "point_drag_timesteps", "tracks_per_timestep", "steps_per_track",
                              "motion_radius", "track_radius", "motion_step", "reach_distance", "no_change_patience",
                              "activation_checkpointing"]
    defaults = {i.id: i.default for i in DragNeXtPBSI.define_schema().inputs if hasattr(i, "default")}
    assert (defaults["point_drag_timesteps"], defaults["tracks_per_timestep"], defaults["steps_per_track"],
            defaults["motion_radius"], defaults["track_radius"]) == (3, 10, 3, 4, 12)
    assert math.isclose(defaults["motion_step"], 4.0) and math.isclose(defaults["reach_distance"], 2.0)
    assert defaults["no_change_patience"] == 10
    assert defaults["activation_checkpointing"] is False
    # the default: the authors' pipeline on the paper's features (proof/README.md says why)
    assert (defaults["method"], defaults["feature_layers"], defaults["progress_schedule"]) == (
        "reference", "all_stages", "method default")
