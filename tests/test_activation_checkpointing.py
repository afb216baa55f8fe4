"""Activation checkpointing during PBSI: the same edit, far fewer saved activations, every
weight key still where it was, and the user's model untouched after success and interrupt."""
import comfy.model_management
import pytest
import torch

from bench.activations import saved_activations
from dragnext.nodes.activation_checkpointing import checkpointed_blocks, with_activation_checkpointing
from dragnext.nodes.pbsi_node import DragNeXtPBSI
from harness.tiny_models import family_conditioning, tiny_family_model
from test_model_untouched import Snapshot, drag_spec, invert


def pbsi(model, cond, inversion, checkpointing: bool, **extra):
    with torch.inference_mode():
        inputs = {"method": "paper", **extra}   # the paper's method unless `extra` says otherwise
        edit, states = DragNeXtPBSI.execute(model, inversion, drag_spec(), cond, 2, 3, 0.05, 0.2, "all_stages",
                                            "paper", activation_checkpointing=checkpointing, **inputs).args
    return edit, states


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_checkpointed_pbsi_gives_the_same_edit(family):
    model, cond = tiny_family_model(family), family_conditioning(family)
    inversion = invert(model, cond)
    plain, plain_states = pbsi(model, cond, inversion, False)
    checkpointed, states = pbsi(model, cond, inversion, True)
    assert (plain.edited - plain.original).abs().max() > 1e-3   # the edit moved the latent
    assert torch.allclose(checkpointed.edited, plain.edited, atol=1e-6, rtol=0)
    assert torch.allclose(states["samples"], plain_states["samples"], atol=1e-5, rtol=0)
    assert torch.allclose(torch.tensor(checkpointed.losses), torch.tensor(plain.losses), rtol=1e-5, atol=1e-7)
    assert checkpointed.passes == plain.passes   # recomputation is inside a backward pass, not a pass


def test_the_reference_method_checkpointed_gives_the_same_edit(tiny_model, tiny_cond):
    reference = dict(method="reference", point_drag_timesteps=1, tracks_per_timestep=2, steps_per_track=2)
    inversion = invert(tiny_model, tiny_cond)
    plain, _ = pbsi(tiny_model, tiny_cond, inversion, False, **reference)
    checkpointed, _ = pbsi(tiny_model, tiny_cond, inversion, True, **reference)
    assert torch.allclose(checkpointed.edited, plain.edited, atol=1e-6, rtol=0)


def structure(model_patcher) -> list:
    return [(name, type(m).__name__) for name, m in model_patcher.model.named_modules()]


def test_every_block_is_checkpointed_during_the_pass_only(tiny_model, tiny_cond):
    dm = tiny_model.model.diffusion_model
    # tiny SD1.5 layout: per level 1 res block + 1 transformer in the encoder, 2 + 2 in the decoder, 3 in the middle
    assert len(checkpointed_blocks(dm)) == 2 * 2 + 3 + 2 * 2 * 2
    before, keys = structure(tiny_model), {k: v.data_ptr() for k, v in tiny_model.model.state_dict().items()}
    seen = {}
    patched = with_activation_checkpointing(tiny_model)

    def look(h, hsp, transformer_options):   # runs inside the pass, between decoder blocks
        seen["types"] = {type(layer).__name__ for seq in dm.output_blocks for layer in seq}
        seen["keys"] = {k: v.data_ptr() for k, v in dm.state_dict(prefix="diffusion_model.").items()}
        return h, hsp

    patched.set_model_output_block_patch(look)
    inversion = invert(tiny_model, tiny_cond)
    pbsi(patched, tiny_cond, inversion, False)
    assert seen["types"] >= {"_Checkpointed"} and not seen["types"] & {"ResBlock", "SpatialTransformer"}
    # same weight keys on the same tensors, as LoRA patches and low-VRAM casts find them
    assert seen["keys"] == {k: p for k, p in keys.items() if k.startswith("diffusion_model.")}
    assert structure(tiny_model) == before    # nothing lingers in the shared model after the pass
    assert not tiny_model.object_patches and not tiny_model.wrappers


def test_a_weight_patch_inside_a_checkpointed_block_applies(tiny_model, tiny_cond):
    # a LoRA-like weight patch on a checkpointed transformer's projection reaches the UNet the same way
    key = "diffusion_model.input_blocks.1.1.proj_in.weight"
    weight = tiny_model.model.state_dict()[key]
    patched = tiny_model.clone()
    patched.add_patches({key: (torch.randn(weight.shape, generator=torch.Generator().manual_seed(1)) * 0.5,)}, 1.0)
    inversion = invert(tiny_model, tiny_cond)
    unpatched, _ = pbsi(tiny_model, tiny_cond, inversion, True)
    plain, _ = pbsi(patched, tiny_cond, inversion, False)
    checkpointed, _ = pbsi(patched, tiny_cond, inversion, True)
    assert torch.allclose(checkpointed.edited, plain.edited, atol=1e-6, rtol=0)
    assert (plain.edited - unpatched.edited).abs().max() > 1e-4   # the patch mattered


def test_model_untouched_after_checkpointed_success_and_interrupt(tiny_model, tiny_cond):
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    pbsi(tiny_model, tiny_cond, inversion, True)
    snap.check_patcher(tiny_model)
    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            pbsi(tiny_model, tiny_cond, inversion, True)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    snap.check_patcher(tiny_model)
    snap.check_reloaded(tiny_model)


@pytest.mark.parametrize("family, size", [("sd15", 512), ("sdxl", 1024)])
def test_checkpointing_keeps_a_fraction_of_the_saved_activations(family, size):
    # the real architectures on the meta device: what autograd saves for PBSI's backward pass
    full = saved_activations(family, size, torch.float16)
    checkpointed = saved_activations(family, size, torch.float16, checkpointing=True)
    assert full["weights"] == checkpointed["weights"]
    kept = checkpointed["activations"] + checkpointed["attention, fused"]
    assert kept < 0.15 * (full["activations"] + full["attention, fused"])
    assert checkpointed["features"] == full["features"] > 0


@pytest.mark.parametrize("checkpointing", [False, True])
def test_out_of_memory_in_pbsi_says_what_to_turn_on(tiny_model, tiny_cond, checkpointing):
    snap = Snapshot(tiny_model, tiny_cond)
    inversion = invert(tiny_model, tiny_cond)
    starved = tiny_model.clone()

    def out_of_memory(h, hsp, transformer_options):   # a GPU that runs out inside PBSI's backward-pass forward
        if torch.is_grad_enabled():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return h, hsp

    starved.set_model_output_block_patch(out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError) as raised:
        pbsi(starved, tiny_cond, inversion, checkpointing)
    hint = "turn on activation_checkpointing" in str(raised.value)
    assert hint != checkpointing and str(raised.value).startswith("CUDA out of memory")
    snap.check_patcher(tiny_model)
