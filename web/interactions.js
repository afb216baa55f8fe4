// Pointer input for the editor: every event is mapped to image pixels through the
// element's on-screen rectangle (geometry.clientToImage) and the editor's view (fitted, or
// zoomed and panned in the window), so clicks land on the same pixel at any node size,
// canvas zoom, picture zoom or device pixel ratio.

import { clientToImage, hitPoint, extendPath, roundPoint } from "./geometry.js";
import { panBy, pinch, wheelFactor } from "./viewport.js";
import { paintBrushTail, maskHas } from "./raster.js";

const GRAB = 9; // layout pixels within which a point is grabbed
const CLOSE = 9; // layout pixels within which a click closes a polygon on its first corner
const STEP = 2; // layout pixels between recorded freehand points

export function attachPointer(ed) {
  const c = ed.canvas;
  let drag = null; // what the pressed pointer is doing
  let owner = null; // the pointer whose gesture `drag` is (null for a pinch, which takes both)
  const touches = new Map(); // pointerId -> layout point, for a two-finger pinch (window mode)
  let clicks = []; // {time, mark, tool} of recent presses: a double-click forgets its two clicks
  let pressed = null; // the click-by-click polygon under way when the press began, and its corners then

  // Drop the press in progress (a second pointer came down): the state goes back to the last
  // commit, and a polygon placed click by click keeps the corners it had before this press.
  const abort = () => {
    drag = null;
    owner = null;
    const kept = pressed && ed.draft === pressed.draft ? pressed : null; // not one this press closed
    ed.abortGesture();
    if (kept) { kept.draft.points.length = kept.corners; ed.draft = kept.draft; ed.redraw(); }
  };

  const rect = () => c.getBoundingClientRect();
  // client -> layout pixels of the canvas (undoes any host zoom of the node)
  const toLayout = (e) => { const r = rect(); return [(e.clientX - r.left) * (c.clientWidth / r.width), (e.clientY - r.top) * (c.clientHeight / r.height)]; };
  const toImage = (e) => {
    const { w, h, view } = ed.layout();
    return clientToImage(e.clientX, e.clientY, rect(), w, h, view);
  };
  const perLayout = () => 1 / ed.layout().view.scale; // image pixels per layout pixel
  const zoomable = () => ed.mode === "window";

  c.addEventListener("pointerdown", (e) => {
    if (!ed.size) return;
    if (zoomable() && e.pointerType === "touch") {
      touches.set(e.pointerId, toLayout(e));
      if (touches.size === 2) {
        // a second finger: the first one's stroke was the start of a pinch, not a stroke
        if (drag) abort();
        drag = startPinch(ed, touches);
        owner = null;
        e.preventDefault();
        return;
      }
    }
    if (drag && owner !== null && e.pointerId !== owner) {
      // A second pointer in the node, where the editor does not pinch: the first one's
      // stroke was not meant as one; drop it, and draw nothing until both lift.
      abort();
      return;
    }
    const pan = zoomable() && (e.button === 1 || (e.button === 0 && ed.panKey));
    if (e.button !== 0 && !pan) return;
    // The graph canvas must not also start dragging the node, and focus comes here so
    // the editor's shortcuts work.
    e.preventDefault();
    e.stopPropagation();
    ed.focusKeys();
    c.setPointerCapture(e.pointerId);
    owner = e.pointerId;
    pressed = ed.draft?.tool === "polygon" ? { draft: ed.draft, corners: ed.draft.points.length } : null;
    if (pan) { drag = startPan(ed, toLayout(e)); return; }
    clicks = [...clicks.filter((k) => e.timeStamp - k.time < 600), { time: e.timeStamp, mark: ed.history.steps, tool: ed.tool }].slice(-2);
    const p = roundPoint(toImage(e));
    // a press that starts nothing still owns its moves: else a Vue node drags itself along
    drag = start(ed, p, e, perLayout()) ?? {};
    ed.refresh();
  });

  c.addEventListener("pointermove", (e) => {
    if (!ed.size) return;
    if (touches.has(e.pointerId)) touches.set(e.pointerId, toLayout(e));
    if (drag && owner !== null && e.pointerId !== owner) return; // not this gesture's pointer
    const p = roundPoint(toImage(e));
    ed.cursor = p;
    if (drag) { e.stopPropagation(); drag.move?.(p, perLayout(), toLayout(e)); }
    else if (ed.draft?.tool === "polygon") ed.draft.hover = p;
    ed.redraw();
  });

  const finish = (e) => {
    touches.delete(e.pointerId);
    if (!drag || (owner !== null && e.pointerId !== owner)) return;
    owner = null;
    e.stopPropagation();
    const d = drag;
    drag = null;
    d.end?.();
  };
  c.addEventListener("pointerup", finish);
  c.addEventListener("pointercancel", finish);
  c.addEventListener("pointerleave", () => { ed.cursor = null; ed.redraw(); });
  c.addEventListener("dblclick", (e) => {
    e.stopPropagation();
    if (ed.draft?.tool === "polygon") { ed.finishPolygon(); return; }
    if (ed.mode !== "node" || !ed.size) return;
    // Double-click opens the full window; the two clicks it took draw nothing.
    if (clicks.length === 2) ed.dropSince(clicks[0].mark, clicks[0].tool);
    clicks = [];
    ed.openWindow();
  });
  // In the node the wheel stays the graph's (zooming the canvas); in the window it zooms
  // the picture about the pointer. A trackpad pinch arrives as a wheel with ctrlKey.
  c.addEventListener("wheel", (e) => {
    if (!zoomable() || !ed.size) return;
    e.preventDefault();
    e.stopPropagation();
    const dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    ed.zoomAt(toLayout(e), wheelFactor(dy, e.ctrlKey));
  }, { passive: false });
}

function startPan(ed, at) {
  let last = at;
  ed.panning = true;
  return {
    move: (_p, _px, now) => {
      const v = ed.layout().view;
      ed.setView(panBy(v, now[0] - last[0], now[1] - last[1]));
      last = now;
    },
    end: () => { ed.panning = false; ed.refresh(); },
  };
}

function startPinch(ed, touches) {
  let before = [...touches.values()];
  return {
    move: () => {
      const now = [...touches.values()];
      if (now.length !== 2) return;
      const { view, fit } = ed.layout();
      ed.setView(pinch(view, before, now, fit));
      before = now;
    },
    end: () => ed.refresh(),
  };
}

/** Begin a gesture at image point p; returns {move, end} for the rest of it. */
function start(ed, p, e, px) {
  const tool = ed.tool;
  if (tool === "select") return startSelect(ed, p, px);
  ed.backToOriginal(); // drawing is on the original: a result on show gives way to it
  if (tool === "handle" || tool === "target" || tool === "center") return startPoint(ed, tool, p);
  if (tool === "brush" || tool === "eraser") return startBrush(ed, p, tool === "eraser" ? "erase" : "add");
  const mode = ed.eraseShapes || e.altKey ? "erase" : "add";
  if (tool === "rect") return startRect(ed, p, mode);
  return startPolygon(ed, p, mode, px);
}

function movePoint(ed, op, kind) {
  const moved = ed.state.operations[op]; // held: an undo mid-drag replaces the state, and moves then change nothing
  return {
    move: (p) => { moved[kind] = p; ed.refresh(); },
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
    const m = ed.masks.mask(`op${i}`);
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
      if (ed.state.operations[i] !== op) return; // an undo mid-press replaced the state
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
  const shape = { tool: "brush", mode, radius: Math.round(ed.brushRadius * 100) / 100, points: [p] };
  // The cached mask is exact for the shapes before this one; the stroke is then painted
  // onto it segment by segment (exact too, since it is the last shape), not re-rasterised.
  ed.masks.of(key, shapes) ?? ed.masks.of(key, [shape]);
  const fresh = shapes.length === 0;
  shapes.push(shape);
  if (!fresh) paintBrushTail(ed.masks.mask(key), shape);
  ed.masks.touch(key, shapes);
  ed.stroking = true;
  return {
    move: (q, px) => {
      if (!extendPath(shape.points, q, Math.min(STEP * px, shape.radius / 2))) return;
      paintBrushTail(ed.masks.mask(key), shape);
      ed.masks.touch(key, shapes);
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
