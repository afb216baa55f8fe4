// The editor's state <-> the versioned drag spec JSON (docs/spec-format.md), and the
// checks the editor shows before queueing. Pure ES module (no DOM).
//
// State: {operations: [{type, handle, target, center, region: [shape]}], editable: [shape]}
// with null for a point not placed yet. It is the spec itself minus the version, so the
// JSON round-trips and hand-typed specs load as they are.

import { rasterise, countSet, maskHas, onFeatureGrid, shapeIsComplete } from "./raster.js";
import { POINT_KINDS } from "./geometry.js";

export const SPEC_VERSION = 1;
export const OP_TYPES = ["translate", "rotate"];
export const TOOLS = ["brush", "rect", "polygon"];
export const MODES = ["add", "erase"];

export function emptyState() {
  return { operations: [], editable: [] };
}

export function newOperation(type = "translate") {
  return { type, handle: null, target: null, center: null, region: [] };
}

const isPoint = (p) => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === "number" && Number.isFinite(v));

function copyShape(s) {
  const out = { tool: s.tool, mode: s.mode ?? "add", points: (s.points ?? []).map((p) => [p[0], p[1]]) };
  if (s.tool === "brush") out.radius = s.radius;
  return out;
}

/** The spec JSON for a state: the exact string the node's `spec` widget holds. */
export function serialise(state) {
  const operations = state.operations.map((op) => {
    const out = { type: op.type };
    for (const kind of POINT_KINDS) {
      if (kind === "center" && op.type !== "rotate") continue;
      if (op[kind]) out[kind] = [op[kind][0], op[kind][1]];
    }
    out.region = op.region.map(copyShape);
    return out;
  });
  const spec = { version: SPEC_VERSION, operations };
  if (state.editable.length) spec.editable = state.editable.map(copyShape);
  return JSON.stringify(spec);
}

/**
 * Parse spec JSON into a state. Throws an Error naming the field for what the editor
 * cannot show (bad JSON, wrong version, unknown type/tool/mode, malformed points); what
 * it can show but Python would reject (a missing point, an empty region) loads, and
 * validate() reports it. An empty string is an empty state (a new node).
 */
export function parse(text) {
  if (text == null || String(text).trim() === "") return emptyState();
  let spec;
  try {
    spec = JSON.parse(text);
  } catch (e) {
    throw new Error(`spec: not valid JSON (${e.message})`);
  }
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) throw new Error("spec: must be a JSON object");
  if (spec.version !== SPEC_VERSION) throw new Error(`version: must be ${SPEC_VERSION}`);
  const ops = spec.operations ?? [];
  if (!Array.isArray(ops)) throw new Error("operations: must be a list");
  const state = emptyState();
  ops.forEach((op, i) => {
    const where = `operations[${i}]`;
    if (!op || !OP_TYPES.includes(op.type)) throw new Error(`${where}.type: must be one of ${OP_TYPES.join(", ")}`);
    const out = newOperation(op.type);
    for (const kind of POINT_KINDS) {
      if (op[kind] == null) continue;
      if (!isPoint(op[kind])) throw new Error(`${where}.${kind}: must be [x, y] numbers`);
      out[kind] = [op[kind][0], op[kind][1]];
    }
    out.region = parseShapes(op.region ?? [], `${where}.region`);
    state.operations.push(out);
  });
  state.editable = parseShapes(spec.editable ?? [], "editable");
  return state;
}

function parseShapes(shapes, where) {
  if (!Array.isArray(shapes)) throw new Error(`${where}: must be a list`);
  return shapes.map((s, k) => {
    const at = `${where}[${k}]`;
    if (!s || !TOOLS.includes(s.tool)) throw new Error(`${at}.tool: must be one of ${TOOLS.join(", ")}`);
    if (s.mode !== undefined && !MODES.includes(s.mode)) throw new Error(`${at}.mode: must be add or erase`);
    if (!Array.isArray(s.points) || !s.points.every(isPoint)) throw new Error(`${at}.points: must be a list of [x, y]`);
    if (s.tool === "brush" && !(typeof s.radius === "number" && Number.isFinite(s.radius))) {
      throw new Error(`${at}.radius: must be a number`);
    }
    return copyShape(s);
  });
}

// Shape points may lie off the image (a brush along an edge does): only what is inside
// is painted, on both sides.
function shapeProblems(shapes, where) {
  const out = [];
  shapes.forEach((s, k) => {
    if (!shapeIsComplete(s)) out.push({ field: `${where}[${k}]`, message: s.tool === "brush" ? "brush needs points and radius > 0" : `${s.tool} has too few points` });
  });
  return out;
}

// As Python's check: a point is in the image when 0 <= x < width and 0 <= y < height.
const inImage = (p, size) => p[0] >= 0 && p[1] >= 0 && p[0] < size.width && p[1] < size.height;

/** The Spec node's own check on its picture (nodes/spec_node.py), apart from the spec's. */
export function imageProblems(size) {
  if (!size || (size.width % 8 === 0 && size.height % 8 === 0)) return [];
  return [{ op: -1, field: "image", message: `${size.width}x${size.height} is not a multiple of 8 on both sides; crop or resize it` }];
}

/**
 * What Python would reject, as [{op, field, message}] (op: the operation index, or -1).
 * size: {width, height} of the image, or null when the editor has none yet. inputs:
 * {regionMasks, editableMask} booleans, true when that MASK input is connected (its masks
 * then replace the drawn shapes, which are not checked). maskOf(key, shapes) may return an
 * already rasterised mask (the editor's cache; key is "op<i>" or "editable").
 */
// Python's round (half to even), so that a cell here is dragnext_ops.geometry.to_cell's.
const roundHalfEven = (v) => {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};
const featureCell = (p) => p && [roundHalfEven(p[1] * 0.5), roundHalfEven(p[0] * 0.5)];

export function validate(state, size, inputs = {}, maskOf = null) {
  const raster = (key, shapes) => maskOf?.(key, shapes) ?? rasterise(shapes, size.height, size.width);
  const out = [];
  const add = (op, field, message) => out.push({ op, field, message });
  if (state.operations.length === 0) add(-1, "operations", "add at least one operation");
  state.operations.forEach((op, i) => {
    const where = `operations[${i}]`;
    const needed = op.type === "rotate" ? POINT_KINDS : ["handle", "target"];
    for (const kind of needed) if (!op[kind]) add(i, `${where}.${kind}`, `place the ${kind === "center" ? "rotation centre" : kind}`);
    const same = (a, b) => a && b && a[0] === b[0] && a[1] === b[1];
    if (same(op.handle, op.target)) add(i, `${where}.target`, "zero-length drag: target is on the handle");
    else if (op.type === "translate" && same(featureCell(op.handle), featureCell(op.target))) {
      add(i, `${where}.target`, "shorter than a feature cell (2 px): the drag would move nothing");
    }
    if (op.type === "rotate" && same(op.center, op.handle)) add(i, `${where}.center`, "rotation centre is on the handle");
    if (op.type === "rotate" && same(op.center, op.target)) add(i, `${where}.center`, "rotation centre is on the target");
    if (size) {
      for (const kind of needed) {
        const p = op[kind];
        if (p && !inImage(p, size)) add(i, `${where}.${kind}`, "outside the image");
      }
    }
    if (inputs.regionMasks) return;
    for (const e of shapeProblems(op.region, `${where}.region`)) add(i, e.field, e.message);
    if (op.region.length === 0) { add(i, `${where}.region`, "empty region: paint the part to move"); return; }
    if (!size) return;
    const mask = raster(`op${i}`, op.region);
    if (countSet(mask) === 0) add(i, `${where}.region`, "empty region: no pixel is inside");
    else if (!onFeatureGrid(mask)) add(i, `${where}.region`, "no pixel on the feature grid (every second pixel): paint it at least 2 px wide");
    else if (op.handle && !maskHas(mask, op.handle)) add(i, `${where}.handle`, "handle is outside its region");
  });
  if (!inputs.editableMask) {
    for (const e of shapeProblems(state.editable, "editable")) add(-1, e.field, e.message);
    if (size && state.editable.length && countSet(raster("editable", state.editable)) === 0) {
      add(-1, "editable", "the editable area is empty, nothing could change: draw it or clear it");
    }
  }
  return out;
}
