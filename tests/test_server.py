"""The four nodes on the real ComfyUI server, driven through its HTTP and websocket API."""
import io
import json

import numpy as np
import pytest
from PIL import Image

from harness.client import PromptRejected
from harness.example_scene import ROTATE, example_scene
from harness.demo import to_pil
from proof.scenes import World, make_scene
from harness.graphs import drag_graph, toy_drag_graph

SPEC = {
    "version": 1,
    "operations": [
        {"type": "translate", "handle": [40, 48], "target": [75, 48],
         "region": [{"tool": "brush", "mode": "add", "radius": 17, "points": [[40, 48]]}]},
        ROTATE["operations"][0],
    ],
    "editable": [{"tool": "rect", "mode": "add", "points": [[15, 25], [125, 105]]}],
}
# Short enough for CI, long enough that every stage runs several passes; the paper's method,
# whose pass counts are fixed (the default's point-drag stage stops when its handles arrive:
# the browser test runs the toy template at the defaults through the server).
QUICK = dict(steps=10, inversion_strength=0.8, pbsi_timesteps=2, iterations=3, method="paper")
NODES = {"DragNeXtInversion": "5", "DragNeXtPBSI": "7", "DragNeXtDenoise": "8"}


@pytest.fixture(scope="module")
def image_name(client):
    return client.upload_pil("dragnext_test_scene.png", example_scene())


def graph(comfy_server, image_name, **overrides):
    params = {**QUICK, **overrides}
    return drag_graph(comfy_server.checkpoint_name, image_name, params.pop("spec", SPEC), **params)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def fresh_run(client, g, **kw):
    """Run with the server's caches and models freed first, so every node executes."""
    client.post("/free", {"unload_models": True, "free_memory": True})
    return client.run(g, **kw)


def test_object_info_lists_the_nodes_with_inputs(client):
    info = client.get("/object_info")
    expected = {
        "DragNeXtInversion": {"model", "latent", "conditioning", "steps", "inversion_strength"},
        "DragNeXtSpec": {"image", "spec", "region_masks", "editable_mask"},
        "DragNeXtPBSI": {"model", "inversion", "drag", "conditioning", "pbsi_timesteps", "iterations", "lr",
                         "mask_weight", "feature_layers", "progress_schedule", "method", "point_drag_timesteps",
                         "tracks_per_timestep", "steps_per_track", "motion_radius", "track_radius", "motion_step",
                         "reach_distance", "no_change_patience", "activation_checkpointing"},
        "DragNeXtDenoise": {"model", "edit", "conditioning", "mutual_attention", "mutual_attention_from_layer"},
        "DragNeXtToyPriorLoader": {"directory"},
    }
    for node, inputs in expected.items():
        spec = info[node]
        assert spec["category"] == "DragNeXt"
        declared = set(spec["input"]["required"]) | set(spec["input"].get("optional", {}))
        assert declared == inputs, node
    assert info["DragNeXtPBSI"]["input"]["required"]["lr"][1]["default"] == 0.02
    assert info["DragNeXtDenoise"]["output"] == ["LATENT"]
    assert info["DragNeXtPBSI"]["output"] == ["DRAGNEXT_EDIT", "LATENT"]
    assert info["DragNeXtToyPriorLoader"]["output"] == ["MODEL", "VAE", "CONDITIONING"]


@pytest.fixture(scope="module")
def reference(comfy_server, client, image_name):
    """One edit run from scratch: the graph and its result, shared by the tests below."""
    g = graph(comfy_server, image_name)
    return g, fresh_run(client, g)


def test_drag_graph_runs_saves_an_image_and_reports_progress_per_stage(client, reference):
    _, result = reference
    assert result["status"] == "success", result["messages"][-1]
    image = pixels(client.output_images(result, "10")[0])
    assert image.shape == (128, 128, 3)
    states = client.output_images(result, "12")   # PBSI's intermediate states, one per PBSI timestep
    assert [pixels(s).shape for s in states] == [(128, 128, 3)] * QUICK["pbsi_timesteps"]
    progress = {}
    for m in result["messages"]:
        if m["type"] == "progress":
            progress.setdefault(m["data"]["node"], []).append((m["data"]["value"], m["data"]["max"]))
    inverted = round(QUICK["steps"] * QUICK["inversion_strength"])
    n, k = QUICK["pbsi_timesteps"], QUICK["iterations"]
    expected_max = {"5": inverted, "7": n + n * k + n, "8": inverted - n}
    for node_id, total in expected_max.items():
        values = progress[node_id]
        assert values[-1] == (total, total), (node_id, values)
        assert len(values) == total, node_id


def test_same_inputs_give_bit_identical_images(client, reference):
    g, result = reference
    again = fresh_run(client, g)
    assert np.array_equal(pixels(client.output_images(again, "10")[0]), pixels(client.output_images(result, "10")[0]))


def test_interrupt_stops_pbsi_within_one_pass_and_leaves_nothing_behind(client, reference):
    g, result = reference
    seen_after_interrupt = []
    state = {"sent": False}

    def on_message(msg):
        if msg["type"] != "progress" or msg["data"]["node"] != NODES["DragNeXtPBSI"]:
            return
        if state["sent"]:
            seen_after_interrupt.append(msg["data"]["value"])
        elif msg["data"]["value"] >= 3:  # inside the optimisation loop
            client.interrupt()
            state["sent"] = True

    interrupted = fresh_run(client, g, on_message=on_message)
    assert interrupted["status"] == "interrupted"
    assert state["sent"]
    assert len(seen_after_interrupt) <= 1, seen_after_interrupt

    again = client.run(g)  # same graph, same server: PBSI and denoise run again
    assert again["status"] == "success"
    executed = {m["data"]["node"] for m in again["messages"] if m["type"] == "executing"}
    assert NODES["DragNeXtPBSI"] in executed
    assert np.array_equal(pixels(client.output_images(again, "10")[0]), pixels(client.output_images(result, "10")[0]))


def test_a_run_past_its_deadline_raises_at_the_deadline(client, reference):
    import time
    g, _ = reference
    started = time.time()
    with pytest.raises(TimeoutError, match="did not finish within 0.5s"):
        fresh_run(client, g, timeout=0.5)   # the whole run's limit, however long the server stays silent
    assert time.time() - started < 5
    client.interrupt()
    with pytest.raises(TimeoutError, match="no history"):
        client.history("no-such-prompt", timeout=0.2)
    assert client.run(g)["status"] == "success"   # the server is free again


@pytest.mark.parametrize("spec_text, field", [
    ("{not json", "spec: not valid JSON"),
    (json.dumps({"version": 2, "operations": []}), "version"),
    (json.dumps({"version": 1, "operations": [{"type": "shear", "handle": [1, 1], "target": [2, 2]}]}),
     "operations[0].type"),
    (json.dumps({"version": 1, "operations": [
        {"type": "rotate", "handle": [10, 10], "target": [20, 20], "center": [10, 10],
         "region": [{"tool": "rect", "mode": "add", "points": [[0, 0], [30, 30]]}]}]}),
     "operations[0].center"),
])
def test_invalid_spec_is_refused_before_running_with_the_field_named(comfy_server, client, image_name,
                                                                      spec_text, field):
    with pytest.raises(PromptRejected) as rejected:
        client.queue(graph(comfy_server, image_name, spec=spec_text))
    errors = json.dumps(rejected.value.body["node_errors"])
    assert field in errors


def test_spec_that_does_not_fit_the_image_fails_before_any_model_work(comfy_server, client, image_name):
    outside = {"version": 1, "operations": [
        {"type": "translate", "handle": [40, 48], "target": [200, 48],
         "region": [{"tool": "brush", "mode": "add", "radius": 10, "points": [[40, 48]]}]}]}
    result = fresh_run(client, graph(comfy_server, image_name, spec=outside))
    assert result["status"] == "error"
    error = next(m for m in result["messages"] if m["type"] == "execution_error")["data"]
    assert error["node_type"] == "DragNeXtSpec"
    assert "operations[0].target" in error["exception_message"]
    assert "outside the 128x128 image" in error["exception_message"]
    started = {m["data"]["node"] for m in result["messages"] if m["type"] == "progress"}
    assert not started & set(NODES.values())  # no UNet pass ran


def test_demo_graph_on_the_toy_prior_runs(client):
    # what `make demo` runs by default: the bundled prior through its loader node
    scene = make_scene(0, "translate", world=World.bundled())
    name = client.upload_pil("dragnext_toy_scene.png", to_pil(scene.image))
    spec = scene.spec()
    result = client.run(toy_drag_graph(name, spec, **QUICK))
    assert result["status"] == "success", result["messages"][-1]
    assert pixels(client.output_images(result, "10")[0]).shape == (128, 128, 3)
    assert len(client.output_images(result, "12")) == QUICK["pbsi_timesteps"]


# ----------------------------------------------------------------- SD2.x v-prediction

@pytest.fixture(scope="module")
def sd2_checkpoint(comfy_server):
    """A generated SD2.x checkpoint the host detects as v-prediction from its weights (40 s
    to write: the full-size OpenCLIP-H text encoder is 354 M parameters)."""
    from harness.checkpoint import write_sd2_checkpoint
    name = "dragnext_test_sd2_v.safetensors"
    write_sd2_checkpoint(comfy_server.checkpoints_dir / name, v_prediction=True)
    return name


def test_sd2_v_prediction_checkpoint_runs_the_graph_with_progress_per_stage(client, image_name, sd2_checkpoint):
    result = fresh_run(client, drag_graph(sd2_checkpoint, image_name, SPEC, prefix="dragnext_sd2", **QUICK))
    assert result["status"] == "success", result["messages"][-1]
    assert pixels(client.output_images(result, "10")[0]).shape == (128, 128, 3)
    progress = {}
    for m in result["messages"]:
        if m["type"] == "progress":
            progress.setdefault(m["data"]["node"], []).append(m["data"]["value"])
    inverted = round(QUICK["steps"] * QUICK["inversion_strength"])
    n, k = QUICK["pbsi_timesteps"], QUICK["iterations"]
    for node_id, total in {"5": inverted, "7": n + n * k + n, "8": inverted - n}.items():
        assert progress[node_id][-1] == total, (node_id, progress.get(node_id))
