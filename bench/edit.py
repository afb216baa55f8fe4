"""One full edit through the four nodes' execute methods, as the host runs them (each under
torch.inference_mode()), measuring each stage: passes, pass time, wall time, peak memory."""
from dataclasses import dataclass

import torch

from dragnext.nodes.denoise_node import DragNeXtDenoise
from dragnext.nodes.feature_taps import DEFAULT_FEATURE_LAYERS
from dragnext.nodes.host_unet import PassMeter
from dragnext.nodes.inversion_node import DragNeXtInversion
from dragnext.nodes.pbsi_node import DragNeXtPBSI
from dragnext.nodes.spec_node import DragNeXtSpec

from . import memory, scene
from .pass_timer import PassTimer


@dataclass
class Stage:
    name: str
    wall: float
    peak: int
    forward: tuple = (0, 0.0)            # (passes, seconds)
    forward_backward: tuple = (0, 0.0)
    counted: dict = None                 # what the node's own PassMeter reported

    @property
    def pass_time(self) -> float:
        return self.forward[1] + self.forward_backward[1]


def run_edit(model, cond, size: int, preset, device, feature_layers=DEFAULT_FEATURE_LAYERS, on_stage=None,
             activation_checkpointing: bool = False) -> list:
    """The measured stages, in order; `on_stage(stage)` hears each as it ends (long runs)."""
    image, latent = scene.inputs(size)
    timer = PassTimer(device)
    stages, outputs = [], {}

    def stage(name, call):
        """`name` is also the stage's PassMeter name (the spec stage has no passes)."""
        memory.reset_peak(device)
        started = timer.now()
        with torch.inference_mode():
            outputs[name] = call().args[0]
        wall = timer.now() - started
        totals = timer.totals(name)
        counted = getattr(outputs[name], "passes", None)
        stages.append(Stage(name, wall, memory.peak_bytes(device), totals["forward"],
                            totals["forward_backward"], counted))
        if on_stage:
            on_stage(stages[-1])

    PassMeter.timer = timer
    try:
        stage("inversion", lambda: DragNeXtInversion.execute(
            model, latent, cond, preset.steps, preset.strength))
        stage("spec", lambda: DragNeXtSpec.execute(image, scene.drag_spec(size)))
        stage("PBSI", lambda: DragNeXtPBSI.execute(
            model, outputs["inversion"], outputs["spec"], cond, preset.pbsi_timesteps, preset.iterations,
            0.02, 0.2, feature_layers, "paper", method="paper", activation_checkpointing=activation_checkpointing))
        stage("denoise", lambda: DragNeXtDenoise.execute(model, outputs["PBSI"], cond, True, 3))
    finally:
        PassMeter.timer = None
    return stages
