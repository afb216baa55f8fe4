// Which image outputs of a run belong to a DragNeXtSpec node's edit, as pure functions over
// a plain description of the graph (no DOM, no host imports): the bridge turns the live
// graph into it and matches the run's `executed` messages against the answer.
//
// graph: {[nodeId]: {type, outputs: {[outputName]: [downstream node ids]}}}

const PBSI = "DragNeXtPBSI";
const STATES = "states"; // DragNeXtPBSI's LATENT output of its intermediate states

function reachable(graph, starts) {
  const seen = new Set();
  const todo = [...starts];
  while (todo.length) {
    const id = String(todo.pop());
    if (seen.has(id) || !graph[id]) continue;
    seen.add(id);
    for (const ids of Object.values(graph[id].outputs ?? {})) todo.push(...ids);
  }
  return seen;
}

/**
 * The nodes whose images show this spec node's result: {edited: Set, states: Set}. Edited:
 * downstream of a PBSI node that the spec feeds, through its edit (not its states); states:
 * downstream of the states output only. A node fed by both counts as edited.
 */
export function resultNodes(graph, specId) {
  const downstream = reachable(graph, [specId]);
  const edited = new Set(), states = new Set();
  for (const id of downstream) {
    if (graph[id].type !== PBSI) continue;
    const outs = graph[id].outputs ?? {};
    const fromEdit = reachable(graph, Object.entries(outs).filter(([name]) => name !== STATES).flatMap(([, ids]) => ids));
    const fromStates = reachable(graph, outs[STATES] ?? []);
    for (const n of fromEdit) edited.add(n);
    for (const n of fromStates) if (!fromEdit.has(n)) states.add(n);
  }
  for (const n of edited) states.delete(n);
  return { edited, states };
}

/** What an `executed` message's images are to this spec node: "edited", "states" or null. */
export function resultRole(nodes, nodeId) {
  const id = String(nodeId);
  if (nodes.edited.has(id)) return "edited";
  if (nodes.states.has(id)) return "states";
  return null;
}
