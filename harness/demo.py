"""`make demo`: one drag edit through a real ComfyUI server, from a fresh clone.

    make demo                          # a generated random-weight SD1.5-layout checkpoint
    make demo CKPT=/path/to/model.safetensors   # your own SD1.x checkpoint

Writes before.png and after.png (and the graph it ran) to out/demo/.
"""
import argparse
import io
import json
import shutil
import time
from pathlib import Path

import comfy.cli_args

comfy.cli_args.args.cpu = True

from PIL import Image  # noqa: E402

from .checkpoint import write_sd15_checkpoint  # noqa: E402
from .client import ComfyClient  # noqa: E402
from .example_scene import TRANSLATE, example_scene  # noqa: E402
from .graphs import drag_graph  # noqa: E402
from .server import REPO, ComfyServer  # noqa: E402

GENERATED = REPO / ".cache" / "generated_sd15.safetensors"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", help="an SD1.x checkpoint (.safetensors); default: a generated one")
    parser.add_argument("--image", help="a picture to edit (default: the example scene)")
    parser.add_argument("--spec", help="a drag spec JSON file (default: move the example's red disc right)")
    parser.add_argument("--prompt", default="a red disc and a blue bar")
    parser.add_argument("--out", default=str(REPO / "out" / "demo"))
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.ckpt:
        checkpoint = Path(args.ckpt).resolve()
        if not checkpoint.is_file():
            parser.error(f"--ckpt: no such file {checkpoint}")
    else:
        checkpoint = GENERATED
        if not checkpoint.exists():
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            write_sd15_checkpoint(checkpoint)
        print("No CKPT given: using a generated random-weight checkpoint in the SD1.5 layout.\n"
              "Its picture is meaningless; it only proves the pipeline. Pass CKPT=/path/to/sd15.safetensors "
              "for a real edit.")
    before = Image.open(args.image).convert("RGB") if args.image else example_scene()
    spec = json.loads(Path(args.spec).read_text()) if args.spec else TRANSLATE

    with ComfyServer() as server:
        (server.checkpoints_dir / checkpoint.name).symlink_to(checkpoint)
        client = ComfyClient(server.url)
        buf = io.BytesIO()
        before.save(buf, "PNG")
        image = client.upload_image("dragnext_demo.png", buf.getvalue())
        graph = drag_graph(checkpoint.name, image, spec, prompt=args.prompt)
        started = time.time()
        result = client.run(graph, timeout=3600, on_message=_print_progress)
        print()
        if result["status"] != "success":
            errors = [m["data"] for m in result["messages"] if m["type"] == "execution_error"]
            raise SystemExit(f"the edit failed: {errors[0]['exception_message'] if errors else result['status']}\n"
                             f"server log: {server.log_path}")
        after = client.output_images(result, "10")[0]
        before.save(out / "before.png")
        (out / "after.png").write_bytes(after)
        (out / "graph.json").write_text(json.dumps(graph, indent=1))
        shutil.copy(server.log_path, out / "server.log")
    print(f"edit took {time.time() - started:.1f}s; wrote {out / 'before.png'} and {out / 'after.png'}")


def _print_progress(msg):
    if msg["type"] == "progress":
        d = msg["data"]
        print(f"\rnode {d['node']}: {d['value']}/{d['max']}   ", end="", flush=True)


if __name__ == "__main__":
    main()
