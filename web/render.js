// Draws the editor's picture: image, region masks, ghosts at the scrubbed pose, points.
// Needs a 2-D canvas context; all geometry comes from the pure modules.

import { poseAt, poseMatrix, applyPose, rotationAngle } from "./geometry.js";

export const OP_COLOURS = ["#ff4d4d", "#3fa7ff", "#4cd964", "#ffb340", "#c06bff", "#ff6bd0", "#2fe0d0", "#e0e040"];
export const EDITABLE_COLOUR = "#ffffff";
export const opColour = (i) => OP_COLOURS[i % OP_COLOURS.length];

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * A canvas holding a mask's set pixels in one colour, for drawing scaled and posed; with
 * edgesOnly, just the set pixels that touch a clear one (the outline ghosts are drawn with).
 */
export function maskCanvas(mask, colour, reuse = null, edgesOnly = false) {
  const c = reuse && reuse.width === mask.width && reuse.height === mask.height ? reuse : document.createElement("canvas");
  c.width = mask.width;
  c.height = mask.height;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(mask.width, mask.height);
  const [r, g, b] = rgb(colour);
  const px = img.data;
  const { width: w, height: h, data } = mask;
  for (let k = 0; k < data.length; k++) {
    if (!data[k]) continue;
    if (edgesOnly) {
      const i = k % w, j = (k - i) / w;
      const inner = i > 0 && i < w - 1 && j > 0 && j < h - 1 && data[k - 1] && data[k + 1] && data[k - w] && data[k + w];
      if (inner) continue;
    }
    const o = k * 4;
    px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/**
 * Paint a frame. v: {ctx, k (backing pixels per layout pixel), view ({scale, ox, oy}),
 * image, size, state, selected, layer, eta, masks (per operation: {fill, edge} canvases or null),
 * editableMask (canvas or null), draft (shape in progress or null), problems (by op index),
 * inputs, cursor (image point or null), brushRadius, tool}.
 */
export function drawFrame(v) {
  const { ctx, k, view } = v;
  const W = ctx.canvas.width, H = ctx.canvas.height;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#1e1e1e";
  ctx.fillRect(0, 0, W, H);
  if (!v.size) return;
  const s = k * view.scale;
  const toImage = () => ctx.setTransform(s, 0, 0, s, k * view.ox, k * view.oy);
  toImage();
  ctx.imageSmoothingEnabled = false; // pixels as pixels: what you see is what is rasterised
  if (v.image) ctx.drawImage(v.image, 0, 0, v.size.width, v.size.height);

  const ops = v.state.operations;
  if (v.editableMask && !v.inputs.editableMask) {
    ctx.globalAlpha = v.layer === "editable" ? 0.35 : 0.15;
    ctx.drawImage(v.editableMask, 0, 0);
  }
  ops.forEach((op, i) => {
    const m = v.masks[i]?.fill;
    if (!m) return;
    ctx.globalAlpha = i === v.selected ? 0.45 : 0.25;
    ctx.drawImage(m, 0, 0);
    const pose = poseAt(op, v.eta);
    if (pose && (pose.theta !== 0 || pose.dx !== 0 || pose.dy !== 0)) {
      // the region's ghost at the scrubbed pose: the same rigid motion PBSI applies
      ctx.save();
      ctx.transform(...poseMatrix(pose));
      ctx.globalAlpha = 0.15;
      ctx.drawImage(m, 0, 0);
      ctx.globalAlpha = i === v.selected ? 0.95 : 0.6;
      ctx.drawImage(v.masks[i].edge, 0, 0);
      ctx.restore();
    }
  });
  ctx.globalAlpha = 1;

  const px = 1 / view.scale; // one layout pixel, in image units: marks keep their on-screen size
  if (v.draft) drawDraft(ctx, v.draft, px, v.layer === "editable" ? EDITABLE_COLOUR : opColour(v.selected));
  ops.forEach((op, i) => drawOperation(ctx, op, i, i === v.selected, v.eta, px, v.problems[i]?.length > 0));
  if (v.cursor && (v.tool === "brush" || v.tool === "eraser")) {
    ctx.beginPath();
    ctx.arc(v.cursor[0], v.cursor[1], v.brushRadius, 0, 2 * Math.PI);
    ctx.lineWidth = px;
    ctx.strokeStyle = v.tool === "eraser" ? "#000" : "#fff";
    ctx.setLineDash([4 * px, 3 * px]);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

function drawDraft(ctx, d, px, colour) {
  ctx.lineWidth = 1.5 * px;
  ctx.strokeStyle = colour;
  ctx.setLineDash(d.mode === "erase" ? [5 * px, 4 * px] : []);
  ctx.beginPath();
  if (d.tool === "rect" && d.points.length === 2) {
    const [[ax, ay], [bx, by]] = d.points;
    ctx.rect(Math.min(ax, bx), Math.min(ay, by), Math.abs(bx - ax), Math.abs(by - ay));
  } else if (d.tool === "polygon") {
    d.points.forEach(([x, y], n) => (n ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (d.hover) ctx.lineTo(d.hover[0], d.hover[1]);
    for (const [x, y] of d.points) ctx.rect(x - 2 * px, y - 2 * px, 4 * px, 4 * px);
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

function dot(ctx, p, r, fill, stroke, px) {
  ctx.beginPath();
  ctx.arc(p[0], p[1], r * px, 0, 2 * Math.PI);
  if (fill) { ctx.fillStyle = fill; ctx.fill(); }
  ctx.lineWidth = 2 * px;
  ctx.strokeStyle = stroke;
  ctx.stroke();
}

function drawOperation(ctx, op, i, selected, eta, px, invalid) {
  const colour = opColour(i);
  const w = selected ? 2.5 : 1.5;
  ctx.lineWidth = w * px;
  ctx.strokeStyle = colour;
  if (op.handle && op.target) {
    ctx.beginPath();
    if (op.type === "rotate" && op.center) {
      // the handle's path: an arc about the centre, swept by the signed angle
      const [cx, cy] = op.center;
      const r = Math.hypot(op.handle[0] - cx, op.handle[1] - cy);
      const a0 = Math.atan2(op.handle[1] - cy, op.handle[0] - cx);
      const ang = rotationAngle(op.handle, op.target, op.center);
      ctx.arc(cx, cy, r, a0, a0 + ang, ang < 0);
      ctx.moveTo(cx, cy);
      ctx.lineTo(op.target[0], op.target[1]);
    } else {
      ctx.moveTo(op.handle[0], op.handle[1]);
      ctx.lineTo(op.target[0], op.target[1]);
    }
    ctx.setLineDash([6 * px, 4 * px]);
    ctx.stroke();
    ctx.setLineDash([]);
    const pose = poseAt(op, eta);
    if (pose && eta > 0 && eta < 1) dot(ctx, applyPose(pose, op.handle), 3, colour, "#000", px);
  }
  if (op.type === "rotate" && op.center) {
    const [x, y] = op.center, r = 6 * px;
    ctx.beginPath();
    ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath();
    ctx.fillStyle = "#000";
    ctx.fill();
    ctx.lineWidth = 2 * px;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  if (op.target) {
    dot(ctx, op.target, 6, null, colour, px);
    dot(ctx, op.target, 2, colour, colour, px);
  }
  if (op.handle) {
    dot(ctx, op.handle, selected ? 7 : 6, colour, invalid ? "#ff0" : "#fff", px);
    ctx.fillStyle = "#fff";
    ctx.font = `${12 * px}px sans-serif`;
    ctx.fillText(String(i + 1), op.handle[0] + 8 * px, op.handle[1] - 8 * px);
  }
}
