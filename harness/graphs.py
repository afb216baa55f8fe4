"""API-format graphs of a drag edit built from stock nodes and the four DragNeXt nodes."""
import json

FAST = {"steps": 10, "inversion_strength": 0.7, "pbsi_timesteps": 2, "iterations": 2}


def drag_graph(checkpoint: str, image: str, spec, prompt="a photo", steps=50, inversion_strength=0.75,
               pbsi_timesteps=5, iterations=10, lr=0.02, mask_weight=0.2, feature_layers="last_up_block",
               progress_schedule="paper", mutual_attention=True, mutual_attention_from_layer=3,
               prefix="dragnext") -> dict:
    spec_text = spec if isinstance(spec, str) else json.dumps(spec)
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": ["1", 1]}},
        "3": {"class_type": "LoadImage", "inputs": {"image": image}},
        "4": {"class_type": "VAEEncode", "inputs": {"pixels": ["3", 0], "vae": ["1", 2]}},
        "5": {"class_type": "DragNeXtInversion", "inputs": {
            "model": ["1", 0], "latent": ["4", 0], "conditioning": ["2", 0],
            "steps": steps, "inversion_strength": inversion_strength}},
        "6": {"class_type": "DragNeXtSpec", "inputs": {"image": ["3", 0], "spec": spec_text}},
        "7": {"class_type": "DragNeXtPBSI", "inputs": {
            "model": ["1", 0], "inversion": ["5", 0], "drag": ["6", 0], "conditioning": ["2", 0],
            "pbsi_timesteps": pbsi_timesteps, "iterations": iterations, "lr": lr, "mask_weight": mask_weight,
            "feature_layers": feature_layers, "progress_schedule": progress_schedule}},
        "8": {"class_type": "DragNeXtDenoise", "inputs": {
            "model": ["1", 0], "edit": ["7", 0], "conditioning": ["2", 0],
            "mutual_attention": mutual_attention, "mutual_attention_from_layer": mutual_attention_from_layer}},
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": prefix}},
    }
