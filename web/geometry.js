// Drag geometry and view mapping for the canvas editor. Pure ES module (no DOM).
//
// Image coordinates: pixels, x right, y down, [0, 0] the top-left corner of the image.
// The pose formulas are the Python side's (PBSI intermediate states), so the preview the
// editor shows is the state the model is steered through.

export const cross = (u, v) => u[0] * v[1] - u[1] * v[0];
export const dot = (u, v) => u[0] * v[0] + u[1] * v[1];
const sub = (a, b) => [a[0] - b[0], a[1] - b[1]];

/** Signed angle turning ray centre->handle onto ray centre->target (positive turns x toward y). */
export function rotationAngle(handle, target, center) {
  const u = sub(handle, center);
  const v = sub(target, center);
  return Math.atan2(cross(u, v), dot(u, v));
}

/** p' = c + R(theta)(p - c), R = [[cos, -sin], [sin, cos]] acting on (x, y). */
export function rotatePoint(p, center, theta) {
  const c = Math.cos(theta), s = Math.sin(theta);
  const dx = p[0] - center[0], dy = p[1] - center[1];
  return [center[0] + c * dx - s * dy, center[1] + s * dx + c * dy];
}

/**
 * The rigid motion of an operation at progress eta in [0, 1], as {dx, dy, theta, center}:
 * a point p maps to center + R(theta)(p - center) + (dx, dy). Translate: shift by
 * eta * (target - handle). Rotate: turn about the centre by eta * angle.
 * Returns null while the operation lacks the points it needs.
 */
export function poseAt(op, eta) {
  if (!op.handle || !op.target) return null;
  if (op.type === "rotate") {
    if (!op.center) return null;
    return { dx: 0, dy: 0, theta: eta * rotationAngle(op.handle, op.target, op.center), center: op.center };
  }
  return {
    dx: eta * (op.target[0] - op.handle[0]),
    dy: eta * (op.target[1] - op.handle[1]),
    theta: 0,
    center: [0, 0],
  };
}

/** Apply a pose from poseAt to a point. */
export function applyPose(pose, p) {
  const q = pose.theta === 0 ? p : rotatePoint(p, pose.center, pose.theta);
  return [q[0] + pose.dx, q[1] + pose.dy];
}

/**
 * The 2-D affine matrix [a, b, c, d, e, f] (canvas setTransform order: x' = a x + c y + e,
 * y' = b x + d y + f) of a pose, to draw a region's ghost with the same motion.
 */
export function poseMatrix(pose) {
  const cos = Math.cos(pose.theta), sin = Math.sin(pose.theta);
  const [cx, cy] = pose.center;
  return [cos, sin, -sin, cos, cx - cos * cx + sin * cy + pose.dx, cy - sin * cx - cos * cy + pose.dy];
}

/**
 * How an image of (imageW, imageH) is fitted, centred and whole, into a view of
 * (viewW, viewH) layout pixels: view = offset + scale * image.
 */
export function fitView(imageW, imageH, viewW, viewH) {
  const scale = Math.min(viewW / imageW, viewH / imageH);
  return { scale, ox: (viewW - imageW * scale) / 2, oy: (viewH - imageH * scale) / 2 };
}

/**
 * Client (pointer event) coordinates -> image coordinates. rect is the element's
 * getBoundingClientRect() (what is on screen, after canvas zoom and any CSS transform);
 * layoutW/H its untransformed size (clientWidth/Height) in which the view is fitted. The
 * ratio undoes whatever scale the host applied, so the mapping holds at any node size,
 * canvas zoom or device pixel ratio.
 */
export function clientToImage(clientX, clientY, rect, layoutW, layoutH, view) {
  const lx = (clientX - rect.left) * (layoutW / rect.width);
  const ly = (clientY - rect.top) * (layoutH / rect.height);
  return [(lx - view.ox) / view.scale, (ly - view.oy) / view.scale];
}

/** Image coordinates -> client coordinates (inverse of clientToImage). */
export function imageToClient(p, rect, layoutW, layoutH, view) {
  const lx = view.ox + p[0] * view.scale;
  const ly = view.oy + p[1] * view.scale;
  return [rect.left + lx * (rect.width / layoutW), rect.top + ly * (rect.height / layoutH)];
}

/** Clamp a point into the image rectangle [0, w] x [0, h]. */
export function clampToImage(p, w, h) {
  return [Math.min(w, Math.max(0, p[0])), Math.min(h, Math.max(0, p[1]))];
}

/** Round to 1/100 pixel: keeps the JSON short; the rounded value is what both sides use. */
export function roundPoint(p) {
  return [Math.round(p[0] * 100) / 100, Math.round(p[1] * 100) / 100];
}

export const POINT_KINDS = ["handle", "target", "center"];

/**
 * The operation point nearest to p within tolerance (image pixels), as {op, kind}, or
 * null. The selected operation wins ties so its points stay grabbable under others.
 */
export function hitPoint(operations, p, tolerance, selected = -1) {
  let best = null;
  let bestD = tolerance * tolerance;
  const order = operations.map((_, i) => i).filter((i) => i !== selected);
  if (selected >= 0 && selected < operations.length) order.push(selected);
  for (const i of order) {
    const op = operations[i];
    for (const kind of POINT_KINDS) {
      const q = op[kind];
      if (!q || (kind === "center" && op.type !== "rotate")) continue;
      const d = (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2;
      if (d <= bestD) { bestD = d; best = { op: i, kind }; }
    }
  }
  return best;
}

/** Append p to a freehand path only once it is at least minStep from the last point. */
export function extendPath(points, p, minStep) {
  const last = points[points.length - 1];
  if (last && (last[0] - p[0]) ** 2 + (last[1] - p[1]) ** 2 < minStep * minStep) return false;
  points.push(p);
  return true;
}
