"""Every example workflow (UI format) against the real server's /object_info."""
import json
from pathlib import Path

import pytest

from dragnext.dragnext_ops.spec import parse_spec
from harness.example_scene import TRANSLATE
from harness.graphs import drag_graph

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent / "workflows").glob("*.json"))
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


@pytest.fixture(scope="module")
def object_info(client):
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


def test_there_are_translate_and_rotate_examples():
    kinds = set()
    for path in WORKFLOWS:
        for node in json.loads(path.read_text())["nodes"]:
            if node["type"] == "DragNeXtSpec":
                kinds |= {op["type"] for op in parse_spec(node["widgets_values"][0])["operations"]}
    assert {"translate", "rotate"} <= kinds


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
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


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_settings_are_the_nodes_defaults(path, object_info):
    # The examples show the method as shipped: a changed node default must reach them.
    nodes = {n["type"]: n for n in json.loads(path.read_text())["nodes"]}
    for node_type in method_nodes(nodes):
        expected = defaults(object_info[node_type])
        assert dict(zip(expected, nodes[node_type]["widgets_values"])) == expected, node_type


def test_harness_graphs_run_the_nodes_defaults(object_info):
    graph = {n["class_type"]: n["inputs"] for n in drag_graph("model.safetensors", "image.png", TRANSLATE).values()}
    for node_type in method_nodes(graph):
        expected = defaults(object_info[node_type])
        assert {name: graph[node_type][name] for name in expected} == expected, node_type
