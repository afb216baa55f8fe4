"""Writes the example workflows (ComfyUI's UI format) and their example pictures: SD1.5's
in workflows/, SDXL's in workflows/dragnext_sdxl/.

Run: PYTHONPATH=. .venv/bin/python scripts/build_workflows.py
The graphs use only stock loaders and the four DragNeXt nodes. The SDXL graph is the SD1.5
one with another checkpoint, picture and drag: plain CLIPTextEncode, as in the host's own
SDXL templates; the host then fills SDXL's size conditioning from the latent at every stage
(the image's own size), where CLIPTextEncodeSDXL's typed sizes would go stale when the user
loads another picture. The method settings are the nodes' defaults: on SDXL the mutual
attention layer's -1 picks the family's own range.
"""
import json
from pathlib import Path

from harness.example_scene import (CHECKPOINT, ROTATE, SDXL_CHECKPOINT, SDXL_ROTATE, SDXL_SIZE, SDXL_TRANSLATE,
                                   TRANSLATE, example_scene)

OUT = Path(__file__).resolve().parent.parent / "workflows"
IMAGE = "dragnext_example.png"
# Beside, not among, the SD1.5 examples: tests/test_editor_browser.py runs every
# workflows/*.json at its defaults on CI's CPU, which a 1024 px graph cannot do in time.
SDXL_OUT = OUT / "dragnext_sdxl"
SDXL_IMAGE = "dragnext_sdxl_example.png"
PROMPT = "a red disc and a blue bar"

# type -> (inputs [(name, type)], outputs [(name, type)]) for the sockets this graph links.
SOCKETS = {
    "CheckpointLoaderSimple": ([], [("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")]),
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


def drag_workflow(spec: dict, prompt: str, checkpoint: str = CHECKPOINT, image: str = IMAGE) -> dict:
    nodes = [
        (1, "CheckpointLoaderSimple", (20, 60), (315, 98), [checkpoint]),
        (2, "CLIPTextEncode", (360, 60), (400, 160), [prompt]),
        (3, "LoadImage", (20, 260), (315, 314), [image, "image"]),
        (4, "VAEEncode", (360, 260), (210, 46), []),
        (5, "DragNeXtInversion", (800, 60), (320, 130), [50, 0.75]),
        (6, "DragNeXtSpec", (360, 360), (420, 520), [json.dumps(spec, indent=1)]),
        (7, "DragNeXtPBSI", (800, 260), (320, 430), [5, 10, 0.02, 0.2, "method default", "method default", "paper",
                                                          3, 10, 3, 4, 12, 4.0, 2.0, 10, False]),
        (8, "DragNeXtDenoise", (1160, 60), (320, 130), [True, -1]),
        (9, "VAEDecode", (1160, 260), (210, 46), []),
        (10, "SaveImage", (1160, 360), (400, 420), ["dragnext"]),
        (11, "VAEDecode", (800, 560), (210, 46), []),
        (12, "PreviewImage", (800, 650), (320, 260), []),
    ]
    edges = [
        (1, 1, 2, "clip"), (3, 0, 4, "pixels"), (1, 2, 4, "vae"),
        (1, 0, 5, "model"), (4, 0, 5, "latent"), (2, 0, 5, "conditioning"),
        (3, 0, 6, "image"),
        (1, 0, 7, "model"), (5, 0, 7, "inversion"), (6, 0, 7, "drag"), (2, 0, 7, "conditioning"),
        (1, 0, 8, "model"), (7, 0, 8, "edit"), (2, 0, 8, "conditioning"),
        (8, 0, 9, "samples"), (1, 2, 9, "vae"), (9, 0, 10, "images"),
        (7, 1, 11, "samples"), (1, 2, 11, "vae"), (11, 0, 12, "images"),  # the drag's intermediate states
    ]
    return ui_workflow(nodes, edges)


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
