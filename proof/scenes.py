"""Seeded synthetic drag-editing scenes with exact ground truth.

`make_scene(seed, op_type)` gives the image, each object's mask, one or more drag
operations (handle region, handle, target, rotation centre), the editable mask and the
ground-truth edited image, rendered from the moved shapes (never resampled). The same
sample is also a version-1 drag spec (docs/spec-format.md) via `Scene.spec()`.
"""
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dragnext_ops.regions import rasterise
from proof import backgrounds, objects, shapes

OP_TYPES = ("translate", "rotate", "deform")
EDIT_MARGIN = 6  # pixels of editable margin around the moved object's two poses


@dataclass
class Scene:
    image: np.ndarray          # (H, W, 3) float32 in [0, 1]
    edited: np.ndarray         # ground truth after every operation
    background: np.ndarray     # the scene without objects
    objects: list              # dicts: shape, colour, after (map of its edited pose)
    masks: np.ndarray          # (n_objects, H, W) bool, coverage >= 0.5, original poses
    edited_masks: np.ndarray   # same, edited poses
    operations: list           # dicts: type, object, handle, target, center?, region, mask
    editable: list             # spec shapes of the editable region
    editable_mask: np.ndarray  # (H, W) bool
    meta: dict = field(default_factory=dict)

    def spec(self, with_regions: bool = True) -> dict:
        """The scene as a version-1 drag spec. Without regions the handle regions must come
        through the node's region_masks input (`region_masks()`)."""
        ops = []
        for op in self.operations:
            out = {"type": "rotate" if op["type"] == "rotate" else "translate",
                   "handle": list(op["handle"]), "target": list(op["target"])}
            if op["type"] == "rotate":
                out["center"] = list(op["center"])
            out["region"] = op["region"] if with_regions else []
            ops.append(out)
        return {"version": 1, "operations": ops, "editable": self.editable}

    def region_masks(self) -> np.ndarray:
        return np.stack([op["mask"] for op in self.operations])


def render(bg: np.ndarray, objs: list, edited: bool):
    """Composite objects over the background, each object's mark (if any) inside it and moved
    with it; returns the image and per-object masks (the whole object, its mark included)."""
    h, w = bg.shape[:2]
    img = bg.copy()
    masks = []
    for o in objs:
        m = o["after"] if edited else None
        cov = shapes.coverage(o["shape"], h, w, m)
        if o.get("shade") is not None:
            colour = o["colour"][None, None] * shade_factor(o["shade"], h, w, m)[..., None]
        else:
            colour = o["colour"][None, None]
        img = img * (1 - cov[..., None]) + colour * cov[..., None]
        if o.get("mark") is not None:
            mark = shapes.coverage(o["mark"]["shape"], h, w, m) * cov
            img = img * (1 - mark[..., None]) + o["mark"]["colour"][None, None] * mark[..., None]
        masks.append(cov >= 0.5)
    return img, np.stack(masks)


MARK_SHADE = 0.35  # a mark's colour: its object's, this much as bright
MARK_OFFSET, MARK_RADIUS = 0.45, 0.3  # the mark's centre from the object's, and its radius, per half extent


SHADE_DEPTH = 0.5  # a shaded object's far side: its colour, this much darker


def make_shade(seed: int, index: int, shape: dict, half: float) -> dict:
    """A linear shade across the object, fixed to it (it turns and stretches with the object), so
    that every part of the object, not only its edge, says where it lies. Its direction is drawn
    from its own generator, as a mark's is."""
    a = np.random.default_rng([seed, index, 8]).uniform(0, 2 * np.pi)
    return {"center": objects.shape_center(shape), "direction": (math.cos(a), math.sin(a)), "half": half}


def shade_factor(shade: dict, h: int, w: int, m: dict | None) -> np.ndarray:
    """(h, w) brightness of a shaded object at each pixel centre, its shade taken in the object's
    own frame (through the inverse of its map): 1 on one side, 1 - SHADE_DEPTH on the other."""
    px, py = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    qx, qy = shapes.apply_map(m or shapes.identity_map(), px, py, inverse=True)
    (cx, cy), (dx, dy) = shade["center"], shade["direction"]
    s = ((qx - cx) * dx + (qy - cy) * dy) / shade["half"]
    return 1 - SHADE_DEPTH * np.clip(0.5 + 0.5 * s, 0, 1)


def make_mark(seed: int, index: int, shape: dict, half: float, colour: np.ndarray) -> dict:
    """An off-centre disc of a darker shade of the object's colour: a part of the object whose
    place tells how it is turned, as an eye or a wheel does in a photograph. Drawn from its own
    generator, so that a world with marks poses and colours everything else as one without."""
    rng = np.random.default_rng([seed, index, 7])
    cx, cy = objects.shape_center(shape)
    a = rng.uniform(0, 2 * np.pi)
    centre = (cx + MARK_OFFSET * half * math.cos(a), cy + MARK_OFFSET * half * math.sin(a))
    return {"shape": {"kind": "disc", "center": centre, "radius": MARK_RADIUS * half},
            "colour": MARK_SHADE * np.asarray(colour)}


def _pixel_extreme(mask: np.ndarray, point, pick=np.argmin) -> tuple:
    """Centre of the mask pixel nearest to `point` (pick=np.argmax: the farthest)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("empty mask")
    k = int(pick((xs + 0.5 - point[0]) ** 2 + (ys + 0.5 - point[1]) ** 2))
    return float(xs[k] + 0.5), float(ys[k] + 0.5)


def _half_plane_erase(direction, s_edge, h, w) -> dict:
    """A spec polygon erasing {p : p . direction < s_edge} for an axis direction."""
    ux, uy = direction
    if ux > 0.5:
        pts = [[0, 0], [s_edge, 0], [s_edge, h], [0, h]]
    elif ux < -0.5:  # s = -x: s < s_edge  <=>  x > -s_edge
        pts = [[-s_edge, 0], [w, 0], [w, h], [-s_edge, h]]
    elif uy > 0.5:
        pts = [[0, 0], [w, 0], [w, s_edge], [0, s_edge]]
    else:
        pts = [[0, -s_edge], [w, -s_edge], [w, h], [0, h]]
    return {"tool": "polygon", "mode": "erase", "points": pts}


def _operation(rng, op_type: str, shape: dict, size: int, h: int, w: int):
    """Choose a drag for `shape`: returns (edited-pose map, op dict with its handle mask)."""
    region = objects.spec_region(shape)
    obj_mask = rasterise(region, h, w)
    c = objects.shape_center(shape)
    if op_type == "translate":
        mag = rng.uniform(0.12, 0.28) * size
        ang = rng.uniform(0, 2 * np.pi)
        dx, dy = round(mag * math.cos(ang)), round(mag * math.sin(ang))
        handle = _pixel_extreme(obj_mask, c)
        op = {"type": "translate", "handle": handle, "target": (handle[0] + dx, handle[1] + dy), "region": region,
              "mask": obj_mask}
        return shapes.translate_map(dx, dy), op
    if op_type == "rotate":
        angle = math.radians(rng.uniform(25, 60)) * (1 if rng.uniform() < 0.5 else -1)
        handle = _pixel_extreme(obj_mask, c, np.argmax)
        m = shapes.rotate_map(c, angle)
        tx, ty = shapes.apply_map(m, handle[0], handle[1])
        op = {"type": "rotate", "handle": handle, "target": (float(tx), float(ty)), "center": c, "region": region,
              "mask": obj_mask}
        return m, op
    if op_type == "deform":
        u = [(1, 0), (-1, 0), (0, 1), (0, -1)][rng.integers(4)]
        ys, xs = np.nonzero(obj_mask)
        s = (xs + 0.5) * u[0] + (ys + 0.5) * u[1]
        s_min, s_max = float(s.min()) - 0.5, float(s.max()) + 0.5
        ext = s_max - s_min
        s_anchor, s_edge = s_min + 0.25 * ext, s_min + 0.6 * ext
        dist = round(rng.uniform(0.3, 0.55) * ext)
        region = region + [_half_plane_erase(u, s_edge, h, w)]
        handle_mask = rasterise(region, h, w)
        handle = _pixel_extreme(handle_mask, c)
        op = {"type": "deform", "handle": handle, "target": (handle[0] + dist * u[0], handle[1] + dist * u[1]),
              "region": region, "mask": handle_mask}
        return shapes.stretch_map(u, s_anchor, s_edge, dist), op
    raise ValueError(f"unknown operation type {op_type!r}; expected one of {OP_TYPES}")


# An object's half extent, as a fraction of the image side: the bundled prior's world
# (models/toy_prior/config.json half_extent). The first prior's 0.09-0.16 spans 3-5 latent
# cells: too few for a latent to tell a turned object from the unturned one (proof/README.md).
HALF_EXTENT = (0.16, 0.24)
BUNDLED_CONFIG = Path(__file__).resolve().parent.parent / "models" / "toy_prior" / "config.json"


@dataclass(frozen=True)
class World:
    """What a prior's scenes hold: objects' half extent (fraction of the side), the background
    kinds and object kinds drawn among, and whether objects carry marks or shading. The default is the
    session-10 prior's world (a config without `world`); a prior's config names its own
    (`World.of`; the bundled one: `World.bundled`)."""
    half_extent: tuple = HALF_EXTENT
    backgrounds: tuple = backgrounds.KINDS
    kinds: tuple = objects.KINDS
    marks: bool = False  # each object carries an off-centre mark (make_mark)
    shading: bool = False  # each object is shaded across, in its own frame (make_shade)

    def __post_init__(self):
        lo, hi = self.half_extent
        if not 0 < lo <= hi < 0.5:
            raise ValueError(f"world.half_extent: need 0 < low <= high < 0.5, got {list(self.half_extent)}")
        for name, got, allowed in (("backgrounds", self.backgrounds, backgrounds.ALL_KINDS),
                                   ("kinds", self.kinds, objects.KINDS)):
            if not got or any(k not in allowed for k in got) or len(set(got)) != len(got):
                raise ValueError(f"world.{name}: need distinct names among {allowed}, got {list(got)}")
        if not [k for k in self.kinds if k != "disc"]:
            raise ValueError("world.kinds: rotations need a kind other than disc (a turned disc does not change)")

    @classmethod
    def of(cls, config: dict) -> "World":
        """The world of a prior's config: its `half_extent` and its `world` {backgrounds, kinds, marks, shading}."""
        world = dict(config.get("world") or {})
        unknown = set(world) - {"backgrounds", "kinds", "marks", "shading"}
        if unknown:
            raise ValueError(f"config.world: unknown keys {sorted(unknown)}; expected backgrounds, kinds, marks, shading")
        flags = {key: world.get(key, False) for key in ("marks", "shading")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise ValueError(f"config.world.{key}: need true or false, got {value!r}")
        return cls(half_extent=tuple(config.get("half_extent") or HALF_EXTENT),
                   backgrounds=tuple(world.get("backgrounds", backgrounds.KINDS)),
                   kinds=tuple(world.get("kinds", objects.KINDS)), **flags)

    @classmethod
    def bundled(cls) -> "World":
        """The bundled prior's world (models/toy_prior/config.json): the scenes `make demo` and
        the toy template show."""
        with open(BUNDLED_CONFIG) as f:
            return cls.of(json.load(f))

    def name(self) -> str:
        """A short file-name-safe description (the default world's is its half extent alone, as before worlds)."""
        out = "-".join(f"{v:g}" for v in self.half_extent)
        if (self.backgrounds, self.kinds) != (backgrounds.KINDS, objects.KINDS):
            out += "_" + "-".join(self.backgrounds) + "_" + "-".join(self.kinds)
        return out + ("_marks" if self.marks else "") + ("_shaded" if self.shading else "")


def _boxes_overlap(a, b, margin):
    return not (a[2] + margin < b[0] or b[2] + margin < a[0] or a[3] + margin < b[1] or b[3] + margin < a[1])


def _union_box(a, b):
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _colour_far(colour, others, bg, min_dist=0.3):
    if any(np.linalg.norm(colour - o) < min_dist for o in others):
        return False
    return float(np.min(np.linalg.norm(bg - colour[None, None], axis=-1))) >= min_dist


def make_scene(seed: int, op_type: str = "translate", size: int = 128, n_objects: int | None = None,
               n_operations: int = 1, max_tries: int = 200, world: World | None = None) -> Scene:
    """A deterministic scene for `seed` in `world` (default: `World()`, the session-10 prior's): one to three
    objects, `n_operations` of them dragged by `op_type` (each dragged object on its own, their
    poses never touching others)."""
    if op_type not in OP_TYPES:
        raise ValueError(f"op_type must be one of {OP_TYPES}, got {op_type!r}")
    if size < 64 or size % 8:
        raise ValueError("size must be a multiple of 8, at least 64")
    world = world or World()
    rng = np.random.default_rng(seed)
    required = n_objects is not None  # a drawn count may shrink when the extras do not fit
    n_objects = int(n_objects if required else rng.integers(1, 4))
    if not 1 <= n_operations <= n_objects <= 3:
        raise ValueError("need 1 <= n_operations <= n_objects <= 3")
    bg = backgrounds.background(rng, size, size, kinds=world.backgrounds)
    turnable = tuple(k for k in world.kinds if k != "disc")
    objs, ops, boxes, colours = [], [], [], []
    for k in range(n_objects):
        dragged = k < n_operations
        for _ in range(max_tries):
            kinds = world.kinds if not (dragged and op_type == "rotate") else turnable
            kind = kinds[rng.integers(len(kinds))]
            half = rng.uniform(*world.half_extent) * size
            centre = rng.uniform(half + 4, size - half - 4, size=2)
            shape = objects.make_shape(rng, kind, centre, half, upright=(dragged and op_type == "deform"))
            if dragged:
                after, op = _operation(rng, op_type, shape, size, size, size)
            else:
                after, op = shapes.identity_map(), None
            box = _union_box(shapes.mapped_bbox(shape, None), shapes.mapped_bbox(shape, after))
            if box[0] < 3 or box[1] < 3 or box[2] > size - 3 or box[3] > size - 3:
                continue
            if op is not None and not all(0 <= v < size for v in (*op["target"],)):
                continue
            if any(_boxes_overlap(box, b, EDIT_MARGIN + 2) for b in boxes):
                continue
            colour = objects.saturated_colour(rng)
            if not _colour_far(colour, colours, bg):
                continue
            break
        else:
            if dragged or required:
                raise ValueError(f"seed {seed}: could not place object {k} in {max_tries} tries")
            break
        mark = make_mark(seed, k, shape, half, colour) if world.marks else None
        shade = make_shade(seed, k, shape, half) if world.shading else None
        objs.append({"shape": shape, "colour": colour, "after": after, "kind": kind, "mark": mark, "shade": shade})
        boxes.append(box)
        colours.append(colour)
        if op is not None:
            op["object"] = k
            ops.append(op)
    image, masks = render(bg, objs, edited=False)
    edited, edited_masks = render(bg, objs, edited=True)
    editable = []
    for b in boxes[:n_operations]:
        editable.append({"tool": "rect", "mode": "add",
                         "points": [[max(0.0, math.floor(b[0]) - EDIT_MARGIN), max(0.0, math.floor(b[1]) - EDIT_MARGIN)],
                                    [min(float(size), math.ceil(b[2]) + EDIT_MARGIN),
                                     min(float(size), math.ceil(b[3]) + EDIT_MARGIN)]]})
    return Scene(image=image.astype(np.float32), edited=edited.astype(np.float32), background=bg.astype(np.float32),
                 objects=objs, masks=masks, edited_masks=edited_masks, operations=ops, editable=editable,
                 editable_mask=rasterise(editable, size, size), meta={"seed": seed, "op_type": op_type, "size": size})
