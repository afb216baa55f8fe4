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

test("pushes of one group are one undo step; any other push or undo ends the group", () => {
  const h = new History("a");
  h.push("b");
  h.push("b1", 7);
  h.push("b12", 7);
  h.push("b123", 7);
  assert.equal(h.undo(), "b", "typing is undone at once");
  assert.equal(h.redo(), "b123");
  h.push("c", 8);
  h.push("d"); // ungrouped: a step of its own
  h.push("d1", 8); // the same group after another push starts a new step
  assert.equal(h.undo(), "d");
  assert.equal(h.undo(), "c");
  assert.equal(h.undo(), "b123");
});

test("drop forgets the last steps without leaving them to redo", () => {
  const h = new History("a");
  h.push("b");
  h.push("c");
  h.push("d");
  assert.equal(h.drop(2), true);
  assert.equal(h.current, "b");
  assert.equal(h.canRedo(), false);
  assert.equal(h.undo(), "a");
  assert.equal(h.drop(5), false, "cannot drop more than was recorded");
  assert.equal(h.drop(0), false);
  assert.equal(h.current, "a");
});

test("a mark from steps drops the same steps once the limit forgets the oldest", () => {
  const h = new History("s0", 3);
  for (let i = 1; i <= 5; i++) h.push(`s${i}`);
  assert.equal(h.past.length, 3, "bounded");
  const mark = h.steps;
  h.push("click 1");
  h.push("click 2");
  assert.equal(h.past.length, 3, "still bounded: past.length no longer moves");
  assert.equal(h.steps - mark, 2);
  assert.equal(h.drop(h.steps - mark), true);
  assert.equal(h.current, "s5");
  h.reset("t");
  assert.equal(h.steps, 0, "reset forgets the count too");
});
