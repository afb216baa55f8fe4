"""The canvas editor in the real ComfyUI frontend, in headless Chromium (Debian's package,
driven by playwright-core; scripts/install_browser.sh installs both).

- test_editor_end_to_end: in the classic canvas and in Nodes 2.0 (Vue nodes): draws a region
  with every tool, places handle/target/centre, switches to rotate, checks the spec widget,
  checks clicks after node resize and canvas zoom, edits in the full-window view (known
  pixels clicked at two wheel-zoom levels, pan, undo, Done writes the spec), saves, reloads;
  then queues: the server must receive the drawn spec and run it, and the node toggles
  between the original and the edited image and scrubs PBSI's states from the run's images.
  Screenshots of each view go to test-artifacts/.
- test_workflow_runs: every file in workflows/ is loaded in the frontend, queued with the
  Run button, and runs to completion (on the generated test checkpoint, or the toy prior
  bundled with the pack); each SaveImage node's picture comes back at the loaded picture's size.
"""
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dragnext_ops.spec import build_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
BROWSER = ROOT / "tests" / "browser"
ARTIFACTS = ROOT / "test-artifacts"
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
RUN_TIMEOUT = 900  # seconds for one queued graph on a CPU
# The example workflows are set for real use (50 steps, 5 PBSI timesteps x 10 iterations);
# on CI's 2 CPU cores that is ~10 min a run. The browser sets these widgets (by name, so a
# renamed input fails loudly) before queueing: same graph, same nodes, fewer passes.
QUICK = {"DragNeXtInversion": {"steps": 10, "inversion_strength": 0.8},
         "DragNeXtPBSI": {"pbsi_timesteps": 2, "iterations": 3, "point_drag_timesteps": 2}}


def _node():
    node = shutil.which("node")
    assert node, "Node 20 is required (scripts/install_browser.sh sets up the browser side)"
    assert (ROOT / "node_modules" / "playwright-core").is_dir(), "run scripts/install_browser.sh first"
    assert Path("/usr/bin/chromium").exists(), "run scripts/install_browser.sh first"
    return node


def _drive(script, *args, timeout):
    """Run a browser driver; returns its RESULT lines as dicts (its log is shown on failure)."""
    proc = subprocess.run([_node(), str(BROWSER / script), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    return results


def _finished(client, prompt_id):
    """The prompt's history entry, once it has finished (the server files it then)."""
    return client.history(prompt_id, timeout=RUN_TIMEOUT)  # TimeoutError if it did not finish


def _succeeded(entry):
    status = entry["status"]
    errors = [m for m in status.get("messages", []) if m[0] == "execution_error"]
    assert status.get("status_str") == "success" and status.get("completed"), f"run failed: {json.dumps(errors)[:3000]}"


def _spec_workflow():
    for path in WORKFLOWS:
        if any(n["type"] == "DragNeXtSpec" for n in json.loads(path.read_text())["nodes"]):
            return path
    raise AssertionError("workflows/ holds no workflow with a DragNeXtSpec node")


def test_editor_end_to_end(comfy_server, client, tmp_path):
    # A picture of its own (256 x 192, multiples of 8) so that the drawing fits it whatever
    # image the example workflow names.
    y, x = np.mgrid[0:192, 0:256]
    picture = np.stack([x * 255 // 256, y * 255 // 192, ((x // 16 + y // 16) % 2) * 200], -1).astype(np.uint8)
    Image.fromarray(picture).save(Path(comfy_server.input_dir) / "dragnext_editor_test.png")
    Image.fromarray(picture[::2, ::2].copy()).save(Path(comfy_server.input_dir) / "dragnext_editor_test_small.png")
    workflow = json.loads(_spec_workflow().read_text())
    for node in workflow["nodes"]:
        if node["type"] == "LoadImage":
            node["widgets_values"][0] = "dragnext_editor_test.png"
    path = tmp_path / "editor_workflow.json"
    path.write_text(json.dumps(workflow))

    [result] = _drive("editor_e2e.mjs", comfy_server.url, path, ARTIFACTS, "--queue", "--quick", json.dumps(QUICK),
                      "--second-image", "dragnext_editor_test_small.png", timeout=1500)
    spec = json.loads(result["spec"])
    assert result["image"] == {"width": 256, "height": 192}
    assert result["followed"] == {"width": 128, "height": 96}, "the editor follows the upstream image"
    assert spec["operations"][0]["type"] == "rotate"
    for view in ("editor", "editor_reloaded", "editor_window_classic", "editor_vue", "editor_window_vue", "editor_result"):
        assert (ARTIFACTS / f"{view}.png").stat().st_size > 10_000, f"screenshot {view}.png"
    assert result["result"]["states"] == QUICK["DragNeXtPBSI"]["pbsi_timesteps"], "one PBSI state per PBSI timestep"

    # Python accepts what the editor drew, for that image: regions, handle inside, centre.
    drag = build_spec(parse_spec(result["spec"]), 192, 256)
    op = drag.operations[0]
    assert op.kind == "rotate" and op.region.sum() > 500
    assert op.region[int(op.handle[1]), int(op.handle[0])]

    entry = _finished(client, result["prompt"]["id"])
    sent = entry["prompt"][2][str(result["node"])]["inputs"]["spec"]
    assert sent == result["spec"], "the server received the drawn spec"
    _succeeded(entry)


@pytest.fixture(scope="module")
def workflow_runs(comfy_server):
    """Load and queue every workflow in one browser session, as written (the reference's
    default settings); then wait for each run."""
    results = _drive("run_workflows.mjs", comfy_server.url, *WORKFLOWS, timeout=120 + 60 * len(WORKFLOWS))
    return {Path(r["file"]).name: r for r in results}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_runs(workflow, workflow_runs, client):
    result = workflow_runs.get(workflow.name)
    assert result is not None, "the browser never reported on this workflow"
    assert "error" not in result, result.get("error")
    entry = _finished(client, result["prompt_id"])
    _succeeded(entry)
    nodes = json.loads(workflow.read_text())["nodes"]
    [picture] = [n["widgets_values"][0] for n in nodes if n["type"] == "LoadImage"]
    size = Image.open(workflow.parent / picture).size
    saves = [str(n["id"]) for n in nodes if n["type"] == "SaveImage"]
    assert saves, "the workflow saves its edit"
    for node_id in saves:
        images = entry["outputs"].get(node_id, {}).get("images", [])
        assert images, f"SaveImage node {node_id} wrote no image"
        for image in images:
            png = client.get_bytes(f"/view?filename={image['filename']}&subfolder={image['subfolder']}"
                                   f"&type={image['type']}")
            assert Image.open(io.BytesIO(png)).size == size, f"node {node_id}: the edit is the picture's size"
