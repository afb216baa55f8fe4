"""Every method of the evaluation, run through the pack's own nodes on the host.

Each method takes (model, vae, conditioning, scene, shared) and returns the edited image
(H, W, 3) in [0, 1]; `shared` caches the scene's inversion (the same node, the same
inputs) so methods that start from it do not pay for it twice. The inversion's time is
added to each such method's own."""
import dataclasses
import json
import time
from dataclasses import dataclass

import numpy as np
import torch

from proof.copy_paste import copy_paste_edit
from proof.pack import pack_module


@dataclass
class Settings:
    """The nodes' defaults (the reference's pipeline on the paper's features); `quick()` a smoke-test setting."""
    steps: int = 50
    inversion_strength: float = 0.75
    pbsi_timesteps: int = 5
    iterations: int = 10
    lr: float = 0.02
    mask_weight: float = 0.2
    feature_layers: str = "all_stages"
    progress_schedule: str = "method default"
    method: str = "reference"
    mutual_attention: bool = True
    mutual_attention_from_layer: int = -1

    @classmethod
    def quick(cls):
        return cls(steps=10, inversion_strength=0.7, pbsi_timesteps=3, iterations=4)


def node_classes() -> dict:
    """The four DragNeXt node classes by node id, imported as the host imports the pack."""
    return {name: getattr(pack_module(f"nodes.{mod}"), name) for mod, name in (
        ("inversion_node", "DragNeXtInversion"), ("spec_node", "DragNeXtSpec"),
        ("pbsi_node", "DragNeXtPBSI"), ("denoise_node", "DragNeXtDenoise"))}


def _out(node_output):
    return node_output.result[0] if hasattr(node_output, "result") else node_output[0]


def _inversion(model, vae, cond, scene, s: Settings, shared: dict):
    key = ("inversion", s.steps, s.inversion_strength)  # the fast preset inverts on its own schedule
    if key not in shared:
        t0 = time.perf_counter()
        image = torch.from_numpy(scene.image)[None]
        with torch.inference_mode():
            latent = {"samples": vae.encode(image)}
            inv = _out(node_classes()["DragNeXtInversion"].execute(model, latent, cond, s.steps, s.inversion_strength))
            drag = _out(node_classes()["DragNeXtSpec"].execute(
                image, json.dumps(scene.spec(with_regions=False)),
                region_masks=torch.from_numpy(scene.region_masks().astype(np.float32)),
                editable_mask=torch.from_numpy(scene.editable_mask.astype(np.float32))[None]))
        shared[key] = inv, drag, time.perf_counter() - t0
    return shared[key]


def _decode(vae, latent) -> np.ndarray:
    with torch.inference_mode():
        return vae.decode(latent["samples"])[0].float().cpu().numpy()


def preset_settings(s: Settings, name: str) -> Settings:
    """s with the schedule and PBSI budget of the benchmark's preset `name` (bench/presets.py)."""
    from bench.presets import PRESETS
    p = PRESETS[name]
    return dataclasses.replace(s, steps=p.steps, inversion_strength=p.strength, pbsi_timesteps=p.pbsi_timesteps,
                               iterations=p.iterations)


def dragnext(s: Settings, **overrides):
    """DragNeXt through DragNeXtPBSI + DragNeXtDenoise, with node inputs overridden."""
    def run(model, vae, cond, scene, shared):
        inv, drag, t_inv = _inversion(model, vae, cond, scene, s, shared)
        args = dict(pbsi_timesteps=s.pbsi_timesteps, iterations=s.iterations, lr=s.lr, mask_weight=s.mask_weight,
                    feature_layers=s.feature_layers, progress_schedule=s.progress_schedule, method=s.method)
        args.update(overrides)
        t0 = time.perf_counter()
        with torch.inference_mode():
            edit = _out(node_classes()["DragNeXtPBSI"].execute(model, inv, drag, cond, **args))
            latent = _out(node_classes()["DragNeXtDenoise"].execute(model, edit, cond, s.mutual_attention,
                                                             s.mutual_attention_from_layer))
        image = _decode(vae, latent)
        return image, t_inv + time.perf_counter() - t0
    return run


def no_edit(s: Settings):
    """Inversion + DragNeXtDenoise from the inverted latent, no PBSI (a zero-step edit)."""
    def run(model, vae, cond, scene, shared):
        inv, _, t_inv = _inversion(model, vae, cond, scene, s, shared)
        DragEdit = pack_module("dragnext_ops.state").DragEdit
        t0 = time.perf_counter()
        edit = DragEdit(inv, 0, inv.inverted, inv.inverted, [])
        # Both branches would be the same latent, so mutual attention would equal self-
        # attention at twice the passes: denoise the one branch.
        with torch.inference_mode():
            latent = _out(node_classes()["DragNeXtDenoise"].execute(model, edit, cond, False,
                                                             s.mutual_attention_from_layer))
        return _decode(vae, latent), t_inv + time.perf_counter() - t0
    return run


def copy_paste(s: Settings):
    def run(model, vae, cond, scene, shared):
        inv, drag, t_inv = _inversion(model, vae, cond, scene, s, shared)
        t0 = time.perf_counter()
        with torch.inference_mode():
            latent = copy_paste_edit(model, inv, drag, cond)
        return _decode(vae, latent), t_inv + time.perf_counter() - t0
    return run


def ground_truth_round_trip():
    """Not an edit: the exact ground truth encoded and decoded by the prior's VAE, no UNet pass.
    What a perfect edit in this latent would score, the bound the DAI goals are read against
    (copy-paste's translate DAI lies near it)."""
    def run(model, vae, cond, scene, shared):
        t0 = time.perf_counter()
        with torch.inference_mode():
            latent = {"samples": vae.encode(torch.from_numpy(scene.edited)[None])}
        return _decode(vae, latent), time.perf_counter() - t0
    return run


# Each method exactly as published: its own feature layer and progress schedule.
AS_PUBLISHED = {"feature_layers": "method default", "progress_schedule": "method default"}


def all_methods(s: Settings) -> dict:
    """name -> method. The ablations change one input of the default: 'PBSI 1 timestep' runs
    PBSI over the first timestep only (and the reference's point-drag stage, which may not
    outlast PBSI, in that timestep only); 'no intermediate states' is geometry's progress 1
    throughout. The paper and reference rows are each method as published: the default is
    neither, the reference's pipeline on the paper's features (every decoder stage)."""
    return {
        "no edit": no_edit(s),
        "copy-paste (RegionDrag-like)": copy_paste(s),
        "PBSI 1 timestep": dragnext(s, pbsi_timesteps=1, point_drag_timesteps=1),
        "no intermediate states": dragnext(s, progress_schedule="final"),
        "DragNeXt (default)": dragnext(s),
        "DragNeXt (paper method)": dragnext(s, method="paper", **AS_PUBLISHED),
        "DragNeXt (reference method)": dragnext(s, method="reference", **AS_PUBLISHED),
        "DragNeXt (fast preset)": dragnext(preset_settings(s, "fast")),
        "ground truth (VAE round trip)": ground_truth_round_trip(),
    }
