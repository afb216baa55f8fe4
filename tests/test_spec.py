"""Every rejection of docs/spec-format.md is a ValueError that names the field; valid specs
with every tool, erase, and MASK inputs build the masks they describe."""
import json

import numpy as np
import pytest
import torch

from dragnext.dragnext_ops.regions import brush_inside, polygon_inside, rasterise
from dragnext.dragnext_ops.spec import build_spec, parse_spec
from dragnext.nodes.spec_node import DragNeXtSpec

H, W = 64, 96


def translate(**kw):
    op = {"type": "translate", "handle": [20, 20], "target": [40, 30],
          "region": [{"tool": "rect", "mode": "add", "points": [[10, 10], [30, 30]]}]}
    op.update(kw)
    return op


def rotate(**kw):
    op = {"type": "rotate", "handle": [60, 20], "target": [70, 30], "center": [60, 40],
          "region": [{"tool": "rect", "mode": "add", "points": [[50, 10], [70, 30]]}]}
    op.update(kw)
    return op


def spec(*ops, **top):
    data = {"version": 1, "operations": list(ops) or [translate()]}
    data.update(top)
    return json.dumps(data)


def rejected(text, field, region_masks=None, editable_mask=None, height=H, width=W):
    with pytest.raises(ValueError) as e:
        build_spec(parse_spec(text), height, width, region_masks, editable_mask)
    assert str(e.value).startswith(field), f"{str(e.value)!r} does not start with {field!r}"
    return str(e.value)


# ------------------------------------------------------------- rejections, by field

@pytest.mark.parametrize("text", ["{", "", "{\"version\": 1,}", "nope", "[1, 2"])
def test_malformed_json(text):
    rejected(text, "spec:")


@pytest.mark.parametrize("text", ["[]", "3", "\"a\"", "null"])
def test_json_that_is_not_an_object(text):
    rejected(text, "spec:")


@pytest.mark.parametrize("version", [2, 0, "1", None, 1.5])
def test_wrong_version(version):
    rejected(spec(version=version), "version:")


def test_missing_version():
    rejected(json.dumps({"operations": [translate()]}), "version:")


@pytest.mark.parametrize("ops", [[], None, "translate", {}])
def test_no_operations(ops):
    rejected(json.dumps({"version": 1, "operations": ops}), "operations:")


def test_unknown_operation_type():
    msg = rejected(spec(translate(), translate(type="scale")), "operations[1].type:")
    assert "scale" in msg
    rejected(spec({"handle": [1, 1], "target": [2, 2]}), "operations[0].type:")


def test_unknown_tool():
    region = [{"tool": "lasso", "mode": "add", "points": [[1, 1], [5, 5]]}]
    rejected(spec(translate(region=region)), "operations[0].region[0].tool:")
    rejected(spec(translate(), editable=[{"mode": "add", "points": [[1, 1], [5, 5]]}]), "editable[0].tool:")


def test_unknown_mode():
    region = [{"tool": "rect", "mode": "add", "points": [[1, 1], [30, 30]]},
              {"tool": "rect", "mode": "subtract", "points": [[1, 1], [5, 5]]}]
    rejected(spec(translate(region=region)), "operations[0].region[1].mode:")


@pytest.mark.parametrize("name", ["handle", "target"])
def test_missing_translate_point(name):
    op = translate()
    del op[name]
    rejected(spec(op), f"operations[0].{name}:")


@pytest.mark.parametrize("name", ["handle", "target", "center"])
def test_missing_rotate_point(name):
    op = rotate()
    del op[name]
    rejected(spec(translate(), op), f"operations[1].{name}:")


@pytest.mark.parametrize("value", [[1], [1, 2, 3], "1,2", [1, "2"], [True, 2], None, {"x": 1, "y": 2}])
def test_non_numeric_or_malformed_point(value):
    rejected(spec(translate(target=value)), "operations[0].target:")


def test_nan_and_infinite_numbers():
    # Python's json writes and reads NaN / Infinity, as a hand-typed spec may contain them
    rejected(spec(translate(handle=[float("nan"), 3])), "operations[0].handle:")
    rejected(spec(rotate(center=[4, float("inf")])), "operations[0].center:")
    rejected(spec(translate(region=[{"tool": "brush", "mode": "add", "radius": float("nan"), "points": [[1, 1]]}])),
             "operations[0].region[0].radius:")
    rejected(spec(translate(region=[{"tool": "rect", "mode": "add", "points": [[1, 1], [float("-inf"), 3]]}])),
             "operations[0].region[0].points[1]:")


@pytest.mark.parametrize("name,point", [
    ("handle", [-1, 20]), ("target", [96, 20]), ("target", [20, 64]), ("target", [20, -0.5]),
    ("target", [200, 200]),
])
def test_points_outside_the_image(name, point):
    msg = rejected(spec(translate(**{name: point})), f"operations[0].{name}:")
    assert f"{W}x{H}" in msg


def test_rotation_centre_outside_the_image():
    rejected(spec(rotate(center=[60, 70])), "operations[0].center:")


def test_points_on_the_far_edge_are_outside_and_the_near_edge_inside():
    rejected(spec(translate(target=[W, 10])), "operations[0].target:")
    build_spec(parse_spec(spec(translate(target=[W - 0.01, 0]))), H, W)


def test_empty_region():
    rejected(spec(translate(region=[])), "operations[0].region:")
    rejected(spec(translate(region=None)), "operations[0].region:")
    # erased away entirely
    region = [{"tool": "rect", "mode": "add", "points": [[10, 10], [30, 30]]},
              {"tool": "rect", "mode": "erase", "points": [[0, 0], [40, 40]]}]
    rejected(spec(translate(region=region)), "operations[0].region:")


def test_handle_outside_its_region():
    rejected(spec(translate(handle=[50, 50])), "operations[0].handle:")
    rejected(spec(translate(), rotate(handle=[20, 20])), "operations[1].handle:")


def test_rotation_centre_on_handle_or_target():
    rejected(spec(rotate(center=[60, 20])), "operations[0].center:")
    rejected(spec(rotate(center=[70, 30])), "operations[0].center:")


def test_zero_length_drag():
    rejected(spec(translate(target=[20, 20])), "operations[0].target:")
    rejected(spec(translate(), rotate(target=[60, 20])), "operations[1].target:")


def test_a_translation_within_the_handles_feature_cell():
    """Both methods move whole cells of the half-resolution grid: a drag that stays in its
    handle's cell would move nothing."""
    msg = rejected(spec(translate(target=[21, 20])), "operations[0].target:")
    assert "feature cell" in msg
    build_spec(parse_spec(spec(translate(target=[22, 20]))), H, W)   # the next cell


def test_a_region_with_no_pixel_on_the_feature_grid():
    masks = np.zeros((1, H, W), dtype=np.float32)
    masks[0, 11:31:2, 11:31:2] = 1   # odd rows and columns only
    msg = rejected(spec(translate(handle=[21.5, 21.5], target=[41.5, 31.5])), "region_masks[0]:", region_masks=masks)
    assert "feature grid" in msg
    masks[0, 12, 12] = 1
    build_spec(parse_spec(spec(translate(handle=[21.5, 21.5], target=[41.5, 31.5]))), H, W, region_masks=masks)


def test_a_number_too_large_for_a_float_names_its_field():
    rejected(spec(translate(handle=[10 ** 400, 5])), "operations[0].handle:")
    rejected(spec(translate(region=[{"tool": "brush", "mode": "add", "radius": 10 ** 400, "points": [[1, 1]]}])),
             "operations[0].region[0].radius:")


@pytest.mark.parametrize("shape,field", [
    ({"tool": "rect", "mode": "add", "points": [[1, 1]]}, "points"),
    ({"tool": "rect", "mode": "add", "points": [[1, 1], [2, 2], [3, 3]]}, "points"),
    ({"tool": "polygon", "mode": "add", "points": [[1, 1], [2, 2]]}, "points"),
    ({"tool": "brush", "mode": "add", "points": [], "radius": 3}, "points"),
    ({"tool": "brush", "mode": "add", "points": [[1, 1]]}, "radius"),
    ({"tool": "brush", "mode": "add", "points": [[1, 1]], "radius": 0}, "radius"),
    ({"tool": "brush", "mode": "add", "points": [[1, 1]], "radius": -2}, "radius"),
    ({"tool": "rect", "mode": "add", "points": "0,0,4,4"}, "points"),
])
def test_malformed_shapes(shape, field):
    rejected(spec(translate(region=[shape])), f"operations[0].region[0].{field}:")


def test_region_mask_size_mismatch():
    masks = np.zeros((1, H, W + 8), dtype=np.float32)
    msg = rejected(spec(translate(region=[])), "region_masks[0]:", region_masks=masks)
    assert f"{W}x{H}" in msg


def test_editable_mask_size_mismatch():
    rejected(spec(), "editable_mask:", editable_mask=np.ones((1, H // 2, W // 2), dtype=np.float32))


def test_region_masks_count_mismatch():
    masks = np.ones((1, H, W), dtype=np.float32)
    msg = rejected(spec(translate(), rotate()), "region_masks:", region_masks=masks)
    assert "1" in msg and "2" in msg


def test_non_finite_mask():
    masks = np.ones((1, H, W), dtype=np.float32)
    masks[0, 3, 3] = np.nan
    rejected(spec(translate(region=[])), "region_masks[0]:", region_masks=masks)


def test_empty_region_mask_names_the_input():
    rejected(spec(translate(region=[])), "region_masks[0]:", region_masks=np.zeros((1, H, W), np.float32))


def test_empty_editable_area():
    rejected(spec(editable=[{"tool": "rect", "mode": "erase", "points": [[0, 0], [5, 5]]}]), "editable:")
    rejected(spec(), "editable", editable_mask=np.zeros((H, W), np.float32))


def test_node_rejects_image_not_multiple_of_8():
    with pytest.raises(ValueError, match=r"^image:"):
        DragNeXtSpec.execute(torch.zeros(1, 60, 96, 3), spec())


def test_node_validate_inputs_reports_parse_errors():
    assert DragNeXtSpec.validate_inputs(spec=spec()) is True
    assert DragNeXtSpec.validate_inputs(spec=None) is True
    assert DragNeXtSpec.validate_inputs(spec=spec(version=2)).startswith("version:")


# ------------------------------------------------------------- valid specs

def test_valid_spec_with_every_tool_and_erase():
    region = [
        {"tool": "brush", "mode": "add", "radius": 4, "points": [[10, 10], [30, 10]]},
        {"tool": "rect", "mode": "add", "points": [[8, 20], [24, 36]]},
        {"tool": "polygon", "mode": "add", "points": [[40, 40], [60, 40], [50, 60]]},
        {"tool": "rect", "mode": "erase", "points": [[12, 24], [16, 28]]},
    ]
    text = spec(translate(handle=[20, 10], target=[50, 20], region=region), rotate(),
                editable=[{"tool": "rect", "mode": "add", "points": [[0, 0], [80, 60]]}])
    drag = build_spec(parse_spec(text), H, W)
    assert (drag.height, drag.width) == (H, W) and len(drag.operations) == 2
    r = drag.operations[0].region
    assert r.shape == (H, W) and r.dtype == bool
    # pixel (i, j) tested at its centre (i + 0.5, j + 0.5)
    assert r[10, 20] and r[10, 10] and not r[10, 35]               # brush: segment and radius
    assert r[13, 20] and not r[14, 20] and r[6, 20] and not r[5, 20]   # brush edge: 3.5^2 <= 16 < 4.5^2
    assert r[20, 8] and r[35, 23] and not r[36, 23] and not r[20, 7]  # rect, inclusive at centres
    assert r[45, 50] and not r[58, 42]                              # polygon inside / outside
    assert not r[25, 14] and r[29, 14]                              # erased hole
    assert r.sum() == rasterise(parse_spec(text)["operations"][0]["region"], H, W).sum()
    op = drag.operations[1]
    assert op.kind == "rotate" and op.center == (60.0, 40.0) and op.handle == (60.0, 20.0)
    assert drag.editable[59, 79] and not drag.editable[60, 79] and not drag.editable[0, 80]


def test_defaults_mode_to_add_and_editable_to_none():
    text = spec(translate(region=[{"tool": "rect", "points": [[10, 10], [30, 30]]}]))
    drag = build_spec(parse_spec(text), H, W)
    assert drag.editable is None
    assert drag.operations[0].region[20, 20]


def test_node_with_mask_inputs():
    region_masks = torch.zeros(2, H, W)
    region_masks[0, 15:25, 15:25] = 0.8
    region_masks[0, 15, 15] = 0.5                    # not above 0.5: outside
    region_masks[1, 10:30, 55:65] = 1.0
    editable = torch.zeros(1, H, W)
    editable[:, 5:60, 5:90] = 1.0
    text = spec(translate(region=[]), rotate(region=[]))   # drawn regions may be empty with masks connected
    (drag,) = DragNeXtSpec.execute(torch.zeros(1, H, W, 3), text, region_masks, editable).args
    assert np.array_equal(drag.operations[0].region, (region_masks[0] > 0.5).numpy())
    assert not drag.operations[0].region[15, 15] and drag.operations[0].region[16, 16]
    assert np.array_equal(drag.operations[1].region, region_masks[1].numpy() > 0.5)
    assert np.array_equal(drag.editable, editable[0].numpy() > 0.5)
    # the masks replace drawn shapes
    text = spec(translate(region=[{"tool": "rect", "mode": "add", "points": [[0, 0], [95, 63]]}]))
    (drag,) = DragNeXtSpec.execute(torch.zeros(1, H, W, 3), text, region_masks[:1], None).args
    assert drag.operations[0].region.sum() == (region_masks[0] > 0.5).sum()
    # a single (H, W) mask works for the editable input
    (drag,) = DragNeXtSpec.execute(torch.zeros(1, H, W, 3), spec(), None, editable[0]).args
    assert np.array_equal(drag.editable, editable[0].numpy() > 0.5)


def test_rasterise_tests_each_stroke_segment_and_polygon_edge_only_where_it_reaches_and_gives_the_same_mask():
    """rasterise windows each brush segment and polygon edge to the pixels it can reach;
    the inside-tests on the whole grid (brush_inside, polygon_inside) are the rule."""
    rng = np.random.default_rng(0)
    h, w = 61, 77
    py, px = np.mgrid[0:h, 0:w].astype(np.float64)
    px, py = px + 0.5, py + 0.5
    for trial in range(60):
        n = int(rng.integers(1, 12))
        points = [[float(x), float(y)] for x, y in zip(rng.uniform(-20, w + 20, n), rng.uniform(-20, h + 20, n))]
        if trial % 3 == 0:  # whole and half pixel coordinates: the edge cases of the windows
            points = [[round(x * 2) / 2, round(y * 2) / 2] for x, y in points]
        if trial % 5 == 0:  # integers, and points far off the image
            points = [[int(x), int(y)] for x, y in points] + [[-100_000, 50_000.0]]
        radius = float(rng.choice([0.3, 0.5, 2.0, 7.5, 1e6]))
        brush = {"tool": "brush", "mode": "add", "radius": radius, "points": points}
        assert np.array_equal(rasterise([brush], h, w), brush_inside(points, radius, px, py)), (trial, points)
        if n >= 3:
            polygon = {"tool": "polygon", "mode": "add", "points": points}
            assert np.array_equal(rasterise([polygon], h, w), polygon_inside(points, px, py)), (trial, points)
    # finite numbers whose windows would overflow an int: the whole image is the window
    points, radius = [[-1e308, 0.0], [5.0, 5.0]], 1e308
    with np.errstate(all="ignore"):  # r^2 overflows in both
        huge = rasterise([{"tool": "brush", "mode": "add", "radius": radius, "points": points}], h, w)
        assert np.array_equal(huge, brush_inside(points, radius, px, py))
