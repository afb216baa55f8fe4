"""DragNeXt DDIM Inversion: the image's latent walked up the DDIM schedule."""
import comfy.model_sampling
from comfy_api.latest import io

from ..dragnext_ops.ddim import alphas_from_sigmas, make_schedule
from ..dragnext_ops.state import Inversion
from ..dragnext_ops.trajectory import invert
from .host_unet import PassMeter, one_prompt, run_stage
from .model_family import check_latent_channels, model_family, warn_if_not_native
from .sockets import InversionSocket


def discrete_alphas(model):
    sampling = model.get_model_object("model_sampling")
    if not isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete):
        raise ValueError("model: DragNeXt needs a discrete-time diffusion model (SD1.x, SD2.x, SDXL); "
                         f"this one samples with {type(sampling).__name__}")
    return alphas_from_sigmas(sampling.sigmas)


def single_latent(latent: dict, field: str = "latent"):
    samples = latent["samples"]
    if getattr(samples, "is_nested", False) or samples.ndim != 4:
        raise ValueError(f"{field}: expected an image latent of shape [1, C, H, W]")
    if samples.shape[0] != 1:
        raise ValueError(f"{field}: DragNeXt edits one image at a time; got a batch of {samples.shape[0]}")
    return samples


class DragNeXtInversion(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtInversion",
            display_name="DragNeXt DDIM Inversion",
            category="DragNeXt",
            description="Inverts the image's latent with DDIM, keeping every intermediate latent.",
            inputs=[
                io.Model.Input("model"),
                io.Latent.Input("latent", tooltip="The image to edit, from VAE Encode."),
                io.Conditioning.Input("conditioning", tooltip="The prompt describing the image (guidance 1.0)."),
                io.Int.Input("steps", default=50, min=1, max=1000,
                             tooltip="DDIM schedule length (the reference: 50)."),
                io.Float.Input("inversion_strength", default=0.75, min=0.01, max=1.0, step=0.01,
                               tooltip="Fraction of the schedule to invert (the reference: 0.75, i.e. 38 of 50 steps)."),
            ],
            outputs=[InversionSocket.Output(display_name="inversion")],
        )

    @classmethod
    def execute(cls, model, latent, conditioning, steps, inversion_strength) -> io.NodeOutput:
        family = model_family(model)
        samples = single_latent(latent)
        check_latent_channels(family, samples, "latent", "encode the image with this model's VAE")
        one_prompt(conditioning)
        warn_if_not_native(family, *(side * family.latent_factor for side in samples.shape[-2:]))
        schedule = make_schedule(discrete_alphas(model), steps, inversion_strength)
        result = {}

        def loop(make_unet, z0):
            meter = PassMeter("inversion", len(schedule.timesteps))
            result["latents"] = invert(make_unet(meter), z0, schedule, family.prediction)
            result["passes"] = meter.report()
            return z0

        run_stage(model, conditioning, samples, tuple(reversed(schedule.timesteps)), loop)
        return io.NodeOutput(Inversion(schedule, result["latents"], result["passes"]))
