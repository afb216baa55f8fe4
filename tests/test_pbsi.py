"""PBSI on the tiny model through the host adapter, by the pack's node."""
import math

import numpy as np
import pytest
import torch

from dragnext.dragnext_ops.pbsi import latent_keep_mask
from dragnext.dragnext_ops.spec import DragOperation, DragSpec
from dragnext.nodes.feature_taps import FeatureTaps, stage_outputs, with_feature_taps
from dragnext.nodes.host_unet import PassMeter, run_stage
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.pbsi_node import DragNeXtPBSI
from test_families import counting

SIZE = 64          # image pixels: an 8x8 latent, a 32x32 feature grid


@pytest.fixture
def inversion(tiny_model, tiny_cond):
    latent = torch.randn(1, 4, SIZE // 8, SIZE // 8, generator=torch.Generator().manual_seed(3)) * 4
    with torch.inference_mode():
        (inv,) = DragNeXtInversion.execute(tiny_model, {"samples": latent}, tiny_cond, 10, 0.5).args
    assert inv.schedule.timesteps == (401, 301, 201, 101, 1)
    return inv


def box(r0, r1, c0, c1):
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def translate_spec(handle=(20.0, 32.0), target=(40.0, 32.0), editable=None):
    return DragSpec(SIZE, SIZE, [DragOperation("translate", handle, target, None, box(24, 40, 12, 28))], editable)


def pbsi_outputs(model, inv, spec, cond, n=2, k=4, lr=0.05, mask_weight=0.2, layers="last_up_block",
                 schedule="paper", **inputs):
    """The node's (edit, states); the paper's method unless `inputs` say otherwise."""
    inputs = {"method": "paper", **inputs}
    with torch.inference_mode():   # as the host runs nodes
        return DragNeXtPBSI.execute(model, inv, spec, cond, n, k, lr, mask_weight, layers, schedule, **inputs).args


def pbsi_node(*args, **kwargs):
    return pbsi_outputs(*args, **kwargs)[0]


# ------------------------------------------------------------------------------------------

def _odd_pixels():
    m = np.zeros((SIZE, SIZE), dtype=bool)
    m[21:41:2, 13:29:2] = True   # 80 pixels, none on the feature grid's even rows and columns
    return m


# built directly: the spec parser refuses the zero-length and sub-cell translations itself
UNSUPERVISABLE = {
    "zero-length translate": ("paper", DragOperation("translate", (20.0, 32.0), (20.0, 32.0), None, box(24, 40, 12, 28)),
                              "target: at full length the drag moves no cell"),
    "1-px translate": ("reference", DragOperation("translate", (20.0, 32.0), (21.0, 32.0), None, box(24, 40, 12, 28)),
                       "target: at full length the drag moves no cell"),
    "zero-angle rotate": ("paper", DragOperation("rotate", (20.0, 32.0), (20.0, 32.0), (36.0, 32.0), box(24, 40, 12, 28)),
                          "target: at full length the drag moves no cell"),
    "region off the grid": ("paper", DragOperation("translate", (21.5, 33.5), (41.5, 33.5), None, _odd_pixels()),
                            "region: covers no cell of the feature grid"),
    "centre in the handle's cell": ("reference", DragOperation("rotate", (31.0, 30.0), (20.0, 40.0), (32.0, 30.0),
                                                               box(24, 40, 12, 40)), "center: in the same feature cell"),
}


@pytest.mark.parametrize("case", sorted(UNSUPERVISABLE))
def test_a_drag_pbsi_cannot_supervise_is_refused_before_any_pass(tiny_model, tiny_cond, inversion, case):
    """Every state would be skipped (or, for the reference's angle between cells, turned the
    wrong way), and the edit would silently be none."""
    method, op, message = UNSUPERVISABLE[case]
    model, calls = counting(tiny_model)
    spec = DragSpec(SIZE, SIZE, [op], box(16, 48, 8, 56))
    with pytest.raises(ValueError, match=r"^drag: operations\[0\]\." + message):
        pbsi_node(model, inversion, spec, tiny_cond, n=3, k=3, method=method)
    assert calls == []


def test_a_drag_moves_the_latent(tiny_model, tiny_cond, inversion):
    edit = pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, n=2, k=4, lr=0.05)
    assert (edit.edited - edit.original).abs().max() > 1e-2
    assert edit.pbsi_timesteps == 2 and edit.remaining_timesteps == (201, 101, 1)
    assert not edit.edited.requires_grad and edit.edited.grad_fn is None


@pytest.mark.parametrize("layers", ["last_up_block", "all_stages"])
def test_pbsi_lowers_its_feature_loss(tiny_model, tiny_cond, inversion, layers):
    # eta = 1 throughout, so every iteration of a timestep chases the same target
    k = 8
    result = pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, n=2, k=k, lr=0.1, mask_weight=0.2,
                       layers=layers, schedule="final")
    passes = result.passes
    assert len(result.losses) == 2 * k
    for i in range(2):
        feature = [loss[0] for loss in result.losses[i * k:(i + 1) * k]]
        assert all(math.isfinite(f) for f in feature)
        assert feature[-1] < 0.9 * feature[0], feature
    assert result.losses[-1][0] < 0.6 * result.losses[0][0]
    assert passes == {"forward": 4, "forward_backward": 2 * k}


def test_mask_term_holds_the_latent_outside_the_editable_area(tiny_model, tiny_cond, inversion):
    editable = box(16, 48, 8, 48)
    spec = translate_spec(editable=editable)
    keep = latent_keep_mask(spec, (8, 8), "cpu")
    assert keep.shape == (1, 1, 8, 8) and 0 < keep.sum() < 64
    held = pbsi_node(tiny_model, inversion, spec, tiny_cond, n=2, k=6, lr=0.05, mask_weight=0.5)
    free = pbsi_node(tiny_model, inversion, spec, tiny_cond, n=2, k=6, lr=0.05, mask_weight=0.0)
    outside = lambda e: ((e.edited - e.original).abs() * keep).sum().item()  # noqa: E731
    assert outside(held) < 0.3 * outside(free), (outside(held), outside(free))
    assert all(loss[1] == 0.0 for loss in free.losses) and any(loss[1] > 0 for loss in held.losses)
    # both still drag inside
    inside = lambda e: ((e.edited - e.original).abs() * (1 - keep)).sum().item()  # noqa: E731
    assert inside(held) > 0.1 and inside(free) > 0.1


def test_pass_counts(tiny_model, tiny_cond, inversion):
    n, k = 2, 3
    edit = pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, n=n, k=k)
    # forward: N original-trajectory passes + N DDIM steps; forward+backward: N * K
    assert edit.passes == {"forward": 2 * n, "forward_backward": n * k}
    assert len(edit.losses) == n * k


@pytest.mark.parametrize("editable", [None, box(16, 48, 8, 48)])
@pytest.mark.parametrize("method,skipped", [("reference", 3), ("paper", 2)])
def test_sub_cell_states_are_skipped_without_a_pass_or_step(tiny_model, tiny_cond, inversion, editable, method,
                                                            skipped):
    # a 2-cell drag (4 pixels), ramped over the 2 PBSI timesteps in 8 iterations: eta = k/8,
    # offset 2 eta cells: truncated (reference), iterations 1..3 are under one cell; rounded
    # (paper, half to even), iterations 1 and 2 (0.25, 0.5 cells) are. A skipped state takes no pass and no Adam step,
    # with the mask term too.
    spec = translate_spec(handle=(20.0, 32.0), target=(24.0, 32.0), editable=editable)
    edit = pbsi_node(tiny_model, inversion, spec, tiny_cond, n=2, k=4, layers="last_up_block", schedule="paper",
                     method=method, point_drag_timesteps=0)
    assert edit.passes == {"forward": 4, "forward_backward": 8 - skipped}
    assert len(edit.losses) == 8 - skipped


@pytest.mark.parametrize("layers,expected_maps", [("last_up_block", 1), ("all_stages", 2)])
def test_both_feature_layer_options_run(tiny_model, tiny_cond, inversion, layers, expected_maps):
    dm = tiny_model.get_model_object("diffusion_model")
    assert stage_outputs(dm) == [2, "out"]     # channel_mult (1, 2): one upsampler, in output block 1
    # one tapped pass: the maps each option records, and the last map feeds the out head
    taps = FeatureTaps()
    patched = with_feature_taps(tiny_model, layers, taps)
    seen = {}

    def loop(make_unet, latent):
        eps, maps = make_unet(PassMeter("test", 1), taps)(inversion.inverted.to(latent.device), 401, features=True)
        seen["eps"], seen["maps"] = eps, maps
        _, seen["no_maps"] = make_unet(PassMeter("test", 1), taps)(inversion.inverted.to(latent.device), 401)
        seen["head"] = patched.get_model_object("diffusion_model.out")(maps[-1])
        return latent

    with torch.inference_mode():
        run_stage(patched, tiny_cond, torch.zeros_like(inversion.inverted), [401], loop)
    maps = seen["maps"]
    assert len(maps) == expected_maps and seen["no_maps"] == []
    assert maps[-1].shape == (1, 32, 8, 8)
    if layers == "all_stages":
        assert maps[0].shape == (1, 64, 8, 8)
    torch.testing.assert_close(seen["head"], seen["eps"], rtol=0, atol=1e-5)   # EPS model: out(h) = eps
    # and the node runs with it
    edit = pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, n=1, k=2, layers=layers)
    assert edit.passes == {"forward": 2, "forward_backward": 2}
    assert all(math.isfinite(x) for pair in edit.losses for x in pair) and edit.losses[0][0] > 0


def test_node_rejects_bad_settings_before_any_pass(tiny_model, tiny_cond, inversion):
    with pytest.raises(ValueError, match="^pbsi_timesteps"):
        pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, n=6)
    with pytest.raises(ValueError, match="^feature_layers"):
        pbsi_node(tiny_model, inversion, translate_spec(), tiny_cond, layers="mid_block")
    wrong = DragSpec(2 * SIZE, SIZE, [DragOperation("translate", (20.0, 32.0), (40.0, 32.0), None,
                                                     np.ones((2 * SIZE, SIZE), bool))], None)
    with pytest.raises(ValueError, match="^drag"):
        pbsi_node(tiny_model, inversion, wrong, tiny_cond)


def test_with_model_and_conditioning_made_in_inference_mode():
    # the host loads checkpoints and encodes prompts inside inference mode: its weights and
    # conditioning are inference tensors, which autograd may not save for backward
    from harness.tiny_models import tiny_conditioning, tiny_sd15
    from dragnext.nodes.denoise_node import DragNeXtDenoise
    with torch.inference_mode():
        model, cond = tiny_sd15(seed=0), tiny_conditioning(seed=0)
        assert next(model.model.parameters()).is_inference() and cond[0][0].is_inference()
        latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)) * 4
        (inv,) = DragNeXtInversion.execute(model, {"samples": latent}, cond, 10, 0.5).args
    spec = translate_spec(editable=box(16, 48, 8, 48))
    for layers in ("last_up_block", "all_stages"):
        edit = pbsi_node(model, inv, spec, cond, n=2, k=2, layers=layers)
        assert edit.passes == {"forward": 4, "forward_backward": 4}
        assert (edit.edited - edit.original).abs().max() > 0
        with torch.inference_mode():
            (out,) = DragNeXtDenoise.execute(model, edit, cond, True, 1).args
        assert torch.isfinite(out["samples"]).all()


def test_pbsi_over_every_inverted_step_then_denoise_returns_the_edited_latent(tiny_model, tiny_cond, inversion):
    from dragnext.nodes.denoise_node import DragNeXtDenoise
    edit, states = pbsi_outputs(tiny_model, inversion, translate_spec(), tiny_cond, n=5, k=1)
    assert edit.remaining_timesteps == ()
    assert edit.passes == {"forward": 10, "forward_backward": 5}
    with torch.inference_mode():
        (out,) = DragNeXtDenoise.execute(tiny_model, edit, tiny_cond, True, 3).args
    torch.testing.assert_close(out["samples"] * 0.18215, edit.edited.float().cpu(), rtol=1e-6, atol=1e-6)
    # the intermediate states, one per timestep in order, in the host's latent space: the
    # last one is the image the final step lands on (up to that step's residual noise,
    # sqrt(1 - alphas_cumprod[0]) = 0.03 of eps)
    samples = states["samples"]
    assert samples.shape == (5, 4, 8, 8)
    gap = [(samples[i] - out["samples"][0]).abs().mean().item() for i in range(5)]
    assert gap[-1] < 0.1 * gap[0] and gap[-1] < 0.05 * out["samples"].abs().mean().item(), gap


def test_feature_terms_of_several_operations_add_up(tiny_model, tiny_cond, inversion):
    move = DragOperation("translate", (20.0, 32.0), (40.0, 32.0), None, box(24, 40, 12, 28))
    turn = DragOperation("rotate", (48.0, 16.0), (56.0, 24.0), (48.0, 24.0), box(8, 20, 40, 56))
    first = lambda ops: pbsi_node(tiny_model, inversion, DragSpec(SIZE, SIZE, ops, None), tiny_cond,  # noqa: E731
                                  n=1, k=1).losses[0][0]
    a, b, both = first([move]), first([turn]), first([move, turn])
    assert a > 0 and b > 0
    assert both == pytest.approx(a + b, rel=1e-5)


@pytest.mark.parametrize("height,width", [(64, 96), (96, 64)])
def test_non_square_images(tiny_model, tiny_cond, height, width):
    latent = torch.randn(1, 4, height // 8, width // 8, generator=torch.Generator().manual_seed(5)) * 4
    with torch.inference_mode():
        (inv,) = DragNeXtInversion.execute(tiny_model, {"samples": latent}, tiny_cond, 10, 0.3).args
    region = np.zeros((height, width), dtype=bool)
    region[8:24, 8:40] = True                    # a wide box near the top-left corner
    editable = np.zeros((height, width), dtype=bool)
    editable[:40, :56] = True
    drag = DragSpec(height, width, [DragOperation("translate", (16.0, 16.0), (40.0, 28.0), None, region)], editable)
    keep = latent_keep_mask(drag, (height // 8, width // 8), "cpu")
    assert keep.shape == (1, 1, height // 8, width // 8)
    assert keep[0, 0, :5, :7].sum() == 0 and keep[0, 0, 5:].min() == 1 and keep[0, 0, :, 7:].min() == 1
    held = pbsi_node(tiny_model, inv, drag, tiny_cond, n=1, k=4, lr=0.1, mask_weight=0.5)
    free = pbsi_node(tiny_model, inv, drag, tiny_cond, n=1, k=4, lr=0.1, mask_weight=0.0)
    outside = lambda e: ((e.edited - e.original).abs() * keep).sum().item()  # noqa: E731
    assert outside(held) < 0.5 * outside(free)
