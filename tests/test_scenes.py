"""The scene generator's ground truth is exact: rendering the moved object equals moving
the rendered object (exactly for whole-pixel and quarter-turn moves, away from edges for
other angles), and every scene is a valid drag spec whose masks are the scene's."""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from dragnext_ops.geometry import rotation_angle
from dragnext_ops.spec import build_spec, parse_spec
import json

from proof import objects, shapes
from proof import backgrounds
from proof.scenes import HALF_EXTENT, OP_TYPES, World, make_scene

SIZE = 128


def _shift(a, dx, dy):
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    return out


@pytest.mark.parametrize("kind", objects.KINDS)
def test_translated_render_equals_shifted_render(kind):
    rng = np.random.default_rng(3)
    shape = objects.make_shape(rng, kind, (50.3, 60.7), 14)
    base = shapes.coverage(shape, SIZE, SIZE)
    moved = shapes.coverage(shape, SIZE, SIZE, shapes.translate_map(17, -9))
    assert 0 < base.sum() and np.array_equal(moved, _shift(base, 17, -9))


@pytest.mark.parametrize("kind", objects.KINDS)
def test_quarter_turn_render_equals_rotated_render(kind):
    rng = np.random.default_rng(5)
    shape = objects.make_shape(rng, kind, (61.2, 58.9), 15)
    cx, cy = 64, 60   # a pixel corner: pixel centres map onto pixel centres
    base = shapes.coverage(shape, SIZE, SIZE)
    rot = shapes.coverage(shape, SIZE, SIZE, shapes.rotate_map((cx, cy), math.pi / 2))
    # forward: (x, y) -> (cx - (y - cy), cy + (x - cx)); pixel (i, j) -> (cx + cy - 1 - j, cy - cx + i)
    j, i = np.nonzero(base >= 0)
    expected = np.zeros_like(base)
    expected[cy - cx + i, cx + cy - 1 - j] = base[j, i]
    assert np.array_equal(rot, expected)


@pytest.mark.parametrize("angle_deg", [-47.0, 33.0])
def test_rotated_render_equals_warped_render_away_from_edges(angle_deg):
    rng = np.random.default_rng(7)
    shape = objects.make_shape(rng, "rect", (64, 64), 24)
    m = shapes.rotate_map((60.0, 66.0), math.radians(angle_deg))
    base = shapes.coverage(shape, SIZE, SIZE)
    rot = shapes.coverage(shape, SIZE, SIZE, m)
    # warp the rendered image: output pixel centre p samples base at the inverse-mapped p
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    qx, qy = shapes.apply_map(m, xx, yy, inverse=True)
    warped = cv2.remap(base.astype(np.float32), (qx - 0.5).astype(np.float32), (qy - 0.5).astype(np.float32),
                       cv2.INTER_LINEAR, borderValue=0)
    hard = (rot >= 0.5).astype(np.uint8)
    far = (cv2.distanceTransform(hard, cv2.DIST_L2, 5) > 2.5) | (cv2.distanceTransform(1 - hard, cv2.DIST_L2, 5) > 2.5)
    assert far.mean() > 0.9 and hard.sum() > 500
    np.testing.assert_allclose(warped[far], rot[far], atol=1e-6)


def test_deformation_translates_the_edge_region_rigidly_and_keeps_the_anchor():
    sc = next(s for s in (make_scene(k, "deform") for k in range(40)) if s.objects[0]["kind"] == "rect")
    obj = sc.objects[0]
    m = obj["after"]
    ux, uy = (int(round(v)) for v in m["direction"])
    d = int(round(m["distance"]))
    assert d == m["distance"] and d > 0
    base = shapes.coverage(obj["shape"], SIZE, SIZE)
    after = shapes.coverage(obj["shape"], SIZE, SIZE, m)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    s_lo = np.minimum(xx * ux + yy * uy, (xx + 1) * ux + (yy + 1) * uy)
    s_hi = np.maximum(xx * ux + yy * uy, (xx + 1) * ux + (yy + 1) * uy)
    edge = s_lo >= m["s_edge"]
    anchor = s_hi <= m["s_anchor"]
    assert (base[edge] > 0).sum() > 20 and (base[anchor] > 0).sum() > 20
    np.testing.assert_array_equal(_shift(np.where(edge, base, 0), d * ux, d * uy)[_shift(edge, d * ux, d * uy)],
                                  after[_shift(edge, d * ux, d * uy)])
    np.testing.assert_array_equal(base[anchor], after[anchor])


@pytest.mark.parametrize("op_type", OP_TYPES)
def test_scene_is_deterministic_and_its_ground_truth_is_the_moved_render(op_type):
    a, b = make_scene(11, op_type), make_scene(11, op_type)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.edited, b.edited)
    assert a.spec() == b.spec()
    assert not np.array_equal(a.image, make_scene(12, op_type).image)
    # outside the dragged object's two poses the ground truth is the original image
    op = a.operations[0]
    k = op["object"]
    moved = a.masks[k] | a.edited_masks[k]
    grown = cv2.dilate(moved.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    np.testing.assert_array_equal(a.image[~grown], a.edited[~grown])
    # the dragged object leaves and arrives; its colour marks its new pose
    assert a.edited_masks[k].sum() > 50 and not np.array_equal(a.masks[k], a.edited_masks[k])
    colour = a.objects[k]["colour"]
    assert np.abs(a.edited[a.edited_masks[k] & ~a.masks[k]] - colour).max() < 0.5 + 1e-6


@pytest.mark.parametrize("op_type", OP_TYPES)
def test_scene_spec_validates_and_rasterises_to_the_scene_masks(op_type):
    for seed in range(6):
        sc = make_scene(seed, op_type)
        drag = build_spec(parse_spec(json.dumps(sc.spec())), SIZE, SIZE)
        for op, dop in zip(sc.operations, drag.operations):
            assert np.array_equal(dop.region, op["mask"])
            hx, hy = op["handle"]
            assert op["mask"][int(hy), int(hx)]
        assert np.array_equal(drag.editable, sc.editable_mask)
        # every pose of a dragged object lies inside the editable mask; the others outside
        for i, obj_mask in enumerate(sc.masks):
            dragged = any(op["object"] == i for op in sc.operations)
            both = obj_mask | sc.edited_masks[i]
            assert (both <= sc.editable_mask).all() if dragged else not (both & sc.editable_mask).any()
        via_masks = build_spec(parse_spec(json.dumps(sc.spec(with_regions=False))), SIZE, SIZE,
                               region_masks=sc.region_masks().astype(np.float32))
        assert np.array_equal(via_masks.operations[0].region, drag.operations[0].region)


def test_rotation_target_lies_at_the_spec_angle():
    for seed in range(8):
        sc = make_scene(seed, "rotate")
        op = sc.operations[0]
        m = sc.objects[op["object"]]["after"]
        assert rotation_angle(op["handle"], op["target"], op["center"]) == pytest.approx(m["angle"], abs=1e-9)
        assert math.radians(25) - 1e-9 <= abs(m["angle"]) <= math.radians(60) + 1e-9


def test_translation_offset_is_the_object_displacement():
    for seed in range(8):
        sc = make_scene(seed, "translate")
        op = sc.operations[0]
        dx, dy = sc.objects[op["object"]]["after"]["offset"]
        assert (op["target"][0] - op["handle"][0], op["target"][1] - op["handle"][1]) == (dx, dy)
        k = op["object"]
        assert np.array_equal(_shift(sc.masks[k], int(dx), int(dy)), sc.edited_masks[k])


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="op_type"):
        make_scene(0, "scale")
    with pytest.raises(ValueError, match="multiple of 8"):
        make_scene(0, "translate", size=100)
    with pytest.raises(ValueError, match="n_operations"):
        make_scene(0, "translate", n_objects=1, n_operations=2)


def test_two_operations_drag_two_objects():
    sc = make_scene(37, "translate", n_objects=3, n_operations=2)  # three large objects fit on few seeds
    assert [op["object"] for op in sc.operations] == [0, 1]
    assert len(sc.spec()["operations"]) == 2 and len(sc.spec()["editable"]) == 2


def test_half_extent_sets_the_objects_size():
    from proof import shapes

    def mean_extent(half_extent):
        world = World(half_extent=half_extent) if half_extent else None
        sizes = [max(b[2] - b[0], b[3] - b[1]) for seed in range(8)
                 for o in make_scene(seed, "translate", world=world).objects
                 for b in [shapes.mapped_bbox(o["shape"], None)]]
        return float(np.mean(sizes)), max(sizes)

    small, large = mean_extent((0.09, 0.16)), mean_extent((0.2, 0.24))
    assert large[0] > 1.4 * small[0]
    assert large[1] <= 2.5 * 0.24 * 128 and small[1] <= 2.5 * 0.16 * 128  # strokes: 2.3 half extents, padded
    assert mean_extent(None) == mean_extent(HALF_EXTENT)


def test_a_plainer_world_draws_only_its_backgrounds_and_kinds():
    world = World(backgrounds=("flat",), kinds=("disc", "rect", "triangle"))
    kinds = set()
    for seed in range(12):
        for op_type in OP_TYPES:
            sc = make_scene(seed, op_type, world=world)
            assert np.ptp(sc.background.reshape(-1, 3), axis=0).max() == 0  # one flat colour
            kinds |= {o["kind"] for o in sc.objects}
            if op_type == "rotate":  # a turned disc does not change: never the dragged object
                assert sc.objects[sc.operations[0]["object"]]["kind"] != "disc"
    assert kinds == {"disc", "rect", "triangle"}
    assert not np.array_equal(make_scene(5, "rotate").image, make_scene(5, "rotate", world=world).image)


# sha256 (first 16 hex digits) of make_scene(seed, op).image as commit 947b3f6 drew it, before worlds existed
BEFORE_WORLDS = {(5, "rotate"): "eacfd5adf91aaa53", (0, "translate"): "ba4fc2884475895f", (7, "deform"): "3cbd78095e970bf5"}


def test_the_default_world_draws_the_scenes_drawn_before_worlds_existed():
    # the session-10 prior's evaluation figures were measured on these scenes: same draws, same images
    import hashlib
    for (seed, op_type), digest in BEFORE_WORLDS.items():
        image = np.ascontiguousarray(make_scene(seed, op_type, world=World()).image)
        assert hashlib.sha256(image.tobytes()).hexdigest()[:16] == digest, (seed, op_type)


def test_a_world_comes_from_a_prior_config_and_bad_ones_are_refused():
    with open(Path(__file__).resolve().parent.parent / "models" / "toy_prior" / "config.json") as f:
        assert World.bundled() == World.of(json.load(f))
    assert World.of({}) == World()  # a config from before worlds: the session-10 prior's world
    world = World.of({"half_extent": [0.1, 0.2], "world": {"backgrounds": ["flat", "linear"], "kinds": ["rect"]}})
    assert world == World(half_extent=(0.1, 0.2), backgrounds=("flat", "linear"), kinds=("rect",))
    assert world.name() != World(half_extent=(0.1, 0.2)).name() == "0.1-0.2"  # scene caches apart
    with pytest.raises(ValueError, match="world.kinds"):
        World(kinds=("disc",))  # nothing to rotate
    with pytest.raises(ValueError, match="world.backgrounds"):
        World(backgrounds=("checkerboard",))
    with pytest.raises(ValueError, match="unknown keys"):
        World.of({"world": {"colours": ["red"]}})
    with pytest.raises(ValueError, match="unknown background kind"):
        backgrounds.background(np.random.default_rng(0), 16, 16, kind="checkerboard")


def _plain_and_flagged(op_type, flag):
    """Scenes 0-3 in the plain world and in the same world with `flag` (marks, shading) on,
    checked to hold the same poses, colours and operations."""
    plain = World(backgrounds=("flat",), kinds=("disc", "rect", "triangle"))
    flagged = World(backgrounds=("flat",), kinds=("disc", "rect", "triangle"), **{flag: True})
    assert flagged.name() == plain.name() + {"marks": "_marks", "shading": "_shaded"}[flag]
    for seed in range(4):
        a, b = make_scene(seed, op_type, world=plain), make_scene(seed, op_type, world=flagged)
        assert a.spec() == b.spec() and np.array_equal(a.masks, b.masks) and np.array_equal(a.edited_masks, b.edited_masks)
        yield a, b


@pytest.mark.parametrize("op_type", OP_TYPES)
def test_marks_are_drawn_inside_their_objects_and_move_with_them(op_type):
    for a, b in _plain_and_flagged(op_type, "marks"):
        # a mark changes only its object's own pixels
        for before, after, edited in ((a.image, b.image, False), (a.edited, b.edited, True)):
            covered = np.any([shapes.coverage(o["shape"], SIZE, SIZE, o["after"] if edited else None) > 0
                              for o in b.objects], axis=0)
            changed = np.abs(before - after).max(axis=-1) > 0
            assert changed.any() and not (changed & ~covered).any()
        # the ground truth is the moved render: the mark's own coverage through the object's map
        k = b.operations[0]["object"]
        obj = b.objects[k]
        mark = shapes.coverage(obj["mark"]["shape"], SIZE, SIZE, obj["after"]) * shapes.coverage(
            obj["shape"], SIZE, SIZE, obj["after"])
        full = mark > 0.999
        assert full.sum() > 20
        np.testing.assert_allclose(b.edited[full], np.broadcast_to(obj["mark"]["colour"], (int(full.sum()), 3)))
        assert np.abs(obj["mark"]["colour"] - obj["colour"]).max() > 0.4  # the object's colour segment leaves it out


@pytest.mark.parametrize("flag,bad", [("marks", "yes"), ("shading", 1)])
def test_a_config_names_its_world_flags_as_booleans(flag, bad):
    assert getattr(World.of({"world": {flag: True}}), flag) and not getattr(World.of({}), flag)
    with pytest.raises(ValueError, match=f"world.{flag}"):
        World.of({"world": {flag: bad}})


def _shade_direction(image, cover, colour):
    """The direction in which a shaded object darkens: a plane fitted to its brightness."""
    ys, xs = np.nonzero(cover)
    brightness = image[ys, xs].sum(axis=1) / colour.sum()
    (gx, gy, _), *_ = np.linalg.lstsq(np.stack([xs, ys, np.ones_like(xs)], 1).astype(float), brightness, rcond=None)
    return math.atan2(-gy, -gx)


@pytest.mark.parametrize("op_type", OP_TYPES)
def test_shading_keeps_the_plain_worlds_poses_and_moves_with_the_object(op_type):
    for a, b in _plain_and_flagged(op_type, "shading"):
        k = b.operations[0]["object"]
        obj = b.objects[k]
        whole = shapes.coverage(obj["shape"], SIZE, SIZE) > 0.999
        moved = shapes.coverage(obj["shape"], SIZE, SIZE, obj["after"]) > 0.999
        # only objects' pixels change, and a shaded object is never brighter than its colour
        changed = np.abs(a.image - b.image).max(axis=-1) > 1e-6
        covered = np.any([shapes.coverage(o["shape"], SIZE, SIZE) > 0 for o in b.objects], axis=0)
        assert changed[whole].any() and not (changed & ~covered).any()
        assert (b.image[whole] <= obj["colour"] + 1e-6).all()
        # the shade is the object's own: it turns with it
        turn = math.degrees(_shade_direction(b.edited, moved, obj["colour"]) - _shade_direction(b.image, whole, obj["colour"]))
        expected = math.degrees(obj["after"].get("angle", 0.0))
        if op_type != "deform":  # a stretch bends the shade's plane
            assert abs((turn - expected + 180) % 360 - 180) < 2.0
        if op_type == "translate":
            dx, dy = obj["after"]["offset"]
            np.testing.assert_allclose(b.edited[moved], b.image[_shift(moved, -int(dx), -int(dy))], atol=1e-6)
