// Pointer input for the editor: every event is mapped to image pixels through the
// element's on-screen rectangle (geometry.clientToImage), so clicks land on the same
// pixel at any node size, canvas zoom or device pixel ratio.

import { clientToImage, hitPoint, extendPath, roundPoint } from "./geometry.js";
import { paintBrushTail, maskHas } from "./raster.js";
import { opColour, EDITABLE_COLOUR } from "./render.js";

const GRAB = 9; // layout pixels within which a point is grabbed
const CLOSE = 9; // layout pixels within which a click closes a polygon on its first corner
const STEP = 2; // layout pixels between recorded freehand points

export function attachPointer(ed) {
  const c = ed.canvas;
  let drag = null; // what the pressed pointer is doing

  const toImage = (e) => {
    const { w, h, view } = ed.layout();
    return clientToImage(e.clientX, e.clientY, c.getBoundingClientRect(), w, h, view);
  };
  const perLayout = () => 1 / ed.layout().view.scale; // image pixels per layout pixel

  c.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || !ed.size) return;
    // The graph canvas must not also start dragging the node, and focus comes here so
    // the editor's shortcuts work.
    e.preventDefault();
    e.stopPropagation();
    ed.focusKeys();
    c.setPointerCapture(e.pointerId);
    const p = roundPoint(toImage(e));
    drag = start(ed, p, e, perLayout());
    ed.refresh();
  });

  c.addEventListener("pointermove", (e) => {
    if (!ed.size) return;
    const p = roundPoint(toImage(e));
    ed.cursor = p;
    if (drag) { e.stopPropagation(); drag.move?.(p, perLayout()); }
    else if (ed.draft?.tool === "polygon") ed.draft.hover = p;
    ed.redraw();
  });

  const finish = (e) => {
    if (!drag) return;
    e.stopPropagation();
    const d = drag;
    drag = null;
    d.end?.();
  };
  c.addEventListener("pointerup", finish);
  c.addEventListener("pointercancel", finish);
  c.addEventListener("pointerleave", () => { ed.cursor = null; ed.redraw(); });
  c.addEventListener("dblclick", (e) => { e.stopPropagation(); ed.finishPolygon(); });
}

/** Begin a gesture at image point p; returns {move, end} for the rest of it. */
function start(ed, p, e, px) {
  const tool = ed.tool;
  if (tool === "select") return startSelect(ed, p, px);
  if (tool === "handle" || tool === "target" || tool === "center") return startPoint(ed, tool, p);
  if (tool === "brush" || tool === "eraser") return startBrush(ed, p, tool === "eraser" ? "erase" : "add");
  const mode = ed.eraseShapes || e.altKey ? "erase" : "add";
  if (tool === "rect") return startRect(ed, p, mode);
  return startPolygon(ed, p, mode, px);
}

function movePoint(ed, op, kind) {
  return {
    move: (p) => { ed.state.operations[op][kind] = p; ed.refresh(); },
    end: () => ed.commit(),
  };
}

function startSelect(ed, p, px) {
  const hit = hitPoint(ed.state.operations, p, GRAB * px, ed.selected);
  if (hit) {
    ed.selected = hit.op;
    return movePoint(ed, hit.op, hit.kind);
  }
  // Otherwise select the operation whose region is under the pointer (topmost first).
  const ops = ed.state.operations;
  for (let i = ops.length - 1; i >= 0; i--) {
    const m = ed.cache.get(`op${i}`)?.mask;
    if (m && ops[i].region.length && maskHas(m, p)) { ed.selected = i; break; }
  }
  return null;
}

function startPoint(ed, kind, p) {
  const op = ed.ensureOperation();
  if (kind === "center" && op.type !== "rotate") op.type = "rotate";
  op[kind] = p;
  const i = ed.selected;
  return {
    move: (q) => { op[kind] = q; ed.refresh(); },
    end: () => {
      // Walk the user through the points still missing: handle -> target -> centre.
      if (ed.tool === "handle" && !op.target) ed.tool = "target";
      else if (ed.tool === "target" && op.type === "rotate" && !op.center) ed.tool = "center";
      ed.selected = i;
      ed.commit();
    },
  };
}

function startBrush(ed, p, mode) {
  const shapes = ed.activeShapes();
  if (!shapes) return null;
  const key = ed.layerKey();
  const colour = ed.layer === "editable" ? EDITABLE_COLOUR : opColour(ed.selected);
  const shape = { tool: "brush", mode, radius: Math.round(ed.brushRadius * 100) / 100, points: [p] };
  // The cached mask is exact for the shapes before this one; the stroke is then painted
  // onto it segment by segment (exact too, since it is the last shape), not re-rasterised.
  ed.maskFor(key, shapes, colour) ?? ed.maskFor(key, [shape], colour);
  const fresh = shapes.length === 0;
  shapes.push(shape);
  if (!fresh) paintBrushTail(ed.cache.get(key).mask, shape);
  ed.touchMask(key, shapes, colour);
  ed.stroking = true;
  return {
    move: (q, px) => {
      if (!extendPath(shape.points, q, Math.min(STEP * px, shape.radius / 2))) return;
      paintBrushTail(ed.cache.get(key).mask, shape);
      ed.touchMask(key, shapes, colour);
      ed.redraw();
    },
    end: () => { ed.stroking = false; ed.commit(); },
  };
}

function startRect(ed, p, mode) {
  ed.draft = { tool: "rect", mode, points: [p, p] };
  return {
    move: (q) => { ed.draft.points[1] = q; ed.redraw(); },
    end: () => {
      const d = ed.draft;
      ed.draft = null;
      const [[ax, ay], [bx, by]] = d.points;
      if (ax !== bx && ay !== by) ed.addShape({ tool: "rect", mode: d.mode, points: d.points });
      else ed.refresh();
    },
  };
}

function startPolygon(ed, p, mode, px) {
  const d = ed.draft;
  if (d && d.tool === "polygon") {
    // click-by-click polygon: close on the first corner, else add a corner
    const [fx, fy] = d.points[0];
    if (d.points.length >= 3 && Math.hypot(fx - p[0], fy - p[1]) <= CLOSE * px) ed.finishPolygon();
    else d.points.push(p);
    return null;
  }
  const draft = { tool: "polygon", mode, points: [p] };
  ed.draft = draft;
  let dragged = false;
  return {
    move: (q, px2) => { if (extendPath(draft.points, q, STEP * px2)) { dragged = true; ed.redraw(); } },
    end: () => {
      // A press that moved is a lasso, finished on release; a plain click starts a polygon.
      if (dragged && draft.points.length >= 3) ed.finishPolygon();
      else if (dragged) { ed.draft = null; ed.refresh(); }
    },
  };
}
