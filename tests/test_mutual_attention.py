"""Mutual self-attention: pure key/value sharing, and the host patch on the tiny model."""
import pytest
import torch
import torch.nn.functional as F

from dragnext.dragnext_ops.mutual_attention import share_source_kv
from dragnext.dragnext_ops.state import DragEdit
from dragnext.nodes.denoise_node import DragNeXtDenoise
from dragnext.nodes.host_unet import PassMeter, run_stage
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.mutual_attention_patch import (
    check_from_layer, decoder_self_attention_layers, with_mutual_attention,
)


# ----------------------------------------------------------------- pure

def _heads(x, n):
    b, s, d = x.shape
    return x.view(b, s, n, d // n).transpose(1, 2)


def _attention(q, k, v, heads=4):
    out = F.scaled_dot_product_attention(_heads(q, heads), _heads(k, heads), _heads(v, heads))
    return out.transpose(1, 2).reshape(q.shape)


def _projections(seed, dim=16):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(dim, dim, generator=g) / dim ** 0.5 for _ in range(3)]


def _mutual_self_attention(x, wq, wk, wv):
    keys, values = share_source_kv(x, x)
    return _attention(x @ wq, keys @ wk, values @ wv)


def test_identical_branches_give_plain_self_attention():
    wq, wk, wv = _projections(0)
    a = torch.randn(1, 10, 16, generator=torch.Generator().manual_seed(1))
    x = torch.cat([a, a])
    out = _mutual_self_attention(x, wq, wk, wv)
    plain = _attention(a @ wq, a @ wk, a @ wv)
    torch.testing.assert_close(out[0:1], plain, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1:2], plain, rtol=0, atol=1e-6)


def test_edited_half_attends_to_the_original_keys_and_values():
    wq, wk, wv = _projections(2)
    g = torch.Generator().manual_seed(3)
    src, edit = torch.randn(2, 1, 10, 16, generator=g)
    out = _mutual_self_attention(torch.cat([src, edit]), wq, wk, wv)
    torch.testing.assert_close(out[0:1], _attention(src @ wq, src @ wk, src @ wv), rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1:2], _attention(edit @ wq, src @ wk, src @ wv), rtol=0, atol=1e-6)
    # and that is not the edited branch's own self-attention
    assert (out[1:2] - _attention(edit @ wq, edit @ wk, edit @ wv)).abs().max() > 1e-2


def test_share_source_kv_batches_and_rejects_odd_batches():
    g = torch.Generator().manual_seed(4)
    k, v = torch.randn(2, 4, 6, 8, generator=g)
    k2, v2 = share_source_kv(k, v)
    assert torch.equal(k2, torch.cat([k[:2], k[:2]])) and torch.equal(v2, torch.cat([v[:2], v[:2]]))
    with pytest.raises(ValueError, match="batch"):
        share_source_kv(k[:3], v[:3])


# ----------------------------------------------------------------- on the host

T = 501


def host_eps(model, cond, z, t=T):
    """One host UNet pass on the VP latent z (batch of any size), as the nodes make it."""
    out = {}

    def loop(make_unet, latent):
        out["eps"], _ = make_unet(PassMeter("test", 1))(z.to(latent.device), t)
        return latent

    with torch.inference_mode():
        run_stage(model, cond, torch.zeros_like(z), [t], loop)
    return out["eps"].float().cpu()


@pytest.fixture
def model(tiny_model):
    """The tiny model with its self-attention weights scaled up 10x: its random 0.02-std
    weights make attention almost uniform, so sharing keys and values would barely show
    (1e-4 in eps); scaled, the effect is ~0.1, far above the tolerances below."""
    with torch.no_grad():
        for name, module in tiny_model.model.diffusion_model.named_modules():
            if name.endswith("attn1"):
                for p in module.parameters():
                    p.mul_(10.0)
    return tiny_model


@pytest.fixture
def latents():
    g = torch.Generator().manual_seed(7)
    return torch.randn(2, 1, 4, 8, 8, generator=g)


def test_tiny_model_decoder_layers(model):
    layers = decoder_self_attention_layers(model.get_model_object("diffusion_model"))
    assert layers == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert check_from_layer(model, 0) == 4
    assert check_from_layer(model, 3) == 1


@pytest.mark.parametrize("layer", [4, 9, -1])
def test_check_from_layer_rejects_out_of_range(model, layer):
    with pytest.raises(ValueError, match="^mutual_attention_from_layer") as e:
        check_from_layer(model, layer)
    assert "0 to 3" in str(e.value)
    with pytest.raises(ValueError, match="^mutual_attention_from_layer"):
        with_mutual_attention(model, layer)


def test_identical_batch_is_exactly_the_unpatched_output(model, tiny_cond, latents):
    z = latents[0]
    zz = torch.cat([z, z])
    plain = host_eps(model, tiny_cond, zz)
    shared = host_eps(with_mutual_attention(model, 0), tiny_cond, zz)
    assert torch.equal(shared, plain)
    torch.testing.assert_close(plain[0:1], host_eps(model, tiny_cond, z), rtol=0, atol=1e-5)


def _reference_mutual_attention(model, from_layer):
    """An independent host patch: attn1 replaced by attention(q, k_src, v_src) per half."""
    ref = model.clone()

    def replace(q, k, v, extra_options):
        heads = extra_options["n_heads"]
        half = q.shape[0] // 2
        k_src = torch.cat([k[:half], k[:half]])
        v_src = torch.cat([v[:half], v[:half]])
        return _attention(q, k_src, v_src, heads)

    for block_id, index in decoder_self_attention_layers(model.get_model_object("diffusion_model"))[from_layer:]:
        ref.set_model_attn1_replace(replace, "output", block_id, index)
    return ref


@pytest.mark.parametrize("from_layer", [0, 2])
def test_different_branches_change_only_the_edited_half(model, tiny_cond, latents, from_layer):
    z = torch.cat([latents[0], latents[1]])
    plain = host_eps(model, tiny_cond, z)
    shared = host_eps(with_mutual_attention(model, from_layer), tiny_cond, z)
    assert torch.equal(shared[0:1], plain[0:1])                # the original branch is untouched
    assert (shared[1:2] - plain[1:2]).abs().max() > 1e-2       # the edited branch reads the original
    # and it reads exactly attention(q_edit, k_src, v_src) in the chosen layers (an attn1
    # replace patch written here, computing attention by torch's sdpa)
    expected = host_eps(_reference_mutual_attention(model, from_layer), tiny_cond, z)
    torch.testing.assert_close(shared, expected, rtol=0, atol=1e-5)


def test_fewer_layers_share_less(model, tiny_cond, latents):
    z = torch.cat([latents[0], latents[1]])
    plain = host_eps(model, tiny_cond, z)[1]
    d_all = (host_eps(with_mutual_attention(model, 0), tiny_cond, z)[1] - plain).abs().sum()
    d_last = (host_eps(with_mutual_attention(model, 3), tiny_cond, z)[1] - plain).abs().sum()
    assert 0 < d_last < d_all


def test_denoise_node_with_mutual_attention_on_identical_branches_is_plain_denoising(model, tiny_cond):
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(9)) * 4
    with torch.inference_mode():
        (inversion,) = DragNeXtInversion.execute(model, {"samples": latent}, tiny_cond, 10, 0.6).args
        z_T = inversion.inverted
        edit = DragEdit(inversion, 1, edited=z_T.clone(), original=z_T.clone(), losses=[])
        (shared,) = DragNeXtDenoise.execute(model, edit, tiny_cond, True, 0).args
        (plain,) = DragNeXtDenoise.execute(model, edit, tiny_cond, False, 0).args
        assert shared["samples"].shape == plain["samples"].shape == (1, 4, 8, 8)
        # batch 2 against batch 1: float32 kernel differences only (samples are in the host's latent space, /0.18215)
        torch.testing.assert_close(shared["samples"], plain["samples"], rtol=0, atol=1e-4)
        # with a different edited branch, the edited result differs from plain denoising of it
        other = DragEdit(inversion, 1, edited=z_T.clone().flip(-1), original=z_T.clone(), losses=[])
        (shared,) = DragNeXtDenoise.execute(model, other, tiny_cond, True, 0).args
        (plain,) = DragNeXtDenoise.execute(model, other, tiny_cond, False, 0).args
        assert (shared["samples"] - plain["samples"]).abs().max() > 1e-2


def test_denoise_node_rejects_out_of_range_layer_before_any_work(model, tiny_cond):
    latent = torch.zeros(1, 4, 8, 8)
    with torch.inference_mode():
        (inversion,) = DragNeXtInversion.execute(model, {"samples": latent}, tiny_cond, 10, 0.3).args
        edit = DragEdit(inversion, 1, edited=inversion.inverted, original=inversion.inverted, losses=[])
        with pytest.raises(ValueError, match="^mutual_attention_from_layer"):
            DragNeXtDenoise.execute(model, edit, tiny_cond, True, 4)
        # unused when mutual attention is off
        DragNeXtDenoise.execute(model, edit, tiny_cond, False, 4)


# ----------------------------------------------------------------- per model family

@pytest.mark.parametrize("family, v", [("sd2", True), ("sdxl", False)])
def test_identical_branches_equal_plain_self_attention_per_family(family, v):
    """At the family's default range (SD2.x 3 of 9, SDXL 30 of 36 on their real layouts)."""
    from dragnext.nodes.model_family import default_mutual_attention_from_layer
    from harness.tiny_models import family_conditioning, tiny_family_model
    model, cond = tiny_family_model(family, v_prediction=v), family_conditioning(family)
    with torch.no_grad():
        for name, module in model.model.diffusion_model.named_modules():
            if name.endswith("attn1"):
                for p in module.parameters():
                    p.mul_(10.0)   # as the fixture above: make attention far from uniform
    from_layer = default_mutual_attention_from_layer(model.get_model_object("diffusion_model"))
    assert from_layer == {"sd2": 3, "sdxl": 30}[family]
    g = torch.Generator().manual_seed(8)
    z, other = torch.randn(2, 1, 4, 8, 8, generator=g)
    plain = host_eps(model, cond, torch.cat([z, z]))
    shared = host_eps(with_mutual_attention(model, from_layer), cond, torch.cat([z, z]))
    assert torch.equal(shared, plain)
    # and with different branches the edited half does read the original
    mixed = torch.cat([z, other])
    assert (host_eps(with_mutual_attention(model, from_layer), cond, mixed)[1]
            - host_eps(model, cond, mixed)[1]).abs().max() > 1e-3
