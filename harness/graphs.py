"""API-format graphs of a drag edit: stock nodes and the four DragNeXt nodes, on an SD1.x
checkpoint (`drag_graph`) or on the project's toy prior (`toy_drag_graph`)."""
import json

# The PBSI node's point-drag inputs (the reference method's stage) at their defaults.
POINT_DRAG = {"point_drag_timesteps": 3, "tracks_per_timestep": 10, "steps_per_track": 3, "motion_radius": 4,
              "track_radius": 12, "motion_step": 4.0, "reach_distance": 2.0, "no_change_patience": 10}


def _edit_nodes(model, vae, cond, image: str, spec, prefix: str, steps=50, inversion_strength=0.75,
                pbsi_timesteps=5, iterations=10, lr=0.02, mask_weight=0.2, feature_layers="all_stages",
                progress_schedule="method default", method="reference", activation_checkpointing=False,
                mutual_attention=True, mutual_attention_from_layer=-1) -> dict:
    """Nodes 3-12: load, encode, invert, spec, PBSI, denoise, decode, save (10), and PBSI's
    intermediate states decoded and saved (12); node defaults unless overridden."""
    spec_text = spec if isinstance(spec, str) else json.dumps(spec)
    return {
        "3": {"class_type": "LoadImage", "inputs": {"image": image}},
        "4": {"class_type": "VAEEncode", "inputs": {"pixels": ["3", 0], "vae": vae}},
        "5": {"class_type": "DragNeXtInversion", "inputs": {
            "model": model, "latent": ["4", 0], "conditioning": cond,
            "steps": steps, "inversion_strength": inversion_strength}},
        "6": {"class_type": "DragNeXtSpec", "inputs": {"image": ["3", 0], "spec": spec_text}},
        "7": {"class_type": "DragNeXtPBSI", "inputs": {
            "model": model, "inversion": ["5", 0], "drag": ["6", 0], "conditioning": cond,
            "pbsi_timesteps": pbsi_timesteps, "iterations": iterations, "lr": lr, "mask_weight": mask_weight,
            "feature_layers": feature_layers, "progress_schedule": progress_schedule, "method": method,
            **POINT_DRAG, "activation_checkpointing": activation_checkpointing}},
        "8": {"class_type": "DragNeXtDenoise", "inputs": {
            "model": model, "edit": ["7", 0], "conditioning": cond,
            "mutual_attention": mutual_attention, "mutual_attention_from_layer": mutual_attention_from_layer}},
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": vae}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": prefix}},
        "11": {"class_type": "VAEDecode", "inputs": {"samples": ["7", 1], "vae": vae}},
        "12": {"class_type": "SaveImage", "inputs": {"images": ["11", 0], "filename_prefix": f"{prefix}_states"}},
    }


def drag_graph(checkpoint: str, image: str, spec, prompt="a photo", prefix="dragnext", **settings) -> dict:
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": ["1", 1]}},
    }
    graph.update(_edit_nodes(["1", 0], ["1", 2], ["2", 0], image, spec, prefix, **settings))
    return graph


def toy_drag_graph(image: str, spec, prefix="dragnext_toy", **settings) -> dict:
    """On the committed toy prior (it has no prompts)."""
    graph = {"1": {"class_type": "DragNeXtToyPriorLoader", "inputs": {"directory": ""}}}
    graph.update(_edit_nodes(["1", 0], ["1", 1], ["1", 2], image, spec, prefix, **settings))
    return graph
