"""DragNeXt PBSI Optimize: progressive backward self-intervention on the inverted latent."""
import torch
from comfy_api.latest import io

from ..dragnext_ops.geometry import PROGRESS_SCHEDULES
from ..dragnext_ops.pbsi import PBSIConfig, run_pbsi
from ..dragnext_ops.state import DragEdit
from .feature_taps import DEFAULT_FEATURE_LAYERS, FEATURE_LAYERS, FeatureTaps, with_feature_taps
from .host_unet import PassMeter, run_stage, with_detached_weights
from .model_family import model_family
from .sockets import DragEditSocket, DragSpecSocket, InversionSocket


def check_sizes(spec, latent, latent_factor: int):
    """latent_factor: image pixels per latent cell, from the model's family (model_family.py)."""
    h, w = latent.shape[-2:]
    if (spec.height, spec.width) != (h * latent_factor, w * latent_factor):
        raise ValueError(f"drag: the spec's image is {spec.width}x{spec.height} but the inverted latent is "
                         f"{w}x{h} ({w * latent_factor}x{h * latent_factor} pixels); use the same image for both")


class DragNeXtPBSI(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DragNeXtPBSI",
            display_name="DragNeXt PBSI Optimize",
            category="DragNeXt",
            description="Drags the handle regions by optimising the latent over the first denoising timesteps.",
            inputs=[
                io.Model.Input("model"),
                InversionSocket.Input("inversion"),
                DragSpecSocket.Input("drag"),
                io.Conditioning.Input("conditioning"),
                io.Int.Input("pbsi_timesteps", default=5, min=1, max=1000,
                             tooltip="Denoising timesteps with PBSI (the paper: saturates at 5)."),
                io.Int.Input("iterations", default=10, min=1, max=1000,
                             tooltip="Adam iterations per PBSI timestep (the reference: 10)."),
                io.Float.Input("lr", default=0.02, min=0.0001, max=1.0, step=0.001,
                               tooltip="Adam learning rate on the variance-preserving latent (the reference: 0.02)."),
                io.Float.Input("mask_weight", display_name="lambda", default=0.2, min=0.0, max=100.0, step=0.01,
                               tooltip="Weight of the term holding the latent outside the editable mask (the reference: 0.2)."),
                io.Combo.Input("feature_layers", options=list(FEATURE_LAYERS), default=DEFAULT_FEATURE_LAYERS,
                               tooltip="all_stages: the paper's concatenated outputs of every decoder stage; "
                                       "last_up_block: the reference code's last decoder block only."),
                io.Combo.Input("progress_schedule", options=list(PROGRESS_SCHEDULES), default="paper",
                               tooltip="paper: intermediate states ramp over all PBSI timesteps; reference: over the "
                                       "first 3, with whole-cell offsets and 2-degree angles; final: no intermediate states "
                                       "(the paper's ablation)."),
            ],
            outputs=[DragEditSocket.Output(display_name="edit"),
                     io.Latent.Output(display_name="states",
                                      tooltip="The intermediate states: the clean image predicted after each PBSI "
                                              "timestep, one per batch item (VAE Decode to watch the drag progress).")],
        )

    @classmethod
    def execute(cls, model, inversion, drag, conditioning, pbsi_timesteps, iterations, lr, mask_weight,
                feature_layers, progress_schedule) -> io.NodeOutput:
        config = PBSIConfig(pbsi_timesteps, iterations, lr, mask_weight, progress_schedule)
        config.validate(len(inversion.schedule.timesteps))
        z_T = inversion.inverted
        check_sizes(drag, z_T, model_family(model).latent_factor)  # refuses unserved families
        taps = FeatureTaps()
        patched = with_feature_taps(with_detached_weights(model), feature_layers, taps)
        n = config.timesteps
        out = {}

        def loop(make_unet, latent):
            meter = PassMeter("PBSI", n + n * config.iterations + n)
            unet = make_unet(meter, taps)
            out["result"] = run_pbsi(unet, z_T.to(latent.device).clone(), inversion.schedule, drag, config)
            out["passes"] = meter.report()
            return latent

        run_stage(patched, conditioning, torch.zeros_like(z_T, device="cpu"),
                  inversion.schedule.timesteps[:n], loop, grad=True)
        r = out["result"]
        states = {"samples": model.model.process_latent_out(r.states.float().cpu())}
        return io.NodeOutput(DragEdit(inversion, n, r.edited, r.original, r.losses, out["passes"]), states)
