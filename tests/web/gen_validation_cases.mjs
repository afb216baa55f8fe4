// Runs the editor's checks (web/spec.js validate) on a set of specs and writes the
// problems it finds as JSON (to the path given, or stdout). tests/test_editor_raster_parity.py
// checks that the editor flags exactly the specs dragnext_ops/spec.py rejects, at the same field.
// Usage: node tests/web/gen_validation_cases.mjs [out.json]
import { writeFileSync } from "node:fs";
import { parse, validate } from "../../web/spec.js";

const size = { width: 64, height: 48 };
const rect = (a, b, mode = "add") => ({ tool: "rect", mode, points: [a, b] });
const op = (extra) => ({ type: "translate", handle: [10, 10], target: [30, 20], region: [rect([5, 5], [15, 15])], ...extra });
const rot = (extra) => op({ type: "rotate", center: [40, 40], ...extra });
const spec = (operations, editable) => ({ version: 1, operations, ...(editable ? { editable } : {}) });

const cases = {
  "valid translate": spec([op()]),
  "valid rotate and translate": spec([rot(), op({ handle: [50, 30], target: [20, 5], region: [rect([45, 25], [55, 35])] })]),
  "valid with editable area": spec([op()], [rect([0, 0], [40, 40])]),
  "handle outside its region": spec([op({ handle: [20, 20], target: [30, 30] })]),
  "handle on the region's far edge (pixel outside)": spec([op({ handle: [15.6, 10] })]),
  "handle just inside the region's last pixel": spec([op({ handle: [15.4, 10] })]),
  "handle on the region's near edge": spec([op({ handle: [5, 5] })]),
  "centre on the handle": spec([rot({ center: [10, 10] })]),
  "centre on the target": spec([rot({ center: [30, 20] })]),
  "zero-length drag": spec([op({ target: [10, 10] })]),
  "target at x == width": spec([op({ target: [64, 20] })]),
  "target just inside the far edge": spec([op({ target: [63.99, 47.99] })]),
  "target at a negative y": spec([op({ target: [30, -0.01] })]),
  "region erased to nothing": spec([op({ region: [rect([5, 5], [15, 15]), rect([0, 0], [20, 20], "erase")] })]),
  "empty region list": spec([op({ region: [] })]),
  "polygon with two points": spec([op({ region: [rect([5, 5], [15, 15]), { tool: "polygon", mode: "add", points: [[1, 1], [2, 2]] }] })]),
  "brush with radius 0": spec([op({ region: [rect([5, 5], [15, 15]), { tool: "brush", mode: "add", radius: 0, points: [[1, 1]] }] })]),
  "editable area erased to nothing": spec([op()], [rect([0, 0], [10, 10]), rect([0, 0], [10, 10], "erase")]),
  "no operations": spec([]),
  "rotate without a centre": spec([op({ type: "rotate" })]),
  "shape points off the image are fine": spec([op({ region: [rect([-20, -20], [15, 15])] })]),
};

const out = Object.entries(cases).map(([name, s]) => {
  const text = JSON.stringify(s);
  return { name, spec: text, width: size.width, height: size.height, problems: validate(parse(text), size) };
});
const json = JSON.stringify({ cases: out });
if (process.argv[2]) writeFileSync(process.argv[2], json);
else process.stdout.write(json);
