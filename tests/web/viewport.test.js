import { test } from "node:test";
import assert from "node:assert/strict";
import { fitView, clientToImage, imageToClient } from "../../web/geometry.js";
import {
  toImage, toLayout, clampScale, zoomAbout, panBy, pinch, wheelFactor, centredAt, MIN_ZOOM, MAX_SCALE,
} from "../../web/viewport.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const closeP = (p, q, eps = 1e-9) => { close(p[0], q[0], eps); close(p[1], q[1], eps); };
const fit = fitView(1024, 768, 1200, 800);

test("toImage and toLayout are inverses", () => {
  const view = { scale: 3.7, ox: -512.25, oy: 40 };
  for (const p of [[0, 0], [1023.5, 767.5], [333.3, 12.01]]) closeP(toImage(view, toLayout(view, p)), p);
});

test("zoomAbout keeps the image point under the pointer, at every step", () => {
  let view = fit;
  const pointer = [700.5, 211.25];
  const under = toImage(view, pointer);
  for (const factor of [1.5, 2, 4, 0.3, 7]) {
    view = zoomAbout(view, pointer, factor, fit);
    closeP(toImage(view, pointer), under, 1e-9);
  }
});

test("zoomAbout multiplies the scale, clamped to the allowed range", () => {
  const z = zoomAbout(fit, [0, 0], 2, fit);
  close(z.scale, fit.scale * 2);
  close(zoomAbout(fit, [10, 10], 1e6, fit).scale, MAX_SCALE);
  close(zoomAbout(fit, [10, 10], 1e-6, fit).scale, MIN_ZOOM * fit.scale);
  // clamped zooms still keep the pointer's image point fixed
  const p = [321, 123];
  closeP(toImage(zoomAbout(fit, p, 1e6, fit), p), toImage(fit, p));
});

test("clampScale never inverts the range for tiny images", () => {
  const tinyFit = fitView(2, 2, 1200, 800); // 400 px per image pixel when fitted
  close(clampScale(1000, tinyFit), MAX_SCALE);
  close(clampScale(1, tinyFit), MAX_SCALE);
});

test("zooming in and back out returns the same view", () => {
  const p = [950, 640];
  const back = zoomAbout(zoomAbout(fit, p, 3, fit), p, 1 / 3, fit);
  close(back.scale, fit.scale, 1e-12);
  close(back.ox, fit.ox, 1e-9);
  close(back.oy, fit.oy, 1e-9);
});

test("panBy shifts by layout pixels", () => {
  const v = panBy({ scale: 2, ox: 10, oy: 20 }, -5, 7.5);
  assert.deepEqual(v, { scale: 2, ox: 5, oy: 27.5 });
  closeP(toLayout(v, [3, 4]), [11, 35.5]);
});

test("pinch: the midpoint's image point follows the fingers, scale follows their spread", () => {
  const a0 = [400, 300], b0 = [600, 300];
  const a1 = [300, 350], b1 = [700, 350]; // twice as far apart, midpoint moved by (0, 50)
  const under = toImage(fit, [500, 300]);
  const v = pinch(fit, [a0, b0], [a1, b1], fit);
  close(v.scale, fit.scale * 2);
  closeP(toImage(v, [500, 350]), under);
  // each finger stays on its image point too (a similarity with no rotation)
  closeP(toImage(v, a1), toImage(fit, a0));
  closeP(toImage(v, b1), toImage(fit, b0));
  // fingers on one spot: a pan only
  const same = pinch(fit, [a0, a0], [b0, b0], fit);
  close(same.scale, fit.scale);
  closeP(toImage(same, b0), toImage(fit, a0));
});

test("wheelFactor: down zooms out, up zooms in, opposite deltas cancel", () => {
  assert.ok(wheelFactor(100) < 1 && wheelFactor(-100) > 1);
  close(wheelFactor(100) * wheelFactor(-100), 1);
  assert.ok(wheelFactor(10, true) < wheelFactor(10));
});

test("client -> image through a zoomed view is exact at any device pixel ratio and host scale", () => {
  // the layout box is 1200 x 800 CSS px; on screen it may be scaled (host zoom): rect says how
  const view = zoomAbout(fit, [600, 400], 5.3, fit);
  for (const screen of [1, 0.5, 1.75]) {
    const rect = { left: 13, top: 7.5, width: 1200 * screen, height: 800 * screen };
    for (const p of [[512, 384], [511.5, 383.5], [600.01, 300.99]]) {
      const [cx, cy] = imageToClient(p, rect, 1200, 800, view);
      closeP(clientToImage(cx, cy, rect, 1200, 800, view), p, 1e-9);
    }
  }
  // a known pixel's centre lands inside that pixel after the zoom
  const [cx, cy] = imageToClient([100.5, 50.5], { left: 0, top: 0, width: 1200, height: 800 }, 1200, 800, view);
  const q = clientToImage(cx + 0.4 * view.scale, cy - 0.4 * view.scale, { left: 0, top: 0, width: 1200, height: 800 }, 1200, 800, view);
  assert.deepEqual(q.map(Math.floor), [100, 50]);
});

test("centredAt centres the picture at a given scale", () => {
  const v = centredAt(2, 100, 50, 400, 300);
  assert.deepEqual(v, { scale: 2, ox: 100, oy: 100 });
  closeP(toLayout(v, [50, 25]), [200, 150]);
});
