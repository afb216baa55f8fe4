"""DragNeXt Denoise: finish denoising the edited latent beside the original one."""
import torch
from comfy_api.latest import io

from ..dragnext_ops.trajectory import denoise
from .host_unet import PassMeter, one_prompt, run_stage
from .model_family import check_latent_channels, default_mutual_attention_from_layer, model_family
from .mutual_attention_patch import check_from_layer, with_mutual_attention
from .sockets import DragEditSocket

FAMILY_DEFAULT = -1  # mutual_attention_from_layer: the model family's own range


class DragNeXtDenoise(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtDenoise",
            display_name="DragNeXt Denoise",
            category="DragNeXt",
            description="Denoises the edited latent to the end, its decoder attending to the original image.",
            inputs=[
                io.Model.Input("model"),
                DragEditSocket.Input("edit"),
                io.Conditioning.Input("conditioning"),
                io.Boolean.Input("mutual_attention", default=True,
                                 tooltip="Let the edited image's decoder self-attention read the original's keys and "
                                         "values (keeps identity and texture)."),
                io.Int.Input("mutual_attention_from_layer", default=FAMILY_DEFAULT, min=FAMILY_DEFAULT, max=1000,
                             tooltip="First decoder self-attention layer to share, counted from 0. -1: the model "
                                     "family's default, the decoder's higher-resolution half (its stages at the "
                                     "latent's resolution and half of it), the reference's rule: SD1.x/SD2.x 3..8 "
                                     "of 9 (the reference's layers 10..15 of 16), SDXL 30..35 of 36 (the "
                                     "640-channel stage; 0..29 are the 1280-channel one)."),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, model, edit, conditioning, mutual_attention, mutual_attention_from_layer) -> io.NodeOutput:
        family = model_family(model)
        check_latent_channels(family, edit.edited, "edit", "run the edit's inversion and PBSI with this model")
        one_prompt(conditioning)
        from_layer = mutual_attention_from_layer
        if mutual_attention:
            if from_layer == FAMILY_DEFAULT:
                from_layer = default_mutual_attention_from_layer(model.get_model_object("diffusion_model"))
            check_from_layer(model, from_layer)
        timesteps = edit.remaining_timesteps
        if not timesteps:  # PBSI used every inverted step: the edited latent is final
            return io.NodeOutput({"samples": model.model.process_latent_out(edit.edited.float().cpu())})
        schedule = edit.inversion.schedule
        if mutual_attention:
            patched = with_mutual_attention(model, from_layer)
            start = torch.cat([edit.original, edit.edited])
        else:  # no attention to share: the original branch would be wasted passes
            patched, start = model, edit.edited

        def loop(make_unet, latent):
            meter = PassMeter("denoise", len(timesteps))
            z = denoise(make_unet(meter), start.to(latent.device), schedule, timesteps)
            meter.report()
            return z[-1:]

        samples = run_stage(patched, conditioning, torch.zeros_like(start, device="cpu"), timesteps, loop)
        return io.NodeOutput({"samples": samples.cpu()})
