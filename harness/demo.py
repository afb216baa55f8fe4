"""`make demo`: one drag edit through a real ComfyUI server, from a fresh clone.

    make demo                                   # the project's toy prior, a synthetic scene
    make demo CKPT=/path/to/model.safetensors   # your own SD1.x checkpoint

Writes to out/demo/: before.png, after.png, states.png (PBSI's intermediate states, left to
right: the image predicted after each PBSI timestep) and graph.json; with the toy prior also
ground_truth.png (the scene rendered with the object really moved).
"""
import argparse
import io
import json
import shutil
import time
from pathlib import Path

import comfy.cli_args

comfy.cli_args.args.cpu = True

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from proof.scenes import OP_TYPES, World  # noqa: E402

from .client import ComfyClient  # noqa: E402
from .example_scene import TRANSLATE, example_scene  # noqa: E402
from .graphs import drag_graph, toy_drag_graph  # noqa: E402
from .server import REPO, ComfyServer  # noqa: E402


def to_pil(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8))


def toy_figures(scene, after_png: bytes) -> str:
    """The edit's IoU with the ground-truth pose and its DAI, as proof.evaluate measures them."""
    from proof.scene_metrics import scene_metrics
    edited = np.asarray(Image.open(io.BytesIO(after_png)).convert("RGB"), dtype=np.float32) / 255.0
    m = scene_metrics(scene, edited)
    unedited = scene_metrics(scene, scene.image)
    return (f"IoU with the ground-truth pose {m['iou']:.3f} (no edit: {unedited['iou']:.3f}; the goal is 0.7 for "
            f"translate, 0.6 for rotate and deform), DAI {m['dai']:.4f} (no edit: {unedited['dai']:.4f}; lower is "
            f"better), PSNR outside the editable mask {m['psnr_out']:.1f} dB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", help="an SD1.x checkpoint (.safetensors); default: the toy prior")
    parser.add_argument("--image", help="with --ckpt: a picture to edit (default: the example scene)")
    parser.add_argument("--spec", help="with --ckpt: a drag spec JSON file (default: move the example's red disc right)")
    parser.add_argument("--prompt", default="a red disc and a blue bar", help="with --ckpt: the prompt")
    parser.add_argument("--seed", type=int, default=0, help="toy prior: the scene's seed")
    parser.add_argument("--op", default="translate", choices=OP_TYPES,
                        help="toy prior: the scene's operation")
    parser.add_argument("--out", default=str(REPO / "out" / "demo"))
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth, checkpoint = None, None
    if args.ckpt:
        checkpoint = Path(args.ckpt).resolve()
        if not checkpoint.is_file():
            parser.error(f"--ckpt: no such file {checkpoint}")
        before = Image.open(args.image).convert("RGB") if args.image else example_scene()
        spec = json.loads(Path(args.spec).read_text()) if args.spec else TRANSLATE
        build = lambda image, spec: drag_graph(checkpoint.name, image, spec, prompt=args.prompt)  # noqa: E731
    else:
        if args.image or args.spec:
            parser.error("--image and --spec need --ckpt: the toy prior only knows its own synthetic scenes")
        from proof.scenes import make_scene
        scene = make_scene(args.seed, args.op, world=World.bundled())  # the scenes the toy prior was trained on
        before, truth, spec, build = to_pil(scene.image), to_pil(scene.edited), scene.spec(), toy_drag_graph
        print(f"No CKPT given: the project's toy prior (models/toy_prior) on synthetic scene {args.seed} ({args.op}), "
              f"every node at its defaults.")

    with ComfyServer() as server:
        if checkpoint:
            (server.checkpoints_dir / checkpoint.name).symlink_to(checkpoint)
        client = ComfyClient(server.url)
        graph = build(client.upload_pil("dragnext_demo.png", before), spec)
        started = time.time()
        try:
            result = client.run(graph, timeout=3600, on_message=_progress_printer(graph))
        except (ConnectionError, TimeoutError) as error:
            result = {"status": str(error), "messages": []}
        print()
        shutil.copy(server.log_path, out / "server.log")  # the server's folder goes with it
        if result["status"] != "success":
            errors = [m["data"] for m in result["messages"] if m["type"] == "execution_error"]
            raise SystemExit(f"the edit failed: {errors[0]['exception_message'] if errors else result['status']}\n"
                             f"server log: {out / 'server.log'}")
        (out / "ground_truth.png").unlink(missing_ok=True)  # from an earlier toy run: not this edit's
        before.save(out / "before.png")
        after = client.output_images(result, "10")[0]
        (out / "after.png").write_bytes(after)
        states = [Image.open(io.BytesIO(png)) for png in client.output_images(result, "12")]
        _side_by_side(states).save(out / "states.png")
        written = ["before.png", "after.png", "states.png"]
        if truth is not None:
            truth.save(out / "ground_truth.png")
            written.append("ground_truth.png")
        (out / "graph.json").write_text(json.dumps(graph, indent=1))
    print(f"edit took {time.time() - started:.1f}s; wrote {', '.join(written)} to {out}")
    if truth is not None:
        print(toy_figures(scene, after))


def _side_by_side(images):
    w, h = images[0].size
    sheet = Image.new("RGB", (w * len(images), h))
    for i, im in enumerate(images):
        sheet.paste(im.convert("RGB"), (i * w, 0))
    return sheet


# What each node with a progress bar is called in the demo's output (stages, not node ids).
STAGES = {"DragNeXtInversion": "inversion", "DragNeXtPBSI": "PBSI", "DragNeXtDenoise": "denoise"}


def _progress_printer(graph):
    """on_message for ComfyClient.run: one line per stage ("inversion 12/38"), redrawn in place."""
    shown = {"stage": None}

    def print_progress(msg):
        if msg["type"] != "progress":
            return
        d = msg["data"]
        kind = graph.get(str(d["node"]), {}).get("class_type", f"node {d['node']}")
        stage = STAGES.get(kind, kind)
        if shown["stage"] not in (None, stage):
            print()
        shown["stage"] = stage
        print(f"\r{stage} {d['value']}/{d['max']}   ", end="", flush=True)

    return print_progress


if __name__ == "__main__":
    main()
