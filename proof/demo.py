"""A ready drag edit on the toy prior, for `make demo` and first-time users.

    PYTHONPATH=.comfyui:. .venv/bin/python -m proof.demo --out out/demo [--op translate] [--seed 0] [--run]

Writes OUT/scene.png (the image), OUT/ground_truth.png, OUT/spec.json (the drag spec with
drawn regions) and OUT/graph.json (an API-format graph: DragNeXtToyPriorLoader, LoadImage
of `scene.png`, VAEEncode, the four DragNeXt nodes, VAEDecode, SaveImage) to POST to a
server whose input folder holds scene.png. With --run, the edit also runs in-process
through the same nodes and OUT/edited.png is written next to the ground truth.
"""
import argparse
import json
import os

import numpy as np

from proof.scenes import OP_TYPES, make_scene


def toy_drag_graph(image: str, spec, prefix: str = "dragnext_toy", **settings) -> dict:
    """The DragNeXt graph on the toy prior, node defaults unless overridden."""
    s = {"steps": 50, "inversion_strength": 0.75, "pbsi_timesteps": 5, "iterations": 10, "lr": 0.02,
         "mask_weight": 0.2, "feature_layers": "last_up_block", "progress_schedule": "paper",
         "mutual_attention": True, "mutual_attention_from_layer": 3}
    unknown = set(settings) - set(s)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    s.update(settings)
    spec_text = spec if isinstance(spec, str) else json.dumps(spec)
    return {
        "1": {"class_type": "DragNeXtToyPriorLoader", "inputs": {"directory": ""}},
        "3": {"class_type": "LoadImage", "inputs": {"image": image}},
        "4": {"class_type": "VAEEncode", "inputs": {"pixels": ["3", 0], "vae": ["1", 1]}},
        "5": {"class_type": "DragNeXtInversion", "inputs": {
            "model": ["1", 0], "latent": ["4", 0], "conditioning": ["1", 2],
            "steps": s["steps"], "inversion_strength": s["inversion_strength"]}},
        "6": {"class_type": "DragNeXtSpec", "inputs": {"image": ["3", 0], "spec": spec_text}},
        "7": {"class_type": "DragNeXtPBSI", "inputs": {
            "model": ["1", 0], "inversion": ["5", 0], "drag": ["6", 0], "conditioning": ["1", 2],
            "pbsi_timesteps": s["pbsi_timesteps"], "iterations": s["iterations"], "lr": s["lr"],
            "mask_weight": s["mask_weight"], "feature_layers": s["feature_layers"],
            "progress_schedule": s["progress_schedule"]}},
        "8": {"class_type": "DragNeXtDenoise", "inputs": {
            "model": ["1", 0], "edit": ["7", 0], "conditioning": ["1", 2],
            "mutual_attention": s["mutual_attention"],
            "mutual_attention_from_layer": s["mutual_attention_from_layer"]}},
        "9": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 1]}},
        "10": {"class_type": "SaveImage", "inputs": {"images": ["9", 0], "filename_prefix": prefix}},
    }


def _save_png(path: str, image: np.ndarray):
    import cv2
    cv2.imwrite(path, (np.clip(image, 0, 1)[..., ::-1] * 255).round().astype(np.uint8))


def write_demo(out_dir: str, seed: int = 0, op_type: str = "translate", run: bool = False) -> dict:
    """Write the demo's files; returns their paths (and 'edited' when run)."""
    scene = make_scene(seed, op_type)
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f) for k, f in (
        ("scene", "scene.png"), ("ground_truth", "ground_truth.png"), ("spec", "spec.json"), ("graph", "graph.json"))}
    _save_png(paths["scene"], scene.image)
    _save_png(paths["ground_truth"], scene.edited)
    with open(paths["spec"], "w") as f:
        json.dump(scene.spec(), f, indent=1)
    with open(paths["graph"], "w") as f:
        json.dump(toy_drag_graph("scene.png", scene.spec()), f, indent=1)
    if run:
        from proof.evaluate import load_toy_prior
        from proof.methods import Settings, dragnext
        model, vae, cond = load_toy_prior(None)
        edited, _ = dragnext(Settings())(model, vae, cond, scene, {})
        paths["edited"] = os.path.join(out_dir, "edited.png")
        _save_png(paths["edited"], edited)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--op", default="translate", choices=OP_TYPES)
    ap.add_argument("--run", action="store_true", help="also run the edit in-process")
    args = ap.parse_args()
    if args.run:
        from proof.pack import host_on_cpu
        host_on_cpu()
    for k, v in write_demo(args.out, args.seed, args.op, args.run).items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
