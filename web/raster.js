// Region shapes -> pixel masks, by the exact rules of docs/spec-format.md.
//
// Pure ES module (no DOM): the editor draws with it and node --test checks it. Every
// formula is written in the same operation order as dragnext_ops/regions.py, in float64,
// so the same spec gives the same pixels on both sides. Shapes are only evaluated inside
// a bounding box widened by a pixel on each side; the box cannot change a result (a
// pixel outside it fails the exact test too), it only saves time on large images.

/** A fresh all-clear mask: one byte per pixel, row-major, 1 = inside. */
export function emptyMask(width, height) {
  return { width, height, data: new Uint8Array(width * height) };
}

function span(lo, hi, size) {
  // Indices i whose centre i + 0.5 might lie in [lo, hi], widened by one pixel.
  const first = Math.max(0, Math.floor(lo) - 1);
  const last = Math.min(size - 1, Math.ceil(hi) + 1);
  return [first, last];
}

function write(mask, index, add) {
  mask.data[index] = add ? 1 : 0;
}

function paintRect(mask, points, add) {
  const [[ax, ay], [bx, by]] = points;
  const x0 = Math.min(ax, bx), x1 = Math.max(ax, bx);
  const y0 = Math.min(ay, by), y1 = Math.max(ay, by);
  const [i0, i1] = span(x0, x1, mask.width);
  const [j0, j1] = span(y0, y1, mask.height);
  for (let j = j0; j <= j1; j++) {
    const py = j + 0.5;
    if (!(y0 <= py && py <= y1)) continue;
    for (let i = i0; i <= i1; i++) {
      const px = i + 0.5;
      if (x0 <= px && px <= x1) write(mask, j * mask.width + i, add);
    }
  }
}

function paintPolygon(mask, points, add) {
  const n = points.length;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (const [x, y] of points) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const [i0, i1] = span(minX, maxX, mask.width);
  const [j0, j1] = span(minY, maxY, mask.height);
  const crossings = [];
  for (let j = j0; j <= j1; j++) {
    const py = j + 0.5;
    // x_at depends only on the row and the edge: compute each crossing edge's once,
    // then a pixel's parity is the count of crossings with p.x < x_at (the spec's test).
    crossings.length = 0;
    for (let k = 0; k < n; k++) {
      const [ax, ay] = points[k];
      const [bx, by] = points[(k + 1) % n];
      if ((ay > py) !== (by > py)) crossings.push((bx - ax) * (py - ay) / (by - ay) + ax);
    }
    if (crossings.length === 0) continue;
    crossings.sort((a, b) => a - b);
    // Walking left to right, crossings with x_at <= p.x drop out one by one.
    let passed = 0;
    for (let i = i0; i <= i1; i++) {
      const px = i + 0.5;
      while (passed < crossings.length && !(px < crossings[passed])) passed++;
      if ((crossings.length - passed) % 2 === 1) write(mask, j * mask.width + i, add);
    }
  }
}

function paintSegment(mask, a, b, radius, add) {
  const [ax, ay] = a;
  const [bx, by] = b;
  const dx = bx - ax, dy = by - ay;
  const length2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  const [i0, i1] = span(Math.min(ax, bx) - radius, Math.max(ax, bx) + radius, mask.width);
  const [j0, j1] = span(Math.min(ay, by) - radius, Math.max(ay, by) + radius, mask.height);
  for (let j = j0; j <= j1; j++) {
    const py = j + 0.5;
    for (let i = i0; i <= i1; i++) {
      const px = i + 0.5;
      let t = 0;
      if (length2 > 0) {
        t = ((px - ax) * dx + (py - ay) * dy) / length2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
      }
      const ex = ax + t * dx - px;
      const ey = ay + t * dy - py;
      if (ex * ex + ey * ey <= r2) write(mask, j * mask.width + i, add);
    }
  }
}

/** Brush segments, in order: a lone point is the segment (a, a). */
export function brushSegments(points) {
  if (points.length === 1) return [[points[0], points[0]]];
  const out = [];
  for (let k = 0; k + 1 < points.length; k++) out.push([points[k], points[k + 1]]);
  return out;
}

/**
 * Apply one shape to the mask in place. A shape's hit set is a union (of segments for a
 * brush) that is then set or cleared, so painting its parts one by one is the same.
 */
export function paintShape(mask, shape) {
  const add = shape.mode !== "erase";
  if (shape.tool === "rect") paintRect(mask, shape.points, add);
  else if (shape.tool === "polygon") paintPolygon(mask, shape.points, add);
  else for (const [a, b] of brushSegments(shape.points)) paintSegment(mask, a, b, shape.radius, add);
  return mask;
}

/** Extend a brush stroke that is the last shape on the mask: only its new segment is painted. */
export function paintBrushTail(mask, shape) {
  const pts = shape.points;
  const add = shape.mode !== "erase";
  if (pts.length === 1) paintSegment(mask, pts[0], pts[0], shape.radius, add);
  else paintSegment(mask, pts[pts.length - 2], pts[pts.length - 1], shape.radius, add);
  return mask;
}

/** Whether a shape is drawable at all (the rest of validation is in spec.js). */
export function shapeIsComplete(shape) {
  const n = shape.points?.length ?? 0;
  if (shape.tool === "rect") return n === 2;
  if (shape.tool === "polygon") return n >= 3;
  return n >= 1 && shape.radius > 0;
}

/** Paint shapes in order onto an all-clear (height, width) mask, like regions.rasterise. */
export function rasterise(shapes, height, width) {
  const mask = emptyMask(width, height);
  for (const shape of shapes) if (shapeIsComplete(shape)) paintShape(mask, shape);
  return mask;
}

/** Number of set pixels. */
export function countSet(mask) {
  let n = 0;
  for (const v of mask.data) n += v;
  return n;
}

/** Whether any pixel of the feature grid is set: PBSI reads every second pixel (even rows and columns). */
export function onFeatureGrid(mask) {
  for (let j = 0; j < mask.height; j += 2) {
    for (let i = 0; i < mask.width; i += 2) if (mask.data[j * mask.width + i] === 1) return true;
  }
  return false;
}

/** Whether the pixel holding image point (x, y) is set; points on the far edge count as the last pixel. */
export function maskHas(mask, [x, y]) {
  const i = Math.min(mask.width - 1, Math.max(0, Math.floor(x)));
  const j = Math.min(mask.height - 1, Math.max(0, Math.floor(y)));
  return mask.data[j * mask.width + i] === 1;
}
