import { test } from "node:test";
import assert from "node:assert/strict";
import { resultNodes, resultRole } from "../../web/results.js";

// The example workflow's shape: Load(3) -> Spec(6) -> PBSI(7) -edit-> Denoise(8) -> Decode(9)
// -> Save(10); PBSI -states-> Decode(11) -> Preview(12). Load also feeds VAEEncode(4).
const graph = {
  3: { type: "LoadImage", outputs: { IMAGE: [4, 6], MASK: [] } },
  4: { type: "VAEEncode", outputs: { LATENT: [5] } },
  5: { type: "DragNeXtInversion", outputs: { inversion: [7] } },
  6: { type: "DragNeXtSpec", outputs: { drag: [7] } },
  7: { type: "DragNeXtPBSI", outputs: { edit: [8], states: [11] } },
  8: { type: "DragNeXtDenoise", outputs: { latent: [9] } },
  9: { type: "VAEDecode", outputs: { IMAGE: [10] } },
  10: { type: "SaveImage", outputs: {} },
  11: { type: "VAEDecode", outputs: { IMAGE: [12] } },
  12: { type: "PreviewImage", outputs: {} },
};

test("edited and states images are told apart by the PBSI output they come from", () => {
  const nodes = resultNodes(graph, 6);
  assert.equal(resultRole(nodes, "10"), "edited");
  assert.equal(resultRole(nodes, 12), "states");
  assert.equal(resultRole(nodes, 3), null, "the original is not a result");
  assert.equal(resultRole(nodes, 5), null, "upstream of PBSI is not a result");
});

test("a node fed by both the edit and the states counts as edited", () => {
  const g = structuredClone(graph);
  g[13] = { type: "ImageBatch", outputs: {} };
  g[9].outputs.IMAGE.push(13);
  g[11].outputs.IMAGE.push(13);
  const nodes = resultNodes(g, 6);
  assert.equal(resultRole(nodes, 13), "edited");
  assert.equal(resultRole(nodes, 12), "states");
});

test("another spec node's results are not this one's", () => {
  const g = structuredClone(graph);
  g[20] = { type: "DragNeXtSpec", outputs: { drag: [21] } };
  g[21] = { type: "DragNeXtPBSI", outputs: { edit: [22], states: [] } };
  g[22] = { type: "SaveImage", outputs: {} };
  assert.equal(resultRole(resultNodes(g, 6), 22), null);
  assert.equal(resultRole(resultNodes(g, 20), 22), "edited");
  assert.equal(resultRole(resultNodes(g, 20), 10), null);
});

test("a spec without PBSI downstream has no results; cycles terminate", () => {
  const g = { 1: { type: "DragNeXtSpec", outputs: { drag: [2] } }, 2: { type: "X", outputs: { o: [1] } } };
  const nodes = resultNodes(g, 1);
  assert.equal(nodes.edited.size + nodes.states.size, 0);
});
