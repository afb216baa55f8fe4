"""The host's UNet as a dragnext_ops Denoiser, driven through the host's own sampler.

Each stage runs inside `CFGGuider.sample` with a custom `Sampler` (the pattern of the host's
LoRA training node), so model loading, conditioning, dtype casts and model patches are all
the host's. The UNet is evaluated on the VP latent z with timestep t by passing the host
its sigma for t and `x = z * sqrt(1 + sigma^2)`, so that the model input is z itself.
"""
import contextlib
import logging

import torch

import comfy.model_management
import comfy.patcher_extension
import comfy.samplers
import comfy.utils
from comfy_extras.nodes_custom_sampler import Guider_Basic


class PassMeter:
    """Counts a stage's UNet passes, drives its progress bar, checks for interruption."""

    # A benchmark may set an object with start() and stop(stage, started, x, outputs,
    # backward) to time every pass (bench/pass_timer.py); None: no clocks, no syncs.
    timer = None

    def __init__(self, stage: str, total: int):
        self.stage = stage
        self.bar = comfy.utils.ProgressBar(total)
        self.forward = 0
        self.forward_backward = 0

    def before_pass(self):
        comfy.model_management.throw_exception_if_processing_interrupted()

    def after_pass(self, backward: bool):
        if backward:
            self.forward_backward += 1
        else:
            self.forward += 1
        self.bar.update(1)

    def skip(self, passes: int):
        """Advance the bar over passes the stage's bound allowed for but did not need."""
        if passes > 0:
            self.bar.update(passes)

    def report(self) -> dict:
        logging.info("DragNeXt %s: %d UNet forward passes, %d forward+backward passes",
                     self.stage, self.forward, self.forward_backward)
        return {"forward": self.forward, "forward_backward": self.forward_backward}


class HostUNet:
    """`(z, t, features=False) -> (eps, feature_maps)` on the host's loaded model."""

    def __init__(self, guider, extra_args, meter: PassMeter, taps=None):
        self.guider = guider
        self.extra_args = extra_args
        self.meter = meter
        self.taps = taps
        # Python floats, read once: no device sync per pass, and no inference-mode buffer
        # enters autograd.
        self.sigmas = guider.inner_model.model_sampling.sigmas.detach().cpu().tolist()

    def __call__(self, z, t: int, features: bool = False):
        self.meter.before_pass()
        timer = PassMeter.timer
        started = timer.start() if timer is not None else None
        sigma = self.sigmas[t]
        x = z * (1.0 + sigma * sigma) ** 0.5
        recording = features and self.taps is not None
        if recording:
            self.taps.start()
        try:
            sigmas = torch.full((z.shape[0],), sigma, device=z.device, dtype=torch.float32)
            denoised = self.guider(x, sigmas, **self.extra_args)
        finally:
            maps = self.taps.stop() if recording else []
        eps = (x - denoised.to(x.dtype)) / sigma
        backward = torch.is_grad_enabled() and z.requires_grad
        if timer is not None:
            timer.stop(self.meter.stage, started, x, (denoised, *maps), backward)
        self.meter.after_pass(backward=backward)
        return eps, maps


class _LoopSampler(comfy.samplers.Sampler):
    """A host Sampler whose body is one of our loops: `loop(unet_factory, latent_in)`."""

    def __init__(self, loop):
        self.loop = loop

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None,
               denoise_mask=None, disable_pbar=False):
        return self.loop(lambda meter, taps=None: HostUNet(model_wrap, extra_args, meter, taps), latent_image)


def one_prompt(conditioning):
    """Refuse conditioning that the stages cannot use: they need one entry over the whole
    image at every timestep. The host batches several entries together (or runs them apart
    when memory is short), which would split mutual attention's [original, edit] batch and
    the feature taps' maps without an error; an area crops what the taps see."""
    if not isinstance(conditioning, list) or len(conditioning) != 1:
        got = len(conditioning) if isinstance(conditioning, list) else type(conditioning).__name__
        raise ValueError(f"conditioning: DragNeXt takes one prompt (one conditioning entry), got {got}; "
                         "encode one prompt with CLIP Text Encode instead of combining several")
    options = conditioning[0][1]
    if "area" in options or "mask" in options:
        raise ValueError("conditioning: area or mask conditioning is not supported; DragNeXt needs the prompt "
                         "over the whole image, so leave out Conditioning (Set Area) and (Set Mask)")
    if options.get("start_percent", 0.0) > 0.0 or options.get("end_percent", 1.0) < 1.0:
        raise ValueError("conditioning: a timestep range is not supported; DragNeXt needs the prompt at every "
                         "timestep, so leave out ConditioningSetTimestepRange")


def no_control(conditioning):
    """Refuse a ControlNet or adapter (Apply ControlNet) where gradients flow: the host builds
    control models in inference mode, autograd cannot save their weights, and the backward
    pass would fail after the inversion's passes were already spent."""
    if conditioning[0][1].get("control") is not None:
        raise ValueError("conditioning: PBSI takes gradients through the model, which a ControlNet (Apply "
                         "ControlNet) cannot join; connect the prompt from before Apply ControlNet to PBSI and to "
                         "DragNeXt Inversion (one trajectory for both); Denoise may keep it")


def host_sigmas(model_patcher, timesteps) -> torch.Tensor:
    sigmas = model_patcher.get_model_object("model_sampling").sigmas
    return sigmas[list(timesteps)].to(torch.float32)


def run_stage(model_patcher, conditioning, latent: torch.Tensor, timesteps, loop, grad: bool = False):
    """Run `loop` with the model loaded by the host; returns what the loop returns, moved
    out of the model's latent space (process_latent_out), as the host's samplers do.

    `latent` is in the host's LATENT space and goes through process_latent_in (when it is
    not all zeros); loops that work on stored tensors pass zeros of the batch they use.
    """
    guider = Guider_Basic(model_patcher)
    guider.set_conds(conditioning)
    noise = torch.zeros_like(latent)
    sigmas = host_sigmas(model_patcher, timesteps)
    with torch.inference_mode(not grad), torch.set_grad_enabled(grad):
        return guider.sample(noise, latent, _LoopSampler(loop), sigmas, disable_pbar=True, seed=0)


def _alias(tensor: torch.Tensor) -> torch.Tensor:
    return torch.empty(0, dtype=tensor.dtype, device=tensor.device).set_(
        tensor.untyped_storage(), tensor.storage_offset(), tensor.size(), tensor.stride())


def plain_alias(tensor: torch.Tensor) -> torch.Tensor:
    """A tensor outside inference mode on the same memory, without grad: autograd may save
    it, and no gradient reaches the user's parameter. No copy."""
    with torch.inference_mode(False):
        return _alias(tensor)


@contextlib.contextmanager
def plain_parameters(module: torch.nn.Module):
    """Within the block, `module` and its submodules compute with plain aliases of their
    parameters (zero copy); the originals are put back after. Runs on every PBSI pass: one
    inference-mode switch for all of them (SD1.5's 686 tensors: 3.8 ms a pass on this CPU
    with one switch each, 2.4 ms so)."""
    swapped = [(m._parameters, name, p) for m in module.modules() for name, p in m._parameters.items()
               if p is not None]
    try:
        with torch.inference_mode(False):
            for params, name, p in swapped:
                params[name] = _alias(p)
        yield
    finally:
        for params, name, p in swapped:
            params[name] = p


def _with_plain_parameters(executor, *args, **kwargs):
    """DIFFUSION_MODEL wrapper: the UNet computes this pass with aliases of its parameters
    (taken now, after the host's own loading and patching)."""
    with plain_parameters(executor.class_obj):
        return executor(*args, **kwargs)


def with_detached_weights(model_patcher):
    """A clone whose UNet computes with detached, non-inference views of its weights.

    The host creates weights inside inference mode, and autograd may not save inference
    tensors; gradients must also never reach the user's parameters. A weight wrapper would
    do it but makes the host copy every weight on every pass (3.4 GB for SD1.5 in fp32);
    a diffusion-model wrapper (the host's own mechanism) swaps in zero-copy aliases for
    the duration of each pass instead. The user's model is never touched.
    """
    patched = static_patcher(model_patcher).clone()
    patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "dragnext_plain_weights",
                                 _with_plain_parameters)
    return patched


def static_patcher(model_patcher):
    """`model_patcher`, or on a host that stages its weights at op time its non-dynamic
    delegate: the patcher whose UNet computes with its own parameters, so that the aliases
    above are what autograd saves.

    Newer ComfyUI (read at 0.38.1; on by default on NVIDIA GPUs) loads models with a
    ModelPatcherDynamic: its ops copy each weight at call time into VRAM that comfy-aimdo
    manages (a per-module slot it may evict, or a cast buffer the next op reuses) and cache
    those copies across passes, inference-mode ones included. The parameters are then not
    what the ops use, and a backward pass after the forward may read another layer's
    weights without any error.
    Its own answer for weight hooks is `get_non_dynamic_delegate()`, used here likewise; it
    reloads the model once through the loader that made it (one more copy in RAM). Hosts
    without it (0.3.x: no `is_dynamic`) pass through unchanged.
    """
    is_dynamic = getattr(model_patcher, "is_dynamic", None)
    if not callable(is_dynamic) or not is_dynamic():
        return model_patcher
    delegate = getattr(model_patcher, "get_non_dynamic_delegate", None)
    fix = ("start ComfyUI with --disable-dynamic-vram, or load the model with a core loader "
           "(CheckpointLoaderSimple, UNETLoader)")
    if not callable(delegate):
        raise ValueError(f"model: this {type(model_patcher).__name__} stages weights at op time, where PBSI's "
                         f"backward pass would read weights the host has already replaced, and it offers "
                         f"no get_non_dynamic_delegate(); {fix}")
    try:
        static = delegate()
    except RuntimeError as error:   # 0.38: no cached_patcher_init (a custom loader made the model)
        raise ValueError(f"model: the host could not make a non-dynamic copy of this model for PBSI's "
                         f"backward pass ({error}); {fix}") from error
    still = getattr(static, "is_dynamic", None)
    if callable(still) and still():
        raise ValueError(f"model: get_non_dynamic_delegate() of this {type(model_patcher).__name__} returned a "
                         f"patcher that still stages weights at op time; {fix}")
    return static
