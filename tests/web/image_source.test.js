import { test } from "node:test";
import assert from "node:assert/strict";
import { outputsItsFile, parseImageValue, viewPath } from "../../web/image_source.js";

test("LoadImage values name the file, its subfolder and its folder type", () => {
  assert.deepEqual(parseImageValue("cat.png"), { filename: "cat.png", subfolder: "", type: "input" });
  assert.deepEqual(parseImageValue("pets/cats/cat 1.png [output]"), { filename: "cat 1.png", subfolder: "pets/cats", type: "output" });
  assert.deepEqual(parseImageValue("a [b].png [temp]"), { filename: "a [b].png", subfolder: "", type: "temp" });
  assert.deepEqual(parseImageValue("odd [x].png"), { filename: "odd [x].png", subfolder: "", type: "input" });
});

test("the /view path asks for the original file, escaped, with no preview re-encoding", () => {
  const p = viewPath({ filename: "cat 1&2.png", subfolder: "pets/cats", type: "output" });
  const q = new URLSearchParams(p.split("?")[1]);
  assert.equal(p.split("?")[0], "/view");
  assert.equal(q.get("filename"), "cat 1&2.png");
  assert.equal(q.get("subfolder"), "pets/cats");
  assert.equal(q.get("type"), "output");
  assert.equal(q.has("preview"), false);
});

test("only the host's loaders are trusted to output their file's pixels before a run", () => {
  assert.equal(outputsItsFile("LoadImage"), true);
  assert.equal(outputsItsFile("LoadImageOutput"), true);
  assert.equal(outputsItsFile("LoadAndResizeImage"), false, "a loader that may resize: the run's preview instead");
  assert.equal(outputsItsFile(undefined), false);
});
