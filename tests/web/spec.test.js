import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serialise, parse, validate, imageProblems, emptyState, newOperation } from "../../web/spec.js";

const docExample = () => {
  const md = readFileSync(new URL("../../docs/spec-format.md", import.meta.url), "utf8");
  return md.match(/```json\n([\s\S]*?)```/)[1];
};

test("the documented example round-trips unchanged", () => {
  const text = docExample();
  const state = parse(text);
  assert.equal(state.operations.length, 2);
  assert.deepEqual(JSON.parse(serialise(state)), JSON.parse(text));
  assert.equal(serialise(parse(serialise(state))), serialise(state));
});

test("serialise writes version 1, omits unplaced points and translate centres", () => {
  const s = emptyState();
  const op = newOperation("translate");
  op.handle = [1, 2];
  op.center = [5, 5]; // kept in the state (switching back to rotate restores it), not written
  s.operations.push(op);
  assert.deepEqual(JSON.parse(serialise(s)), { version: 1, operations: [{ type: "translate", handle: [1, 2], region: [] }] });
  op.type = "rotate";
  assert.deepEqual(JSON.parse(serialise(s)).operations[0].center, [5, 5]);
});

test("parse: an empty widget is an empty state; bad specs name the field", () => {
  assert.deepEqual(parse(""), emptyState());
  assert.throws(() => parse("{"), /spec: not valid JSON/);
  assert.throws(() => parse('{"version": 2}'), /version/);
  assert.throws(() => parse('{"version":1,"operations":[{"type":"scale"}]}'), /operations\[0\]\.type/);
  assert.throws(() => parse('{"version":1,"operations":[{"type":"rotate","handle":[1,"a"]}]}'), /operations\[0\]\.handle/);
  assert.throws(() => parse('{"version":1,"operations":[{"type":"translate","region":[{"tool":"lasso","mode":"add","points":[]}]}]}'), /region\[0\]\.tool/);
  assert.throws(() => parse('{"version":1,"operations":[],"editable":[{"tool":"rect","mode":"xor","points":[]}]}'), /editable\[0\]\.mode/);
  assert.throws(() => parse('{"version":1,"operations":[],"editable":[{"tool":"brush","mode":"add","points":[[1,1]]}]}'), /editable\[0\]\.radius/);
});

const size = { width: 100, height: 80 };
const rect = (a, b, mode = "add") => ({ tool: "rect", mode, points: [a, b] });
const fields = (problems) => problems.map((p) => p.field);

test("validate: a complete translate and rotate pass", () => {
  const s = parse(docExample());
  assert.deepEqual(validate(s, { width: 512, height: 512 }), []);
});

test("validate: missing points, empty region, no operations", () => {
  assert.deepEqual(fields(validate(emptyState(), size)), ["operations"]);
  const s = emptyState();
  s.operations.push(newOperation("rotate"));
  assert.deepEqual(fields(validate(s, size)), [
    "operations[0].handle", "operations[0].target", "operations[0].center", "operations[0].region",
  ]);
});

test("validate: handle outside its region, erased region, centre on handle, zero drag, outside image", () => {
  const s = emptyState();
  const a = newOperation("translate");
  Object.assign(a, { handle: [50, 50], target: [60, 50], region: [rect([0, 0], [20, 20])] });
  const b = newOperation("rotate");
  Object.assign(b, { handle: [10, 10], target: [10, 10], center: [10, 10], region: [rect([0, 0], [20, 20]), rect([0, 0], [30, 30], "erase")] });
  const c = newOperation("translate");
  Object.assign(c, { handle: [5, 5], target: [120, 5], region: [rect([0, 0], [10, 10])] });
  s.operations.push(a, b, c);
  const got = validate(s, size).map((p) => `${p.op} ${p.field} ${p.message}`);
  assert.deepEqual(got, [
    "0 operations[0].handle handle is outside its region",
    "1 operations[1].target zero-length drag: target is on the handle",
    "1 operations[1].center rotation centre is on the handle",
    "1 operations[1].center rotation centre is on the target",
    "1 operations[1].region empty region: no pixel is inside",
    "2 operations[2].target outside the image",
  ]);
});

test("validate: connected MASK inputs replace drawn regions", () => {
  const s = emptyState();
  const a = newOperation("translate");
  Object.assign(a, { handle: [50, 50], target: [60, 50] });
  s.operations.push(a);
  s.editable.push({ tool: "polygon", mode: "add", points: [[0, 0], [1, 1]] });
  assert.deepEqual(fields(validate(s, size)), ["operations[0].region", "editable[0]", "editable"]);
  assert.deepEqual(validate(s, size, { regionMasks: true, editableMask: true }), []);
});

test("validate: the far image edge is outside, as in Python (0 <= x < width)", () => {
  const s = emptyState();
  const a = newOperation("translate");
  Object.assign(a, { handle: [99.99, 79.99], target: [100, 10], region: [rect([90, 70], [100, 80])] });
  s.operations.push(a);
  assert.deepEqual(fields(validate(s, size)), ["operations[0].target"]);
});

test("imageProblems: the Spec node refuses a picture whose sides are not multiples of 8", () => {
  assert.deepEqual(imageProblems({ width: 512, height: 384 }), []);
  assert.deepEqual(imageProblems(null), []);
  assert.deepEqual(imageProblems({ width: 100, height: 80 }),
    [{ op: -1, field: "image", message: "100x80 is not a multiple of 8 on both sides; crop or resize it" }]);
  assert.equal(imageProblems({ width: 96, height: 81 }).length, 1);
});

test("parse: mode defaults to add, as in Python", () => {
  const s = parse('{"version":1,"operations":[],"editable":[{"tool":"rect","points":[[0,0],[1,1]]}]}');
  assert.equal(s.editable[0].mode, "add");
});

test("validate without an image checks what it can", () => {
  const s = parse(docExample());
  s.operations[0].handle = [5000, 5000];
  assert.deepEqual(validate(s, null), []);
  assert.deepEqual(fields(validate(s, { width: 512, height: 512 })), ["operations[0].handle", "operations[0].handle"]);
});

test("validate uses the masks it is given (the editor's cache) by layer key", () => {
  const s = parse(docExample());
  const seen = [];
  const full = { width: 512, height: 512, data: new Uint8Array(512 * 512).fill(1) };
  const empty = { width: 512, height: 512, data: new Uint8Array(512 * 512) };
  const got = validate(s, { width: 512, height: 512 }, {}, (key) => { seen.push(key); return key === "op1" ? empty : full; });
  assert.deepEqual(seen, ["op0", "op1", "editable"]);
  assert.deepEqual(fields(got), ["operations[1].region"]);
});

test("validate: a translation within its handle's feature cell, as Python's to_cell rounds (half to even)", () => {
  const s = emptyState();
  const a = newOperation("translate");
  // x 21 -> 10.5 -> cell 10 (Math.round would say 11), x 20.2 -> 10.1 -> cell 10
  Object.assign(a, { handle: [21, 20], target: [20.2, 20], region: [rect([10, 10], [30, 30])] });
  s.operations.push(a);
  assert.deepEqual(fields(validate(s, size)), ["operations[0].target"]);
  a.target = [23.1, 20];
  assert.deepEqual(validate(s, size), []);
});

test("validate: a region with no pixel on the feature grid", () => {
  const s = emptyState();
  const a = newOperation("translate");
  Object.assign(a, { handle: [21.5, 21.5], target: [41.5, 31.5], region: [rect([21, 21], [22, 30])] });  // column 21 only
  s.operations.push(a);
  assert.deepEqual(fields(validate(s, size)), ["operations[0].region"]);
  a.region = [rect([20, 21], [22, 30])];
  assert.deepEqual(validate(s, size), []);
});
