import { test } from "node:test";
import assert from "node:assert/strict";
import { History } from "../../web/history.js";

test("undo and redo walk the recorded states", () => {
  const h = new History("a");
  assert.equal(h.undo(), null);
  h.push("b");
  h.push("c");
  assert.equal(h.push("c"), false);
  assert.equal(h.undo(), "b");
  assert.equal(h.undo(), "a");
  assert.equal(h.undo(), null);
  assert.equal(h.redo(), "b");
  h.push("d"); // a new edit drops the redo branch
  assert.equal(h.canRedo(), false);
  assert.equal(h.undo(), "b");
  assert.equal(h.redo(), "d");
});

test("history is bounded and reset forgets", () => {
  const h = new History("0", 3);
  for (const s of ["1", "2", "3", "4"]) h.push(s);
  assert.equal(h.undo(), "3");
  assert.equal(h.undo(), "2");
  assert.equal(h.undo(), "1");
  assert.equal(h.undo(), null);
  h.reset("x");
  assert.equal(h.canUndo() || h.canRedo(), false);
  assert.equal(h.current, "x");
});
