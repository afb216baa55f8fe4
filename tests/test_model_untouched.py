"""The user's MODEL comes out of every node exactly as it went in: no patches, wrappers or
hooks left on the patcher or its modules, no gradients or requires_grad changes, and once the
user's patcher loads again, the original modules and outputs. Also after an interrupted PBSI."""
import numpy as np
import pytest
import torch

import comfy.model_management

from dragnext.dragnext_ops.spec import DragOperation, DragSpec
from dragnext.nodes.denoise_node import DragNeXtDenoise
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.pbsi_node import DragNeXtPBSI

SIZE = 64
PATCHER_STATE = ("patches", "object_patches", "weight_wrapper_patches", "model_options", "hook_patches",
                 "injections", "additional_models", "callbacks", "wrappers", "attachments", "force_cast_weights",
                 "parent", "is_injected")
# The host shares these backups between a patcher and its clones (they belong to the
# underlying model while a clone is loaded): empty again once the user's patcher reloads.
SHARED_BACKUPS = ("backup", "object_patches_backup", "hook_backup")


def structure(value):
    """A comparable picture of nested containers; callables and modules by identity."""
    if isinstance(value, dict):
        return {"dict": sorted((repr(k), structure(v)) for k, v in value.items())}
    if isinstance(value, (list, tuple, set)):
        items = [structure(v) for v in value]
        return {type(value).__name__: sorted(items, key=repr) if isinstance(value, set) else items}
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, torch.Tensor):
        return ("tensor", id(value))
    return ("object", type(value).__name__, id(value))


def hooks(module: torch.nn.Module) -> list:
    found = []
    for name, m in module.named_modules():
        for kind in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
                     "_state_dict_hooks", "_load_state_dict_pre_hooks"):
            if getattr(m, kind, None):
                found.append((name, kind))
    g = torch.nn.modules.module
    for kind in ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks"):
        if getattr(g, kind, None):
            found.append(("<global>", kind))
    return found


def weight_functions(module: torch.nn.Module) -> dict:
    return {name: (len(getattr(m, "weight_function", [])), len(getattr(m, "bias_function", [])))
            for name, m in module.named_modules() if hasattr(m, "weight_function")}


class Snapshot:
    def __init__(self, patcher, cond):
        dm = patcher.model.diffusion_model
        self.state = {k: structure(getattr(patcher, k)) for k in PATCHER_STATE if hasattr(patcher, k)}
        assert len(self.state) == len(PATCHER_STATE)
        self.backups = {k: structure(getattr(patcher, k)) for k in SHARED_BACKUPS}
        self.model_options_id = id(patcher.model_options)
        self.params = {n: (p.requires_grad, p.detach().clone()) for n, p in patcher.model.named_parameters()}
        self.modules = {n: m for n, m in dm.named_modules()}
        self.out = dm.out
        self.hooks = hooks(patcher.model)
        self.weight_functions = weight_functions(dm)
        g = torch.Generator().manual_seed(21)
        # SDXL's UNet also takes its size-and-pooled-text vector y
        y = torch.randn(1, dm.label_emb[0][0].in_features, generator=g) if dm.num_classes is not None else None
        self.probe = torch.randn(1, 4, 8, 8, generator=g), torch.tensor([301.0]), cond[0][0], y
        self.output = self.run(patcher)

    def run(self, patcher):
        x, t, context, y = self.probe
        with torch.no_grad():
            return patcher.model.diffusion_model(x, t, context=context, y=y)

    def check_patcher(self, patcher):
        """What must hold right after the nodes ran, before anything loads again."""
        assert {k: structure(getattr(patcher, k)) for k in self.state} == self.state
        assert id(patcher.model_options) == self.model_options_id
        assert patcher.model_options == {"transformer_options": {}}
        for name, p in patcher.model.named_parameters():
            assert p.requires_grad == self.params[name][0], name
            assert p.grad is None, name
            assert torch.equal(p.detach(), self.params[name][1]), name
        assert hooks(patcher.model) == self.hooks == []

    def check_reloaded(self, patcher):
        """After the user's patcher loads again: the original modules, weights and output."""
        comfy.model_management.load_models_gpu([patcher])
        dm = patcher.model.diffusion_model
        assert dm.out is self.out
        assert type(dm.out) is torch.nn.Sequential
        assert {n: m for n, m in dm.named_modules()} == self.modules
        assert weight_functions(dm) == self.weight_functions
        assert all(v == (0, 0) for v in self.weight_functions.values())
        self.check_patcher(patcher)
        assert {k: structure(getattr(patcher, k)) for k in SHARED_BACKUPS} == self.backups
        assert torch.equal(self.run(patcher), self.output)


def drag_spec():
    region = np.zeros((SIZE, SIZE), dtype=bool)
    region[24:40, 12:28] = True
    editable = np.zeros((SIZE, SIZE), dtype=bool)
    editable[16:48, 8:48] = True
    return DragSpec(SIZE, SIZE, [DragOperation("translate", (20.0, 32.0), (40.0, 32.0), None, region)], editable)


def invert(model, cond):
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(4)) * 4
    with torch.inference_mode():
        (inversion,) = DragNeXtInversion.execute(model, {"samples": latent}, cond, 10, 0.5).args
    return inversion


@pytest.mark.parametrize("layers", ["last_up_block", "all_stages"])
def test_model_untouched_after_the_whole_edit(tiny_model, tiny_cond, layers):
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    snap.check_patcher(tiny_model)
    with torch.inference_mode():
        edit, _ = DragNeXtPBSI.execute(tiny_model, inversion, drag_spec(), tiny_cond, 2, 2, 0.05, 0.2,
                                     layers, "paper", method="paper").args
    snap.check_patcher(tiny_model)
    assert (edit.edited - edit.original).abs().max() > 0   # the edit happened
    with torch.inference_mode():
        (out,) = DragNeXtDenoise.execute(tiny_model, edit, tiny_cond, True, 1).args
    assert out["samples"].shape == (1, 4, 8, 8)
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


def test_model_untouched_after_pbsi_alone_then_reload(tiny_model, tiny_cond):
    # PBSI's clone (object-patched `out`, weight wrappers) was the last to load: the user's
    # patcher loading again must restore everything
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    with torch.inference_mode():
        DragNeXtPBSI.execute(tiny_model, inversion, drag_spec(), tiny_cond, 1, 2, 0.05, 0.2, "all_stages", "paper",
                             method="paper")
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


def expect_interrupted_pbsi(model, inversion, cond, iterations, feature_layers):
    """PBSI must stop with the host's interrupt exception; the interrupt flag is reset after."""
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            with torch.inference_mode():
                DragNeXtPBSI.execute(model, inversion, drag_spec(), cond, 2, iterations, 0.05, 0.2,
                                     feature_layers, "paper", method="paper")
    finally:
        comfy.model_management.interrupt_current_processing(False)


def test_model_untouched_after_an_interrupted_pbsi(tiny_model, tiny_cond):
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    comfy.model_management.interrupt_current_processing(True)
    expect_interrupted_pbsi(tiny_model, inversion, tiny_cond, 2, "all_stages")
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


def interrupt_at_pass(monkeypatch, n: int) -> dict:
    """Press Cancel just before the n-th UNet pass; the returned dict counts the passes."""
    from dragnext.nodes import host_unet
    calls = {"n": 0}
    original = host_unet.PassMeter.before_pass

    def before_pass(self):
        calls["n"] += 1
        if calls["n"] == n:
            comfy.model_management.interrupt_current_processing(True)
        original(self)

    monkeypatch.setattr(host_unet.PassMeter, "before_pass", before_pass)
    return calls


def test_model_untouched_after_a_failure_mid_optimisation(tiny_model, tiny_cond, monkeypatch):
    # an interruption between passes, in the middle of the Adam iterations (not before the first)
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    calls = interrupt_at_pass(monkeypatch, 4)   # 2 original-trajectory passes, then the second Adam iteration
    expect_interrupted_pbsi(tiny_model, inversion, tiny_cond, 3, "last_up_block")
    assert calls["n"] == 4
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


def test_model_untouched_after_denoise_alone(tiny_model, tiny_cond):
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    from dragnext.dragnext_ops.state import DragEdit
    z = inversion.inverted
    edit = DragEdit(inversion, 2, edited=z.flip(-1).clone(), original=z.clone(), losses=[])
    with torch.inference_mode():
        DragNeXtDenoise.execute(tiny_model, edit, tiny_cond, True, 0)
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


@pytest.mark.parametrize("family, v", [("sd2", True), ("sdxl", False)])
def test_model_untouched_per_family_after_success_failure_and_interrupt(family, v):
    from harness.tiny_models import family_conditioning, tiny_family_model
    model, cond = tiny_family_model(family, v_prediction=v), family_conditioning(family)
    snap = Snapshot(model, cond)
    inversion = invert(model, cond)
    with torch.inference_mode():
        edit, _ = DragNeXtPBSI.execute(model, inversion, drag_spec(), cond, 2, 2, 0.05, 0.2,
                                     "all_stages", "paper", method="paper").args
        DragNeXtDenoise.execute(model, edit, cond, True, -1)
    snap.check_patcher(model)
    # a failure inside the run (a spec that does not fit this latent) and an interrupted PBSI
    wrong = DragSpec(2 * SIZE, 2 * SIZE, drag_spec().operations, None)
    with pytest.raises(ValueError, match="^drag: the spec's image is 128x128"):
        with torch.inference_mode():
            DragNeXtPBSI.execute(model, inversion, wrong, cond, 2, 2, 0.05, 0.2, "all_stages", "paper",
                                 method="paper")
    snap.check_patcher(model)
    comfy.model_management.interrupt_current_processing(True)
    expect_interrupted_pbsi(model, inversion, cond, 2, "third_up_block")
    snap.check_patcher(model)
    snap.check_reloaded(model)


def test_model_untouched_after_the_reference_method_and_its_interrupt(tiny_model, tiny_cond, monkeypatch):
    # the point-drag stage runs its own optimiser on the same patched clone; interrupted inside it too
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    reference = dict(method="reference", point_drag_timesteps=1, tracks_per_timestep=2, steps_per_track=2)
    with torch.inference_mode():
        edit, _ = DragNeXtPBSI.execute(tiny_model, inversion, drag_spec(), tiny_cond, 2, 2, 0.05, 0.2,
                                       "last_up_block", "method default", **reference).args
    assert (edit.edited - edit.original).abs().max() > 0
    snap.check_patcher(tiny_model)
    calls = interrupt_at_pass(monkeypatch, 4)   # 2 original-trajectory passes, then the point-drag stage's second
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            with torch.inference_mode():
                DragNeXtPBSI.execute(tiny_model, inversion, drag_spec(), tiny_cond, 2, 2, 0.05, 0.2,
                                     "last_up_block", "method default", **reference)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    assert calls["n"] == 4
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)
