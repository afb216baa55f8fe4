"""DragNeXt Denoise: finish denoising the edited latent beside the original one."""
import torch
from comfy_api.latest import io

from ..dragnext_ops.trajectory import denoise
from .host_unet import PassMeter, run_stage
from .mutual_attention_patch import check_from_layer, with_mutual_attention
from .sockets import DragEditSocket


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
                io.Int.Input("mutual_attention_from_layer", default=3, min=0, max=1000,
                             tooltip="First decoder self-attention layer to share, counted from 0 (SD1.5 has 9; "
                                     "3 = the reference's layers 10..15 of 16)."),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, model, edit, conditioning, mutual_attention, mutual_attention_from_layer) -> io.NodeOutput:
        if mutual_attention:
            check_from_layer(model, mutual_attention_from_layer)
        timesteps = edit.remaining_timesteps
        if not timesteps:  # PBSI used every inverted step: the edited latent is final
            return io.NodeOutput({"samples": model.model.process_latent_out(edit.edited.float().cpu())})
        schedule = edit.inversion.schedule
        if mutual_attention:
            patched = with_mutual_attention(model, mutual_attention_from_layer)
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
