"""DragNeXt PBSI Optimize: progressive backward self-intervention on the inverted latent."""
import logging

import torch
from comfy_api.latest import io

from ..dragnext_ops.geometry import METHODS, PROGRESS_SCHEDULES
from ..dragnext_ops.pbsi import PBSIConfig, check_moves, run_pbsi
from ..dragnext_ops.point_drag import PointDragConfig
from ..dragnext_ops.state import DragEdit
from .activation_checkpointing import with_activation_checkpointing
from .feature_taps import (
    DEFAULT_FEATURE_LAYERS, FEATURE_LAYERS, REFERENCE_FEATURE_LAYERS, FeatureTaps, tapped_stages, with_feature_taps,
)
from .host_unet import PassMeter, no_control, one_prompt, run_stage, with_detached_weights
from .model_family import check_latent_channels, model_family
from .sockets import DragEditSocket, DragSpecSocket, InversionSocket

METHOD_DEFAULT = "method default"
# The defaults are the authors' pipeline (method) on the paper's features (every decoder stage):
# together they drag furthest in the project's evidence, proof/README.md. Neither method alone.
DEFAULT_METHOD = "reference"


def check_sizes(spec, latent, latent_factor: int):
    """latent_factor: image pixels per latent cell, from the model's family (model_family.py)."""
    h, w = latent.shape[-2:]
    if (spec.height, spec.width) != (h * latent_factor, w * latent_factor):
        raise ValueError(f"drag: the spec's image is {spec.width}x{spec.height} but the inverted latent is "
                         f"{w}x{h} ({w * latent_factor}x{h * latent_factor} pixels); use the same image for both")


def unet_compute_dtype(model) -> torch.dtype:
    """The dtype the host's UNet computes in (its manual cast, else its weights')."""
    base = model.model
    return base.manual_cast_dtype if base.manual_cast_dtype is not None else base.get_dtype()


def resolve(method: str, feature_layers: str, progress_schedule: str) -> tuple:
    """The method's own feature layer and progress schedule where the inputs say 'method default'."""
    if method not in METHODS:
        raise ValueError(f"method: unknown '{method}', expected one of {METHODS}")
    reference = method == "reference"
    if feature_layers == METHOD_DEFAULT:
        feature_layers = REFERENCE_FEATURE_LAYERS if reference else DEFAULT_FEATURE_LAYERS
    if progress_schedule == METHOD_DEFAULT:
        progress_schedule = "reference" if reference else "paper"
    return feature_layers, progress_schedule


class DragNeXtPBSI(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        ref = "Reference method only: "
        # New inputs go last (saved workflows list widget values in order) and are optional (API
        # graphs written before them still validate; the defaults apply).
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
                io.Combo.Input("feature_layers", options=[METHOD_DEFAULT, *FEATURE_LAYERS],
                               default=DEFAULT_FEATURE_LAYERS,
                               tooltip="Decoder features compared by the losses. all_stages (the default): the "
                                       "paper's, the concatenated outputs of every decoder stage; third_up_block: "
                                       "the reference code's (feature_idx 3: the third decoder stage, SD1.5 640 "
                                       "channels; on SDXL's three-stage decoder the last); last_up_block: the last "
                                       "decoder stage only; method default: the method's own (all_stages for "
                                       "paper, third_up_block for reference)."),
                io.Combo.Input("progress_schedule", options=[METHOD_DEFAULT, *PROGRESS_SCHEDULES],
                               default=METHOD_DEFAULT,
                               tooltip="How far the intermediate states have moved. method default: paper for "
                                       "paper, reference for reference. paper: ramp over all PBSI timesteps; "
                                       "reference: over the first 3; final: no intermediate states (the paper's "
                                       "ablation). Rounding follows the method."),
                io.Combo.Input("method", optional=True, options=list(METHODS), default=DEFAULT_METHOD,
                               tooltip="reference (the default): the authors' released code, a point-drag stage "
                                       "with point tracking before PBSI in the first timesteps, whole-cell "
                                       "offsets, angles from the rounded cells, rotation about the centre's pixel "
                                       "corner, the filled contour holding the handle as the region, lambda once "
                                       "per operation. paper: what the paper's text describes, PBSI only, exact "
                                       "geometry (pixel angles, rotation about the centre cell, the drawn region). "
                                       "By default either reads the paper's features (feature_layers all_stages); "
                                       "feature_layers 'method default' gives each method exactly as published."),
                io.Int.Input("point_drag_timesteps", optional=True, default=3, min=0, max=1000,
                             tooltip=ref + "timesteps that start with the point-drag stage (the reference: 3)."),
                io.Int.Input("tracks_per_timestep", optional=True, default=10, min=1, max=1000,
                             tooltip=ref + "point-tracking rounds per timestep (the reference: 10)."),
                io.Int.Input("steps_per_track", optional=True, default=3, min=1, max=1000,
                             tooltip=ref + "motion-supervision Adam steps between two tracks (the reference: 3)."),
                io.Int.Input("motion_radius", optional=True, default=4, min=1, max=64,
                             tooltip=ref + "r1: the supervised patch is (2 r1 + 1)^2 feature cells (the reference: 4)."),
                io.Int.Input("track_radius", optional=True, default=12, min=0, max=256,
                             tooltip=ref + "r2: tracking searches +-r2 feature cells around the handle (the "
                                           "reference: 12)."),
                io.Float.Input("motion_step", optional=True, default=4.0, min=0.1, max=64.0, step=0.1,
                               tooltip=ref + "beta: how far ahead of the handle the patch is pulled, in feature "
                                             "cells (the reference: 4)."),
                io.Float.Input("reach_distance", optional=True, default=2.0, min=0.1, max=64.0, step=0.1,
                               tooltip=ref + "a handle this close to its target (feature cells) has arrived; the "
                                             "stage stops when every handle has (the reference: 2)."),
                io.Int.Input("no_change_patience", optional=True, default=10, min=1, max=1000,
                             tooltip=ref + "the stage stops after this many tracks in a row that move no handle "
                                           "(the reference: 10)."),
                io.Boolean.Input("activation_checkpointing", optional=True, default=False,
                                 tooltip="Keep only each UNet block's input for the backward pass and recompute the "
                                         "rest there: about a third more time per step for most of the activation "
                                         "memory. Turn on when PBSI runs out of VRAM (SDXL at 1024 px on a 12 GB "
                                         "GPU). Same result either way."),
            ],
            outputs=[DragEditSocket.Output(display_name="edit"),
                     io.Latent.Output(display_name="states",
                                      tooltip="The intermediate states: the clean image predicted after each PBSI "
                                              "timestep, one per batch item (VAE Decode to watch the drag progress).")],
        )

    @classmethod
    def execute(cls, model, inversion, drag, conditioning, pbsi_timesteps, iterations, lr, mask_weight,
                feature_layers=DEFAULT_FEATURE_LAYERS, progress_schedule=METHOD_DEFAULT, method=DEFAULT_METHOD,
                point_drag_timesteps=3, tracks_per_timestep=10, steps_per_track=3, motion_radius=4,
                track_radius=12, motion_step=4.0, reach_distance=2.0, no_change_patience=10,
                activation_checkpointing=False) -> io.NodeOutput:
        feature_layers, progress_schedule = resolve(method, feature_layers, progress_schedule)
        point_drag = None
        if method == "reference" and point_drag_timesteps > 0:
            point_drag = PointDragConfig(point_drag_timesteps, tracks_per_timestep, steps_per_track, motion_radius,
                                         track_radius, motion_step, reach_distance, no_change_patience)
        config = PBSIConfig(pbsi_timesteps, iterations, lr, mask_weight, progress_schedule, method, point_drag,
                            loss_scaling=unet_compute_dtype(model) == torch.float16)
        config.validate(len(inversion.schedule.timesteps))
        z_T = inversion.inverted
        family = model_family(model)  # refuses unserved families
        check_latent_channels(family, z_T, "inversion", "invert the image with this model")
        check_sizes(drag, z_T, family.latent_factor)
        check_moves(drag, method)
        one_prompt(conditioning)
        no_control(conditioning)
        # before with_detached_weights, which may reload the model on newer hosts
        tapped_stages(model.get_model_object("diffusion_model"), feature_layers)
        taps = FeatureTaps()
        unet = with_detached_weights(model)
        if activation_checkpointing:
            unet = with_activation_checkpointing(unet)
        patched = with_feature_taps(unet, feature_layers, taps)
        n = config.timesteps
        out = {}

        def loop(make_unet, latent):
            drag_bound = point_drag.timesteps * point_drag.passes_per_timestep if point_drag else 0
            meter = PassMeter("PBSI", n + drag_bound + n * config.iterations + n)
            unet = make_unet(meter, taps)
            out["result"] = run_pbsi(unet, z_T.to(latent.device).clone(), inversion.schedule, drag, config,
                                     skip_passes=meter.skip)
            out["passes"] = meter.report()
            return latent

        try:
            run_stage(patched, conditioning, torch.zeros_like(z_T, device="cpu"),
                      inversion.schedule.timesteps[:n], loop, grad=True)
        except torch.cuda.OutOfMemoryError as error:   # the host's own OOM handling still applies
            if activation_checkpointing:
                raise
            raise torch.cuda.OutOfMemoryError(
                f"{error}\nDragNeXt PBSI: its backward pass holds every UNet activation; turn on "
                f"activation_checkpointing (about a third more time, most of that memory back) or edit a "
                f"smaller image.") from error
        r = out["result"]
        if point_drag is not None:
            logging.info("DragNeXt point-drag stage: %s Adam steps per timestep", r.point_drag_steps)
        states = {"samples": model.model.process_latent_out(r.states.float().cpu())}
        return io.NodeOutput(DragEdit(inversion, n, r.edited, r.original, r.losses, out["passes"]), states)
