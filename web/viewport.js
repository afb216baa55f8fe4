// The full-window editor's view transform: zoom about a point, pan, pinch. Pure ES module.
//
// A view is {scale, ox, oy}: layout (CSS) pixel = offset + scale * image pixel, the same
// form as geometry.fitView, so geometry.clientToImage / imageToClient map pointers through
// any view. The device pixel ratio only sizes the canvas' backing store (render.js): it
// never enters these formulas, which is why a click maps to the same image pixel at any.

export const MIN_ZOOM = 0.25; // times the fitted scale: room to see the whole image small
export const MAX_SCALE = 64; // layout pixels per image pixel: single pixels large enough to hit

/** Layout point -> image point under a view. */
export const toImage = (view, p) => [(p[0] - view.ox) / view.scale, (p[1] - view.oy) / view.scale];

/** Image point -> layout point under a view. */
export const toLayout = (view, p) => [view.ox + p[0] * view.scale, view.oy + p[1] * view.scale];

/** The scale clamped to [MIN_ZOOM * fit scale, MAX_SCALE] (never below the largest minimum). */
export function clampScale(scale, fit) {
  const lo = Math.min(MIN_ZOOM * fit.scale, MAX_SCALE);
  return Math.min(MAX_SCALE, Math.max(lo, scale));
}

/**
 * Zoom by factor about layout point p: the image point under p stays under p (the
 * wheel zooms about the pointer). The factor is clamped so the scale stays in range.
 */
export function zoomAbout(view, p, factor, fit) {
  const scale = clampScale(view.scale * factor, fit);
  const q = toImage(view, p);
  return { scale, ox: p[0] - q[0] * scale, oy: p[1] - q[1] * scale };
}

/** Shift the picture by (dx, dy) layout pixels. */
export const panBy = (view, dx, dy) => ({ scale: view.scale, ox: view.ox + dx, oy: view.oy + dy });

/**
 * Two-finger pinch: fingers that were at layout points a0, b0 are now at a1, b1. The
 * image point under their midpoint follows the new midpoint, and the scale follows the
 * ratio of their distances (clamped). Fingers on one spot only pan.
 */
export function pinch(view, [a0, b0], [a1, b1], fit) {
  const d0 = Math.hypot(b0[0] - a0[0], b0[1] - a0[1]);
  const d1 = Math.hypot(b1[0] - a1[0], b1[1] - a1[1]);
  const m0 = [(a0[0] + b0[0]) / 2, (a0[1] + b0[1]) / 2];
  const m1 = [(a1[0] + b1[0]) / 2, (a1[1] + b1[1]) / 2];
  const zoomed = d0 > 0 && d1 > 0 ? zoomAbout(view, m0, d1 / d0, fit) : view;
  return panBy(zoomed, m1[0] - m0[0], m1[1] - m0[1]);
}

/** Wheel delta (pixels, as DOM_DELTA_PIXEL) -> zoom factor; a trackpad pinch (ctrlKey) is finer-grained, so faster. */
export function wheelFactor(deltaY, pinchGesture = false) {
  return Math.exp(-deltaY * (pinchGesture ? 0.01 : 0.0015));
}

/** The view that shows image pixels at `scale` layout pixels each, centred in a w x h view. */
export function centredAt(scale, imageW, imageH, w, h) {
  return { scale, ox: (w - imageW * scale) / 2, oy: (h - imageH * scale) / 2 };
}
