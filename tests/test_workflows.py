"""Every example workflow (UI format: SD1.5's, SDXL's and the toy prior's) against the real
server's /object_info, and every drag spec against the picture its workflow loads."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dragnext.dragnext_ops.spec import build_spec, parse_spec
from harness.example_scene import CHECKPOINT, SDXL_CHECKPOINT, SDXL_SIZE, SIZE, TRANSLATE
from harness.graphs import drag_graph, toy_drag_graph
from proof.scenes import World, make_scene

EXAMPLES = Path(__file__).resolve().parent.parent / "workflows"
WORKFLOWS = sorted(EXAMPLES.rglob("*.json"))  # SDXL's lie in a subfolder
PICTURES = {p.name: p for p in EXAMPLES.rglob("*.png")}
# A workflow's family: the checkpoint it loads, or the toy prior (no checkpoint).
TOY = "toy prior"
# The example picture's side in each family (the toy prior's scenes are 128 px).
PICTURE_SIZE = {CHECKPOINT: SIZE, SDXL_CHECKPOINT: SDXL_SIZE, TOY: 128}
# The drags each family shows: the toy template is `make demo`'s default edit, scene 0's translate.
OPERATIONS = {CHECKPOINT: {"translate", "rotate"}, SDXL_CHECKPOINT: {"translate", "rotate"}, TOY: {"translate"}}
TOY_SCENE = make_scene(0, "translate", world=World.bundled())
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def workflow_id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


@pytest.fixture(scope="module")
def object_info(comfy_server, client):
    # The server offers every example picture and both checkpoint names, so that the combos
    # list them. No SDXL checkpoint is small enough to generate here (tests/test_families.py
    # says why): the SD1.5 stand-in is linked under SDXL's name, for the listing only.
    for name, path in PICTURES.items():
        if not (comfy_server.input_dir / name).exists():
            shutil.copy(path, comfy_server.input_dir / name)
    sdxl = comfy_server.checkpoints_dir / SDXL_CHECKPOINT
    if not sdxl.exists():
        sdxl.symlink_to(comfy_server.checkpoints_dir / CHECKPOINT)
    return client.get("/object_info")


def widget_inputs(info: dict):
    """(name, type, options) of a node's widget inputs, in the order the frontend stores them."""
    for group in ("required", "optional"):
        for name in info.get("input_order", {}).get(group, []):
            kind, *rest = info["input"][group][name]
            options = rest[0] if rest else {}
            if isinstance(kind, list):
                kind, options = "COMBO", {**options, "options": kind}
            if kind in WIDGET_TYPES:
                yield name, kind, options


def check_value(node_type, name, kind, options, value):
    where = f"{node_type}.{name} = {value!r}"
    if kind == "COMBO":
        assert value in options["options"], where
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), where
    elif kind == "STRING":
        assert isinstance(value, str), where
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
        if kind == "INT":
            assert value == int(value), where
        assert options.get("min", value) <= value <= options.get("max", value), where


def nodes_of(path: Path, node_type: str) -> list:
    return [n for n in json.loads(path.read_text())["nodes"] if n["type"] == node_type]


def family(path: Path) -> str:
    """The checkpoint the workflow loads, or TOY; exactly one loader of either kind."""
    checkpoints, toys = nodes_of(path, "CheckpointLoaderSimple"), nodes_of(path, "DragNeXtToyPriorLoader")
    assert len(checkpoints) + len(toys) == 1, f"{path.name}: one checkpoint or toy prior loader"
    return checkpoints[0]["widgets_values"][0] if checkpoints else TOY


def test_each_family_shows_its_operations():
    kinds = {name: set() for name in OPERATIONS}
    for path in WORKFLOWS:
        for node in nodes_of(path, "DragNeXtSpec"):
            kinds[family(path)] |= {op["type"] for op in parse_spec(node["widgets_values"][0])["operations"]}
    assert kinds == OPERATIONS


def test_toy_template_is_the_scene():
    # The picture and the drag are the scene's own, so the prior sees what it was trained on
    # and the edit is `make demo`'s; the picture is the scene's image in 8 bits.
    [path] = [p for p in WORKFLOWS if family(p) == TOY]
    assert path.parent == EXAMPLES, "top level, so that the browser test runs it"
    [picture], [spec] = nodes_of(path, "LoadImage"), nodes_of(path, "DragNeXtSpec")
    rgb = np.asarray(Image.open(PICTURES[picture["widgets_values"][0]]).convert("RGB")).astype(int)
    assert np.array_equal(rgb, (np.clip(TOY_SCENE.image, 0, 1) * 255).round().astype(int))
    assert parse_spec(spec["widgets_values"][0]) == parse_spec(json.dumps(TOY_SCENE.spec()))


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_spec_fits_the_picture_it_loads(path):
    # The drag is in the loaded picture's pixels, and the picture is the family's example size.
    [picture] = nodes_of(path, "LoadImage")
    assert picture["widgets_values"][0] in PICTURES, f"workflows/ holds no picture {picture['widgets_values'][0]}"
    rgb = np.asarray(Image.open(PICTURES[picture["widgets_values"][0]]).convert("RGB")).astype(int)
    height, width = rgb.shape[:2]
    assert width == height == PICTURE_SIZE[family(path)]
    for node in nodes_of(path, "DragNeXtSpec"):
        drag = build_spec(parse_spec(node["widgets_values"][0]), height, width)  # refuses points off the image
        for op in drag.operations:
            colour = rgb[int(op.handle[1]), int(op.handle[0])]
            assert colour.max() - colour.min() > 128, f"the {op.kind} handle is on a shape, not the pale ground"


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_workflow_matches_object_info(path, object_info):
    workflow = json.loads(path.read_text())
    nodes = {n["id"]: n for n in workflow["nodes"]}
    for node in workflow["nodes"]:
        assert node["type"] in object_info, f"unknown node type {node['type']}"
        info = object_info[node["type"]]
        values = list(node.get("widgets_values", []))
        for name, kind, options in widget_inputs(info):
            assert values, f"{node['type']}: no value for widget {name}"
            check_value(node["type"], name, kind, options, values.pop(0))
            if options.get("control_after_generate") or options.get("image_upload"):
                values.pop(0)  # the frontend's extra widget (seed control, upload button)
        assert not values, f"{node['type']}: unexpected extra widget values {values}"
        if node["type"] == "DragNeXtSpec":
            parse_spec(node["widgets_values"][0])
    for link_id, src, src_slot, dst, dst_slot, link_type in workflow["links"]:
        src_info, dst_node = object_info[nodes[src]["type"]], nodes[dst]
        assert src_info["output"][src_slot] == link_type, f"link {link_id}"
        dst_input = dst_node["inputs"][dst_slot]
        assert dst_input["type"] == link_type and dst_input["link"] == link_id, f"link {link_id}"
        declared = {**object_info[dst_node["type"]]["input"]["required"],
                    **object_info[dst_node["type"]]["input"].get("optional", {})}
        assert declared[dst_input["name"]][0] == link_type, f"link {link_id} into {dst_input['name']}"


def method_nodes(nodes):
    """The DragNeXt nodes whose widgets are method settings (the spec's widget is the drag)."""
    return [n for n in nodes if n.startswith("DragNeXt") and n != "DragNeXtSpec"]


def defaults(info: dict) -> dict:
    return {name: options.get("default") for name, _, options in widget_inputs(info)}


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_workflow_settings_are_the_nodes_defaults(path, object_info):
    # The examples show the method as shipped: a changed node default must reach them.
    nodes = {n["type"]: n for n in json.loads(path.read_text())["nodes"]}
    for node_type in method_nodes(nodes):
        expected = defaults(object_info[node_type])
        assert dict(zip(expected, nodes[node_type]["widgets_values"])) == expected, node_type


@pytest.mark.parametrize("build", [lambda: drag_graph("model.safetensors", "image.png", TRANSLATE),
                                   lambda: toy_drag_graph("image.png", TRANSLATE)], ids=["checkpoint", "toy"])
def test_harness_graphs_run_the_nodes_defaults(build, object_info):
    graph = {n["class_type"]: n["inputs"] for n in build().values()}
    # The toy loader's "" is the bundled prior too (old workflows' value; nodes/prior_loader.py).
    for node_type in set(method_nodes(graph)) - {"DragNeXtToyPriorLoader"}:
        expected = defaults(object_info[node_type])
        assert {name: graph[node_type][name] for name in expected} == expected, node_type
