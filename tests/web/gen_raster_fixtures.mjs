// Rasterises a fixed set of specs with the editor's code (web/raster.js) and writes them,
// with their masks, as JSON to the path given (default: stdout). tests/test_editor_raster_parity.py
// compares each mask with dragnext_ops/regions.rasterise pixel for pixel.
// Usage: node tests/web/gen_raster_fixtures.mjs [out.json]
import { writeFileSync } from "node:fs";
import { rasterise } from "../../web/raster.js";

// A small deterministic PRNG (mulberry32) so the cases are the same on every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Coordinates on a grid of quarter pixels hit pixel centres and edges exactly, where a
// strict/loose comparison or a reordered float expression would differ.
const q = (r, max) => Math.round(r() * max * 4) / 4;
const pt = (r, w, h) => [q(r, w + 8) - 4, q(r, h + 8) - 4];

function randomShape(r, w, h) {
  const mode = r() < 0.3 ? "erase" : "add";
  const kind = r();
  if (kind < 0.25) return { tool: "rect", mode, points: [pt(r, w, h), pt(r, w, h)] };
  if (kind < 0.55) {
    const n = 3 + Math.floor(r() * 12);
    return { tool: "polygon", mode, points: Array.from({ length: n }, () => pt(r, w, h)) };
  }
  const n = 1 + Math.floor(r() * 8);
  const radius = r() < 0.5 ? 0.5 + Math.floor(r() * 8) : 0.3 + r() * 7;
  const points = [pt(r, w, h)];
  for (let k = 1; k < n; k++) {
    const [x, y] = points[k - 1];
    // mostly short moves like a real stroke, sometimes a repeated point (zero-length segment)
    points.push(r() < 0.15 ? [x, y] : [x + q(r, 12) - 6, y + q(r, 12) - 6]);
  }
  return { tool: "brush", mode, radius, points };
}

const handWritten = [
  { name: "doc example region", width: 400, height: 320, shapes: [
    { tool: "brush", mode: "add", radius: 12, points: [[100, 190], [140, 210]] },
    { tool: "rect", mode: "add", points: [[90, 180], [150, 230]] },
    { tool: "polygon", mode: "erase", points: [[95, 185], [110, 185], [100, 200]] },
  ] },
  { name: "bow tie and collinear polygon", width: 40, height: 30, shapes: [
    { tool: "polygon", mode: "add", points: [[2, 2], [38, 28], [38, 2], [2, 28]] },
    { tool: "polygon", mode: "add", points: [[5, 5], [10, 10], [15, 15]] },
    { tool: "polygon", mode: "erase", points: [[20.5, 0.5], [20.5, 29.5], [20.5, 15.5], [25.5, 15.5]] },
  ] },
  { name: "brush edges exactly on pixel centres", width: 24, height: 24, shapes: [
    { tool: "brush", mode: "add", radius: 5, points: [[12.5, 12.5]] },
    { tool: "brush", mode: "add", radius: 2, points: [[0.5, 0.5], [20.5, 0.5], [20.5, 20.5]] },
    { tool: "brush", mode: "erase", radius: 1, points: [[12.5, 7.5], [12.5, 17.5]] },
  ] },
  { name: "off-image shapes and tiny radius", width: 17, height: 9, shapes: [
    { tool: "rect", mode: "add", points: [[-5, -5], [30, 4.5]] },
    { tool: "brush", mode: "erase", radius: 0.1, points: [[3.5, 2.5], [9.5, 2.5]] },
    { tool: "brush", mode: "add", radius: 0.70710678118654757, points: [[14, 7]] },
  ] },
];

const random = [];
const r = rng(20240611);
for (let k = 0; k < 40; k++) {
  const width = 8 + Math.floor(r() * 56), height = 8 + Math.floor(r() * 56);
  const n = 1 + Math.floor(r() * 6);
  random.push({ name: `random ${k}`, width, height, shapes: Array.from({ length: n }, () => randomShape(r, width, height)) });
}

const cases = [...handWritten, ...random].map((c) => {
  const mask = rasterise(c.shapes, c.height, c.width);
  return { ...c, mask: Buffer.from(mask.data).toString("base64") };
});
const text = JSON.stringify({ cases });
if (process.argv[2]) writeFileSync(process.argv[2], text);
else process.stdout.write(text);
