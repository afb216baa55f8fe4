"""The canvas editor (web/raster.js, web/spec.js) and dragnext_ops paint the same pixels
and reject the same specs.

A Node script rasterises a fixed set of specs (hand-written edge cases and seeded random
ones: self-intersecting polygons, brush edges on pixel centres, erase, off-image shapes)
with the editor's own module; each mask must equal regions.rasterise bit for bit.
"""
import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dragnext_ops.regions import rasterise
from dragnext_ops.spec import build_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def js_cases(tmp_path_factory):
    node = shutil.which("node")
    assert node, "Node 20 is required for the editor tests"
    out = tmp_path_factory.mktemp("raster") / "cases.json"
    subprocess.run([node, str(ROOT / "tests/web/gen_raster_fixtures.mjs"), str(out)], check=True, cwd=ROOT, timeout=120)
    return json.loads(out.read_text())["cases"]


def test_enough_cases_with_every_tool_and_mode(js_cases):
    assert len(js_cases) >= 40
    seen = {(s["tool"], s["mode"]) for c in js_cases for s in c["shapes"]}
    assert seen == {(t, m) for t in ("brush", "rect", "polygon") for m in ("add", "erase")}


def test_editor_masks_equal_python_masks(js_cases):
    mismatched = []
    for case in js_cases:
        h, w = case["height"], case["width"]
        js = np.frombuffer(base64.b64decode(case["mask"]), dtype=np.uint8).reshape(h, w).astype(bool)
        py = rasterise(case["shapes"], h, w)
        assert py.shape == (h, w)
        if not np.array_equal(js, py):
            mismatched.append(f"{case['name']}: {int((js != py).sum())} pixels differ")
    assert not mismatched, "\n".join(mismatched)
    # the cases are not trivial: masks have both set and clear pixels overall
    total = sum(rasterise(c["shapes"], c["height"], c["width"]).sum() for c in js_cases)
    assert 0 < total < sum(c["height"] * c["width"] for c in js_cases)


@pytest.fixture(scope="module")
def js_validation(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation") / "cases.json"
    subprocess.run([shutil.which("node"), str(ROOT / "tests/web/gen_validation_cases.mjs"), str(out)], check=True, cwd=ROOT, timeout=120)
    return json.loads(out.read_text())["cases"]


def test_editor_flags_exactly_what_python_rejects(js_validation):
    """The editor's warnings before queueing agree with the server's checks, field by field."""
    disagreements = []
    accepted = rejected = 0
    for case in js_validation:
        try:
            build_spec(parse_spec(case["spec"]), case["height"], case["width"])
            python_field = None
            accepted += 1
        except ValueError as e:
            python_field = str(e).split(":")[0]
            rejected += 1
        editor_fields = [p["field"] for p in case["problems"]]
        if python_field is None and editor_fields:
            disagreements.append(f"{case['name']}: editor flags {editor_fields}, Python accepts")
        elif python_field is not None and not any(python_field.startswith(f) or f.startswith(python_field) for f in editor_fields):
            disagreements.append(f"{case['name']}: Python rejects {python_field}, editor flags {editor_fields}")
    assert not disagreements, "\n".join(disagreements)
    assert accepted >= 5 and rejected >= 10
