import { test } from "node:test";
import assert from "node:assert/strict";
import {
  rotationAngle, rotatePoint, poseAt, applyPose, poseMatrix, fitView, clientToImage,
  imageToClient, hitPoint, extendPath, clampToImage, roundPoint,
} from "../../web/geometry.js";

const close = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const closeP = (p, q, eps = 1e-9) => { close(p[0], q[0], eps); close(p[1], q[1], eps); };

test("rotation angle is signed, in image coordinates (y down)", () => {
  // handle to the right of the centre, target below it: a quarter turn x -> y, +pi/2.
  close(rotationAngle([10, 0], [0, 10], [0, 0]), Math.PI / 2);
  close(rotationAngle([0, 10], [10, 0], [0, 0]), -Math.PI / 2);
  close(rotationAngle([5, 5], [5, 5], [0, 0]), 0);
  // the handle lands on the target's ray after a full-progress rotation
  const h = [30, 20], g = [12, 50], c = [17, 23];
  const p = rotatePoint(h, c, rotationAngle(h, g, c));
  const ray = [g[0] - c[0], g[1] - c[1]];
  const got = [p[0] - c[0], p[1] - c[1]];
  close(got[0] * ray[1] - got[1] * ray[0], 0, 1e-9);
  assert.ok(got[0] * ray[0] + got[1] * ray[1] > 0);
});

test("rotatePoint applies R = [[cos, -sin], [sin, cos]] about the centre", () => {
  closeP(rotatePoint([2, 1], [1, 1], Math.PI / 2), [1, 2]);
  closeP(rotatePoint([1, 1], [1, 1], 1.234), [1, 1]);
});

test("translate pose moves by eta * (target - handle)", () => {
  const op = { type: "translate", handle: [10, 20], target: [50, 0] };
  closeP(applyPose(poseAt(op, 0), [3, 4]), [3, 4]);
  closeP(applyPose(poseAt(op, 0.25), [3, 4]), [13, -1]);
  closeP(applyPose(poseAt(op, 1), op.handle), op.target);
});

test("rotate pose turns about the centre by eta * angle", () => {
  const op = { type: "rotate", handle: [20, 10], target: [10, 20], center: [10, 10] };
  closeP(applyPose(poseAt(op, 1), op.handle), [10, 20]);
  const half = applyPose(poseAt(op, 0.5), op.handle);
  closeP(half, [10 + 10 * Math.SQRT1_2, 10 + 10 * Math.SQRT1_2]);
  assert.equal(poseAt({ ...op, center: null }, 1), null);
  assert.equal(poseAt({ type: "translate", handle: [1, 1], target: null }, 1), null);
});

test("poseMatrix is the same motion as applyPose", () => {
  const op = { type: "rotate", handle: [40, 12], target: [5, 33], center: [20, 20] };
  for (const eta of [0, 0.3, 1]) {
    const pose = poseAt(op, eta);
    const [a, b, c, d, e, f] = poseMatrix(pose);
    for (const p of [[0, 0], [7, 3], [40, 12]]) {
      closeP([a * p[0] + c * p[1] + e, b * p[0] + d * p[1] + f], applyPose(pose, p));
    }
  }
});

test("fitView centres the whole image", () => {
  assert.deepEqual(fitView(200, 100, 400, 400), { scale: 2, ox: 0, oy: 100 });
  assert.deepEqual(fitView(100, 200, 400, 200), { scale: 1, ox: 150, oy: 0 });
});

test("client <-> image is exact under any on-screen scale", () => {
  const view = fitView(640, 480, 300, 260);
  for (const zoom of [0.37, 1, 2.5]) {
    {
      // clientX and the rect are both CSS pixels: the device pixel ratio never enters.
      const rect = { left: 17.25, top: -40, width: 300 * zoom, height: 260 * zoom };
      for (const p of [[0, 0], [639.5, 479.5], [123.25, 77.75]]) {
        const c = imageToClient(p, rect, 300, 260, view);
        closeP(clientToImage(c[0], c[1], rect, 300, 260, view), p, 1e-9);
      }
    }
  }
  // a pixel centre at the view's corner
  const rect = { left: 0, top: 0, width: 300, height: 260 };
  closeP(clientToImage(view.ox, view.oy, rect, 300, 260, view), [0, 0]);
});

test("hitPoint finds the nearest point, prefers the selected operation, ignores translate centres", () => {
  const ops = [
    { type: "translate", handle: [10, 10], target: [50, 50], center: [100, 100] },
    { type: "rotate", handle: [10, 11], target: [80, 80], center: [30, 30] },
  ];
  assert.deepEqual(hitPoint(ops, [10, 10.4], 3), { op: 0, kind: "handle" });
  assert.deepEqual(hitPoint(ops, [10, 10.5], 3, 1), { op: 1, kind: "handle" });
  assert.deepEqual(hitPoint(ops, [31, 30], 3), { op: 1, kind: "center" });
  assert.equal(hitPoint(ops, [100, 100], 3), null);
  assert.equal(hitPoint(ops, [200, 200], 3), null);
});

test("extendPath thins freehand input", () => {
  const pts = [[0, 0]];
  assert.equal(extendPath(pts, [0.5, 0], 1), false);
  assert.equal(extendPath(pts, [1, 0], 1), true);
  assert.deepEqual(pts, [[0, 0], [1, 0]]);
});

test("clampToImage and roundPoint", () => {
  assert.deepEqual(clampToImage([-3, 700], 640, 480), [0, 480]);
  assert.deepEqual(roundPoint([1.23456, -2.005]), [1.23, -2]);
});
