"""Writes the example workflows (ComfyUI's UI format) and their example pictures: SD1.5's
in workflows/, SDXL's in workflows/dragnext_sdxl/, and the toy-prior template (the same edit
on the project's own small prior and one of its scenes: runs without any checkpoint).

Run: PYTHONPATH=. .venv/bin/python scripts/build_workflows.py
The graphs use only stock nodes and the four DragNeXt nodes (the toy template: the pack's toy
prior loader in place of the checkpoint and the prompt). The SDXL graph is the SD1.5
one with another checkpoint, picture and drag: plain CLIPTextEncode, as in the host's own
SDXL templates; the host then fills SDXL's size conditioning from the latent at every stage
(the image's own size), where CLIPTextEncodeSDXL's typed sizes would go stale when the user
loads another picture. The method settings are the nodes' defaults: on SDXL the mutual
attention layer's -1 picks the family's own range.
"""
import json
from pathlib import Path

import numpy as np
from PIL import Image

from harness.example_scene import (CHECKPOINT, ROTATE, SDXL_CHECKPOINT, SDXL_ROTATE, SDXL_SIZE, SDXL_TRANSLATE,
                                   TRANSLATE, example_scene)
from proof.scenes import World, make_scene

# The loader's combo value for the prior bundled with the pack (nodes/prior_loader.py; the
# nodes package needs the host to import, this script does not).
BUNDLED = "(bundled) toy_prior"

OUT = Path(__file__).resolve().parent.parent / "workflows"
IMAGE = "dragnext_example.png"
# Beside, not among, the SD1.5 examples: tests/test_editor_browser.py runs every
# workflows/*.json at its defaults on CI's CPU, which a 1024 px graph cannot do in time.
SDXL_OUT = OUT / "dragnext_sdxl"
SDXL_IMAGE = "dragnext_sdxl_example.png"
PROMPT = "a red disc and a blue bar"
# The toy prior's template: scene 0's translate, the scene `make demo` edits by default.
TOY_WORKFLOW = "dragnext_toy_prior.json"
TOY_IMAGE = "dragnext_toy_scene.png"
TOY_SCENE = (0, "translate")

# type -> (inputs [(name, type)], outputs [(name, type)]) for the sockets this graph links.
SOCKETS = {
    "CheckpointLoaderSimple": ([], [("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")]),
    "DragNeXtToyPriorLoader": ([], [("MODEL", "MODEL"), ("VAE", "VAE"), ("CONDITIONING", "CONDITIONING")]),
    "CLIPTextEncode": ([("clip", "CLIP")], [("CONDITIONING", "CONDITIONING")]),
    "LoadImage": ([], [("IMAGE", "IMAGE"), ("MASK", "MASK")]),
    "VAEEncode": ([("pixels", "IMAGE"), ("vae", "VAE")], [("LATENT", "LATENT")]),
    "DragNeXtInversion": ([("model", "MODEL"), ("latent", "LATENT"), ("conditioning", "CONDITIONING")],
                          [("inversion", "DRAGNEXT_INVERSION")]),
    "DragNeXtSpec": ([("image", "IMAGE"), ("region_masks", "MASK"), ("editable_mask", "MASK")],
                     [("drag", "DRAGNEXT_DRAG_SPEC")]),
    "DragNeXtPBSI": ([("model", "MODEL"), ("inversion", "DRAGNEXT_INVERSION"), ("drag", "DRAGNEXT_DRAG_SPEC"),
                      ("conditioning", "CONDITIONING")], [("edit", "DRAGNEXT_EDIT"), ("states", "LATENT")]),
    "DragNeXtDenoise": ([("model", "MODEL"), ("edit", "DRAGNEXT_EDIT"), ("conditioning", "CONDITIONING")],
                        [("latent", "LATENT")]),
    "VAEDecode": ([("samples", "LATENT"), ("vae", "VAE")], [("IMAGE", "IMAGE")]),
    "SaveImage": ([("images", "IMAGE")], []),
    "PreviewImage": ([("images", "IMAGE")], []),
}


def ui_workflow(nodes, edges) -> dict:
    """nodes: [(id, type, pos, size, widgets_values)]; edges: [(src, src_slot, dst, dst_input_name)]."""
    by_id = {n[0]: n for n in nodes}
    links, out_links, in_links = [], {}, {}
    for link_id, (src, slot, dst, name) in enumerate(edges, start=1):
        inputs = [i[0] for i in SOCKETS[by_id[dst][1]][0]]
        dst_slot = inputs.index(name)
        link_type = SOCKETS[by_id[src][1]][1][slot][1]
        links.append([link_id, src, slot, dst, dst_slot, link_type])
        out_links.setdefault((src, slot), []).append(link_id)
        in_links[(dst, name)] = link_id
    ui_nodes = []
    for order, (nid, ntype, pos, size, widgets) in enumerate(nodes):
        ins, outs = SOCKETS[ntype]
        ui_nodes.append({
            "id": nid, "type": ntype, "pos": list(pos), "size": list(size), "flags": {}, "order": order, "mode": 0,
            "inputs": [{"name": n, "type": t, "link": in_links.get((nid, n))} for n, t in ins],
            "outputs": [{"name": n, "type": t, "links": out_links.get((nid, s), []), "slot_index": s}
                        for s, (n, t) in enumerate(outs)],
            "properties": {"Node name for S&R": ntype},
            "widgets_values": widgets,
        })
    return {"last_node_id": max(by_id), "last_link_id": len(links), "nodes": ui_nodes, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def edit_nodes(spec: dict, image: str, prefix: str = "dragnext") -> list:
    """Nodes 3-12, from the picture to the saved edit and PBSI's states, at the nodes' defaults."""
    return [
        (3, "LoadImage", (20, 260), (315, 314), [image, "image"]),
        (4, "VAEEncode", (360, 260), (210, 46), []),
        (5, "DragNeXtInversion", (800, 60), (320, 130), [50, 0.75]),
        (6, "DragNeXtSpec", (360, 360), (420, 520), [json.dumps(spec, indent=1)]),
        (7, "DragNeXtPBSI", (800, 260), (320, 480), [5, 10, 0.02, 0.2, "all_stages", "method default", "reference",
                                                          3, 10, 3, 4, 12, 4.0, 2.0, 10, False]),
        (8, "DragNeXtDenoise", (1160, 60), (320, 130), [True, -1]),
        (9, "VAEDecode", (1160, 260), (210, 46), []),
        (10, "SaveImage", (1160, 360), (400, 420), [prefix]),
        (11, "VAEDecode", (800, 900), (210, 46), []),  # below PBSI's 16 widgets, also in Nodes 2.0
        (12, "PreviewImage", (800, 1000), (320, 260), []),
    ]


def edit_edges(model: tuple, vae: tuple, cond: tuple) -> list:
    """The links into and between nodes 3-12, from the (node, slot) sockets given."""
    return [
        (3, 0, 4, "pixels"), (*vae, 4, "vae"),
        (*model, 5, "model"), (4, 0, 5, "latent"), (*cond, 5, "conditioning"),
        (3, 0, 6, "image"),
        (*model, 7, "model"), (5, 0, 7, "inversion"), (6, 0, 7, "drag"), (*cond, 7, "conditioning"),
        (*model, 8, "model"), (7, 0, 8, "edit"), (*cond, 8, "conditioning"),
        (8, 0, 9, "samples"), (*vae, 9, "vae"), (9, 0, 10, "images"),
        (7, 1, 11, "samples"), (*vae, 11, "vae"), (11, 0, 12, "images"),  # the drag's intermediate states
    ]


def drag_workflow(spec: dict, prompt: str, checkpoint: str = CHECKPOINT, image: str = IMAGE) -> dict:
    nodes = [
        (1, "CheckpointLoaderSimple", (20, 60), (315, 98), [checkpoint]),
        (2, "CLIPTextEncode", (360, 60), (400, 160), [prompt]),
        *edit_nodes(spec, image),
    ]
    edges = [(1, 1, 2, "clip"), *edit_edges(model=(1, 0), vae=(1, 2), cond=(2, 0))]
    return ui_workflow(nodes, edges)


def toy_workflow(spec: dict, image: str = TOY_IMAGE) -> dict:
    """The same edit on the toy prior: its loader gives the MODEL, the VAE and the fixed
    CONDITIONING (it has no prompts), so no checkpoint and no text encoder."""
    nodes = [(1, "DragNeXtToyPriorLoader", (20, 60), (315, 82), [BUNDLED]), *edit_nodes(spec, image, "dragnext_toy")]
    return ui_workflow(nodes, edit_edges(model=(1, 0), vae=(1, 1), cond=(1, 2)))


def toy_scene_picture(scene) -> Image.Image:
    """The scene's image as 8-bit RGB, as `make demo` uploads it."""
    return Image.fromarray((np.clip(scene.image, 0, 1) * 255).round().astype(np.uint8))


def write(path: Path, workflow: dict):
    path.write_text(json.dumps(workflow, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    example_scene().save(OUT / IMAGE)
    for name, spec in (("dragnext_translate.json", TRANSLATE), ("dragnext_rotate.json", ROTATE)):
        write(OUT / name, drag_workflow(spec, PROMPT))
    SDXL_OUT.mkdir(exist_ok=True)
    example_scene(SDXL_SIZE).save(SDXL_OUT / SDXL_IMAGE, optimize=True)  # flat colours: 7 KB
    for name, spec in (("dragnext_sdxl_translate.json", SDXL_TRANSLATE), ("dragnext_sdxl_rotate.json", SDXL_ROTATE)):
        write(SDXL_OUT / name, drag_workflow(spec, PROMPT, SDXL_CHECKPOINT, SDXL_IMAGE))
    scene = make_scene(*TOY_SCENE, world=World.bundled())
    toy_scene_picture(scene).save(OUT / TOY_IMAGE)
    write(OUT / TOY_WORKFLOW, toy_workflow(scene.spec()))
