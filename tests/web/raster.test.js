import { test } from "node:test";
import assert from "node:assert/strict";
import { rasterise, paintShape, paintBrushTail, emptyMask, countSet, maskHas } from "../../web/raster.js";

// Brute force: the spec's formulas applied to every pixel, no bounding boxes, no sorting.
function reference(shapes, h, w) {
  const out = new Uint8Array(w * h);
  for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) {
    const px = i + 0.5, py = j + 0.5;
    let v = 0;
    for (const s of shapes) {
      let hit = false;
      if (s.tool === "rect") {
        const [[ax, ay], [bx, by]] = s.points;
        hit = Math.min(ax, bx) <= px && px <= Math.max(ax, bx) && Math.min(ay, by) <= py && py <= Math.max(ay, by);
      } else if (s.tool === "polygon") {
        const n = s.points.length;
        for (let k = 0; k < n; k++) {
          const [ax, ay] = s.points[k], [bx, by] = s.points[(k + 1) % n];
          if ((ay > py) !== (by > py) && px < (bx - ax) * (py - ay) / (by - ay) + ax) hit = !hit;
        }
      } else {
        const segs = s.points.length === 1 ? [[s.points[0], s.points[0]]] : s.points.slice(1).map((b, k) => [s.points[k], b]);
        for (const [[ax, ay], [bx, by]] of segs) {
          const dx = bx - ax, dy = by - ay, L = dx * dx + dy * dy;
          const t = L > 0 ? Math.min(1, Math.max(0, ((px - ax) * dx + (py - ay) * dy) / L)) : 0;
          const ex = ax + t * dx - px, ey = ay + t * dy - py;
          if (ex * ex + ey * ey <= s.radius * s.radius) hit = true;
        }
      }
      if (hit) v = s.mode === "add" ? 1 : 0;
    }
    out[j * w + i] = v;
  }
  return out;
}

const cases = {
  "rect with reversed corners on pixel centres": [{ tool: "rect", mode: "add", points: [[10.5, 8.5], [2.5, 1.5]] }],
  "self-intersecting polygon (even-odd)": [{ tool: "polygon", mode: "add", points: [[2, 2], [28, 20], [28, 2], [2, 20]] }],
  "star with horizontal edges and vertices on centres": [
    { tool: "polygon", mode: "add", points: [[15.5, 0.5], [19, 10.5], [29.5, 10.5], [21, 17], [25, 28], [15.5, 21], [6, 28], [10, 17], [1.5, 10.5], [12, 10.5]] },
  ],
  "brush: lone point, radius on a centre": [{ tool: "brush", mode: "add", radius: 3, points: [[10.5, 10.5]] }],
  "brush polyline with erase, rect erase, polygon add": [
    { tool: "brush", mode: "add", radius: 4.2, points: [[3, 3], [25, 7.5], [12, 26], [12, 26.3]] },
    { tool: "rect", mode: "erase", points: [[8, 0], [14, 30]] },
    { tool: "brush", mode: "erase", radius: 1.5, points: [[0, 14], [30, 14]] },
    { tool: "polygon", mode: "add", points: [[20, 20], [29, 29], [20, 29]] },
  ],
  "shapes past the image edge": [
    { tool: "brush", mode: "add", radius: 6, points: [[-3, 15], [33, 15]] },
    { tool: "rect", mode: "add", points: [[-10, -10], [4, 4]] },
  ],
};

for (const [name, shapes] of Object.entries(cases)) {
  test(`rasterise matches the brute-force spec formulas: ${name}`, () => {
    const got = rasterise(shapes, 31, 33);
    assert.equal(got.width, 33);
    assert.equal(got.height, 31);
    assert.deepEqual(got.data, reference(shapes, 31, 33));
    assert.ok(countSet(got) > 0);
  });
}

test("rect bounds are inclusive at pixel centres", () => {
  const m = rasterise([{ tool: "rect", mode: "add", points: [[1.5, 1.5], [3.5, 2.5]] }], 5, 5);
  assert.equal(countSet(m), 6);
  assert.ok(maskHas(m, [1.9, 1.1]) && maskHas(m, [3.2, 2.9]) && !maskHas(m, [4.1, 2]));
});

test("brush radius is inclusive: distance exactly r is inside", () => {
  const m = rasterise([{ tool: "brush", mode: "add", radius: 2, points: [[2.5, 2.5]] }], 5, 5);
  // centre pixel (2,2) plus (0,2),(4,2),(2,0),(2,4) at distance exactly 2, and the 8 within sqrt(2), sqrt(5)
  assert.equal(m.data[2 * 5 + 0], 1);
  assert.equal(m.data[0 * 5 + 0], 0);
  assert.equal(countSet(m), 13);
});

test("incremental brush painting equals painting the finished stroke", () => {
  const pts = [[3, 4], [9, 5], [14, 15], [4, 20], [4.2, 20.1]];
  const base = [{ tool: "rect", mode: "add", points: [[0, 0], [20, 12]] }];
  for (const mode of ["add", "erase"]) {
    const live = rasterise(base, 24, 22);
    const stroke = { tool: "brush", mode, radius: 2.5, points: [] };
    for (const p of pts) { stroke.points.push(p); paintBrushTail(live, stroke); }
    assert.deepEqual(live.data, rasterise([...base, stroke], 24, 22).data);
  }
});

test("paintShape applies shapes in order on an existing mask", () => {
  const m = emptyMask(4, 4);
  paintShape(m, { tool: "rect", mode: "add", points: [[0, 0], [4, 4]] });
  paintShape(m, { tool: "rect", mode: "erase", points: [[0, 0], [2, 2]] });
  assert.equal(countSet(m), 12);
});
