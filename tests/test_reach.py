"""PBSI's reach (proof/reach.py): the projections are right on constructed latents, the ground
truth's trajectory is the PBSI node's own original branch when given the same inversion, and
through the host a tiny learning rate leaves the latent where it was."""
import dataclasses
import math

import pytest
import torch

from proof.pack import host_on_cpu

host_on_cpu()

from proof import methods as M  # noqa: E402
from proof import prior, reach, scenes  # noqa: E402


def test_projections_count_the_dragged_cells_only():
    g0 = torch.Generator().manual_seed(0)
    o, g, c = (torch.randn(1, 4, 6, 6, generator=g0) for _ in range(3))
    cells = torch.zeros(6, 6, dtype=torch.bool)
    cells[1:4, 2:5] = True
    outside = torch.randn(1, 4, 6, 6, generator=g0) * ~cells  # changes outside the cells count for nothing
    moved = reach.projections(o + c + outside, o, g, c, cells)
    assert moved["content_progress"] == pytest.approx(1.0)
    assert moved["moved_max"] == pytest.approx(float(c[..., cells].abs().max()))
    assert moved["needed_q99"] == pytest.approx(float(c[..., cells].abs().flatten().quantile(0.99)), rel=1e-6)
    assert moved["needed_q99"] < moved["moved_max"]
    still = reach.projections(o + outside, o, g, c, cells)
    assert still["content_progress"] == pytest.approx(0.0, abs=1e-12) and still["progress"] == pytest.approx(0.0, abs=1e-12)
    at_truth = reach.projections(g + outside, o, g, c, cells)
    assert at_truth["progress"] == pytest.approx(1.0) and at_truth["cosine"] == pytest.approx(1.0)
    assert at_truth["content_share"] == pytest.approx(float(c[..., cells].norm() / (g - o)[..., cells].norm()))
    with pytest.raises(ValueError, match="cells"):
        reach.projections(o, o, g, c, torch.zeros(6, 6, dtype=torch.bool))


def test_object_cells_cover_both_poses():
    scene = scenes.make_scene(502000, "translate")
    cells = reach.object_cells(scene, (16, 16))
    op = scene.operations[0]
    for mask in (scene.masks[op["object"]], scene.edited_masks[op["object"]]):
        ys, xs = mask.nonzero()
        assert len(ys) and cells[ys // 8, xs // 8].all()
    assert not cells.all()


def test_through_the_host_the_truth_trajectory_is_the_nodes_original_and_a_tiny_step_stays():
    torch.set_num_threads(1)
    model, vae, cond = prior.load_prior()
    settings = M.Settings.quick()
    scene = scenes.make_scene(502000, "translate", world=scenes.World.bundled())  # a scene of the prior's own world
    inv, drag, _ = M._inversion(model, vae, cond, scene, settings, {})
    edit = M._out(M.node_classes()["DragNeXtPBSI"].execute(
        model, inv, drag, cond, pbsi_timesteps=settings.pbsi_timesteps, iterations=1, lr=0.02, mask_weight=0.2))
    assert torch.allclose(reach.plain_trajectory(model, cond, inv, settings.pbsi_timesteps), edit.original, atol=1e-5)

    paper = dataclasses.replace(settings, iterations=2, method="paper")   # PBSI's steps only: a known count
    tiny = reach.scene_reach(model, vae, cond, scene, paper, [1e-4, 0.2])
    assert abs(tiny[1e-4]["content_progress"]) < 0.02 and abs(tiny[1e-4]["progress"]) < 0.02
    assert tiny[0.2]["content_progress"] > 10 * abs(tiny[1e-4]["content_progress"])  # towards the moved content
    # Adam's steps are about lr each: 2 iterations x 3 timesteps, which the quick schedule's DDIM steps (100
    # timesteps apart) carry forward growing by up to about 2.5 (1e-4: 0.0015), bound the move by 3 budgets
    for lr in (1e-4, 0.2):
        assert tiny[lr]["budget"] == pytest.approx(6 * lr)
        assert 0.5 * lr < tiny[lr]["moved_max"] < 3 * tiny[lr]["budget"], (lr, tiny[lr])
    # the default's budget counts its point-drag stage's Adam steps too (one per forward+backward pass)
    default = reach.scene_reach(model, vae, cond, scene, dataclasses.replace(settings, iterations=2), [1e-4])[1e-4]
    assert default["budget"] > tiny[1e-4]["budget"] + 1e-4
    assert 0 < tiny[0.2]["content_share"] and math.isfinite(tiny[0.2]["content_share"])  # |c| / |g - o|: above 1 where the inversions differ less than the content
