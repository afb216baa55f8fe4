"""with_detached_weights on hosts whose ModelPatcher stages weights at op time (dynamic VRAM).

ComfyUI 0.38's ModelPatcherDynamic cannot run here: it needs comfy-aimdo and a GPU, and it
turns itself into the plain ModelPatcher for a CPU load device. The subclasses below of the
host's own ModelPatcher carry the two methods of its API the pack relies on, with 0.38's
meaning (comfy/model_patcher.py): `is_dynamic()`, and `get_non_dynamic_delegate()`, which
gives a plain ModelPatcher over the model loaded again by its loader, or raises RuntimeError
when a custom loader left nothing to reload it with.
"""
import comfy.model_patcher
import comfy.patcher_extension
import pytest
import torch

from dragnext.nodes.host_unet import PassMeter, run_stage, static_patcher, with_detached_weights
from harness.tiny_models import tiny_sd15

CPU = torch.device("cpu")
KEY = "dragnext_plain_weights"
NO_DELEGATE = "Cannot create non-dynamic delegate: cached_patcher_init is not initialized."


def load():
    """The loader, as the host runs it: weights made inside inference mode."""
    with torch.inference_mode():
        return tiny_sd15(seed=0)


class DynamicPatcher(comfy.model_patcher.ModelPatcher):
    def is_dynamic(self):
        return True

    def get_non_dynamic_delegate(self):
        return load()


class DynamicWithoutDelegate(comfy.model_patcher.ModelPatcher):
    def is_dynamic(self):
        return True


class DynamicFromCustomLoader(DynamicPatcher):
    def get_non_dynamic_delegate(self):
        raise RuntimeError(NO_DELEGATE)


class DynamicAllTheWay(DynamicPatcher):
    def get_non_dynamic_delegate(self):
        return self.clone()


class StaticNewHost(comfy.model_patcher.ModelPatcher):
    def is_dynamic(self):       # 0.38's plain ModelPatcher
        return False


def patcher(cls):
    return cls(load().model, load_device=CPU, offload_device=CPU)


def wrapped(p) -> bool:
    return len(p.get_wrappers(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, KEY)) == 1


def latent_gradient(p, cond) -> torch.Tensor:
    """d/dz of |eps(z, 401)|^2 through the host's sampler, as PBSI differentiates."""
    z0 = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    out = {}

    def loop(make_unet, latent):
        z = z0.clone().requires_grad_(True)
        eps, _ = make_unet(PassMeter("test", 1))(z, 401)
        (out["grad"],) = torch.autograd.grad(eps.square().sum(), z)
        return latent

    run_stage(p, cond, torch.zeros_like(z0), [401], loop, grad=True)
    return out["grad"]


@pytest.mark.parametrize("cls", [comfy.model_patcher.ModelPatcher, StaticNewHost])
def test_non_dynamic_patchers_pass_through(cls):
    user = patcher(cls)
    assert static_patcher(user) is user
    patched = with_detached_weights(user)
    assert type(patched) is cls and patched.is_clone(user) and wrapped(patched) and not wrapped(user)


def test_dynamic_patcher_gets_its_non_dynamic_delegate(tiny_cond):
    user = patcher(DynamicPatcher)
    assert type(user.clone()) is DynamicPatcher     # the host's clone() keeps the class: not enough
    patched = with_detached_weights(user)
    assert type(patched) is comfy.model_patcher.ModelPatcher and not patched.is_clone(user)
    assert wrapped(patched) and not wrapped(user)
    # the delegate's UNet is aliased like any other: inference-mode weights, a real gradient
    grad = latent_gradient(patched, tiny_cond)
    torch.testing.assert_close(grad, latent_gradient(with_detached_weights(load()), tiny_cond), rtol=0, atol=0)
    assert torch.isfinite(grad).all() and grad.abs().max() > 0


@pytest.mark.parametrize("cls,says", [
    (DynamicWithoutDelegate, "offers no get_non_dynamic_delegate"),
    (DynamicFromCustomLoader, NO_DELEGATE),
    (DynamicAllTheWay, "still stages weights"),
])
def test_dynamic_patcher_without_a_usable_delegate_is_refused(cls, says):
    user = patcher(cls)
    with pytest.raises(ValueError, match="^model: ") as refused:
        with_detached_weights(user)
    message = str(refused.value)
    assert says in message and "--disable-dynamic-vram" in message and "UNETLoader" in message
    assert not wrapped(user)
