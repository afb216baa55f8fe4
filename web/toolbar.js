// The editor's controls: tool buttons, operation chips, layer switch, sliders, status.
// Every control has a tooltip naming its shortcut; the editor owns all behaviour.

export const TOOLS = [
  { id: "select", key: "v", label: "Move", tip: "Move points: drag any handle, target or centre; click a region to select its operation (V)",
    hint: "Drag a handle, target or centre to move it. Click a region to select its operation." },
  { id: "handle", key: "h", label: "Handle", tip: "Place the handle: the point that gets dragged (H)",
    hint: "Click on the part to move to place the handle of operation {op}." },
  { id: "target", key: "t", label: "Target", tip: "Place the target: where the handle ends up (T)",
    hint: "Click where the handle of operation {op} should end up." },
  { id: "center", key: "c", label: "Centre", tip: "Place the rotation centre; makes the operation a rotate (C)",
    hint: "Click the rotation centre of operation {op} (it becomes a rotate)." },
  { id: "brush", key: "b", label: "Brush", tip: "Paint the active layer ([ and ] change the size) (B)",
    hint: "Paint the {layer}. [ and ] change the brush size." },
  { id: "eraser", key: "e", label: "Eraser", tip: "Erase from the active layer ([ and ] change the size) (E)",
    hint: "Erase from the {layer}. [ and ] change the brush size." },
  { id: "polygon", key: "p", label: "Lasso", tip: "Lasso (drag) or polygon (click corners, Enter or click the first to close); Alt erases (P)",
    hint: "Drag a lasso, or click corners and close on the first (Enter). Adds to the {layer}; Alt or X erases." },
  { id: "rect", key: "r", label: "Rect", tip: "Drag a rectangle; Alt erases (R)",
    hint: "Drag a rectangle on the {layer}. Alt or X erases." },
];

function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") Object.assign(e.style, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

const CSS = `
.dnx-root{position:relative;display:flex;flex-direction:column;gap:4px;width:100%;height:100%;box-sizing:border-box;font:12px sans-serif;color:#ddd;outline:none}
.dnx-root:focus-within{box-shadow:0 0 0 1px #68a}
.dnx-keys{position:absolute;left:0;top:0;width:1px;height:1px;opacity:0;pointer-events:none;border:0;padding:0}
.dnx-bar{display:flex;flex-wrap:wrap;gap:3px;align-items:center}
.dnx-bar button,.dnx-bar select{background:#333;color:#ddd;border:1px solid #555;border-radius:4px;padding:2px 6px;font:inherit;cursor:pointer}
.dnx-bar button[aria-pressed=true]{background:#4a6a9a;border-color:#8ab}
.dnx-bar button:disabled{opacity:.4;cursor:default}
.dnx-chip{display:inline-flex;align-items:center;gap:2px;border-radius:4px;padding:1px 3px;border:2px solid transparent}
.dnx-chip[aria-selected=true]{border-color:#fff}
.dnx-chip.dnx-bad{outline:1px dashed #ff0}
.dnx-view{position:relative;flex:1 1 auto;min-height:120px;overflow:hidden}
.dnx-view canvas{position:absolute;left:0;top:0;width:100%;height:100%;touch-action:none}
.dnx-status{min-height:2.6em;line-height:1.3em;white-space:pre-wrap;opacity:.9}
.dnx-status .dnx-err{color:#ff8}
.dnx-bar input[type=range]{flex:1;min-width:60px}
.dnx-bar [hidden],.dnx-root [hidden]{display:none!important}
.dnx-json{flex:0 0 auto;width:100%;box-sizing:border-box;min-height:8em;resize:vertical;background:#222;color:#ddd;border:1px solid #555;border-radius:4px;font:11px monospace}
.dnx-overlay{position:fixed;inset:0;z-index:9000;background:rgba(10,10,10,.92);display:flex;padding:12px;box-sizing:border-box}
.dnx-window{flex-direction:row;gap:12px;font-size:13px}
.dnx-window .dnx-main{flex:1 1 auto;display:flex;flex-direction:column;gap:4px;min-width:0}
.dnx-window .dnx-view{background:#161616;border:1px solid #333}
.dnx-window .dnx-view canvas{cursor:crosshair}
.dnx-help{flex:0 0 230px;overflow:auto;border-left:1px solid #333;padding-left:10px}
.dnx-help h3{margin:0 0 6px;font-size:13px}
.dnx-key{margin:0 0 5px;line-height:1.35}
.dnx-key kbd{display:block;font:12px monospace;color:#fff}
.dnx-key span{opacity:.8}
.dnx-close{margin-left:auto;background:#3a6a3a!important;border-color:#6a6!important}
.dnx-zoom{min-width:4em;text-align:right;opacity:.8}
`;

let styled = false;
function ensureStyle() {
  if (styled) return;
  styled = true;
  document.head.append(el("style", { text: CSS }));
}

/** The full-window view's shortcuts, listed in it. */
export const WINDOW_KEYS = [
  ["Wheel / pinch", "zoom about the pointer"], ["Space + drag, middle drag", "pan"], ["F", "fit the image"],
  ["1", "100 % (one image pixel per screen pixel)"], ["+ / -", "zoom in / out"],
  ["B E P R", "brush, eraser, lasso, rectangle"], ["[ ]", "brush size"], ["X or Alt", "lasso / rectangle erase"],
  ["H T C", "handle, target, centre"], ["V", "move points"], ["L", "region / editable-area layer"],
  ["N / Shift+N", "new translate / rotate"], ["M", "switch type"], ["Tab", "next operation"], ["Delete", "remove it"],
  ["Ctrl+Z / Ctrl+Shift+Z", "undo / redo"], ["O", "original / edited (after a run)"], ["Enter", "close a polygon"],
  ["Esc", "cancel a polygon, else close (the spec is written)"],
];

/**
 * Build the controls for an editor; returns {root, canvas, view, update(editor)}. The
 * editor object provides the actions (setTool, addOperation, ...) and its state. In the
 * node: a Full window button and the spec's JSON folded behind a toggle; in the window:
 * zoom controls, Close, and the shortcuts listed at the side.
 */
export function buildControls(ed) {
  ensureStyle();
  const win = ed.mode === "window";
  const toolButtons = TOOLS.map((t) =>
    el("button", { type: "button", title: t.tip, "data-tool": t.id, onclick: () => ed.setTool(t.id) }, [t.label]));
  const ops = el("span", { class: "dnx-bar" });
  const undo = el("button", { type: "button", title: "Undo (Ctrl+Z)", onclick: () => ed.undo() }, ["↶"]);
  const redo = el("button", { type: "button", title: "Redo (Ctrl+Shift+Z)", onclick: () => ed.redo() }, ["↷"]);
  const layer = el("button", { type: "button", "data-action": "layer", title: "Draw on the selected operation's region or on the editable area (L)", onclick: () => ed.toggleLayer() });
  const erase = el("button", { type: "button", "data-action": "erase", title: "Lasso and rectangle erase instead of add (X)", onclick: () => ed.toggleErase() }, ["Erase"]);
  const size = el("input", { type: "range", min: "1", max: "200", step: "1", title: "Brush radius in image pixels ([ and ])", oninput: (e) => ed.setBrushRadius(Number(e.target.value)) });
  const sizeLabel = el("span");
  const eta = el("input", { type: "range", min: "0", max: "1", step: "0.01", value: "1", "data-action": "progress",
    title: "Preview progress: where each region is at this point of the drag (1 = target pose)", oninput: (e) => ed.setEta(Number(e.target.value)) });
  const etaLabel = el("span");
  const status = el("div", { class: "dnx-status" });
  const canvas = el("canvas");
  const view = el("div", { class: "dnx-view" }, [canvas]);

  // After a run: the original or the edited picture, and PBSI's states to scrub.
  const resultToggle = el("button", { type: "button", "data-action": "result-toggle", title: "Show the original or the edited image (O)", onclick: () => ed.toggleResult() });
  const states = el("input", { type: "range", min: "0", max: "0", step: "1", value: "0", "data-action": "states",
    title: "PBSI's intermediate states: the image predicted after each PBSI timestep", oninput: (e) => ed.showState(Number(e.target.value)) });
  const statesLabel = el("span");
  const statesBox = el("span", { class: "dnx-bar dnx-states" }, [el("span", { text: "PBSI states" }), states, statesLabel]);
  const resultBar = el("div", { class: "dnx-bar dnx-result" }, [resultToggle, statesBox]);

  const json = el("textarea", { class: "dnx-json", spellcheck: "false", "aria-label": "Drag spec JSON", rows: "8" });
  let typing = 0; // one undo step per focus of the box
  json.addEventListener("focus", () => { typing += 1; });
  json.addEventListener("input", () => ed.typeText(json.value, `json${typing}`));
  const jsonToggle = el("button", { type: "button", "data-action": "json", title: "Show the spec as JSON text (the source of truth; editable)", onclick: () => ed.toggleJSON() }, ["JSON"]);

  const zoomLabel = el("span", { class: "dnx-zoom" });
  const modeButtons = win
    ? [el("button", { type: "button", "data-action": "fit", title: "Fit the whole image (F)", onclick: () => ed.fit() }, ["Fit"]),
      el("button", { type: "button", "data-action": "actual-size", title: "One image pixel per screen pixel (1)", onclick: () => ed.actualSize() }, ["100%"]),
      el("button", { type: "button", "data-action": "zoom-in", title: "Zoom in (+)", onclick: () => ed.zoomBy(1.25) }, ["+"]),
      el("button", { type: "button", "data-action": "zoom-out", title: "Zoom out (-)", onclick: () => ed.zoomBy(0.8) }, ["−"]),
      zoomLabel,
      el("button", { type: "button", "data-action": "close", class: "dnx-close", title: "Close and write the spec into the node (Esc)", onclick: () => ed.close() }, ["Done"])]
    : [el("button", { type: "button", "data-action": "full-window", title: "Edit in a full window, with zoom and pan (F, or double-click the picture)", onclick: () => ed.openWindow() }, ["Full window"]),
      jsonToggle];

  const main = [
    el("div", { class: "dnx-bar" }, [
      el("button", { type: "button", "data-action": "add-translate", title: "New translate operation (N)", onclick: () => ed.addOperation("translate") }, ["+ Translate"]),
      el("button", { type: "button", "data-action": "add-rotate", title: "New rotate operation (Shift+N)", onclick: () => ed.addOperation("rotate") }, ["+ Rotate"]),
      ops,
    ]),
    el("div", { class: "dnx-bar" }, [...toolButtons, erase, layer]),
    el("div", { class: "dnx-bar" }, [el("span", { text: "Size" }), size, sizeLabel, undo, redo,
      el("button", { type: "button", "data-action": "clear", title: "Remove all operations and the editable area (undoable)", onclick: () => ed.clear() }, ["Clear"]),
      ...modeButtons]),
    view,
    el("div", { class: "dnx-bar" }, [el("span", { text: "Progress" }), eta, etaLabel]),
    resultBar,
    status,
  ];
  let root;
  if (win) {
    const help = el("div", { class: "dnx-help" }, [el("h3", { text: "Shortcuts" }),
      ...WINDOW_KEYS.map(([k, what]) => el("div", { class: "dnx-key" }, [el("kbd", { text: k }), el("span", { text: what })]))]);
    root = el("div", { class: "dnx-root dnx-window" }, [el("div", { class: "dnx-main" }, main), help]);
  } else {
    // widget-expands: the host's Vue nodes give such a widget the node's free height
    root = el("div", { class: "dnx-root widget-expands" }, [...main, json]);
  }

  function update() {
    for (const b of toolButtons) b.setAttribute("aria-pressed", String(b.dataset.tool === ed.tool));
    erase.setAttribute("aria-pressed", String(ed.eraseShapes));
    layer.textContent = ed.layer === "editable" ? "Layer: editable area" : "Layer: region";
    size.value = String(Math.round(ed.brushRadius));
    sizeLabel.textContent = `${Math.round(ed.brushRadius)} px`;
    etaLabel.textContent = ed.eta.toFixed(2);
    eta.value = String(ed.eta);
    undo.disabled = !ed.history.canUndo();
    redo.disabled = !ed.history.canRedo();
    ops.replaceChildren(...ed.state.operations.map((op, i) => operationChip(ed, op, i)));
    status.replaceChildren(...ed.statusLines().map(([text, bad]) => el("div", bad ? { class: "dnx-err", text } : { text })));
    const r = ed.results;
    resultBar.hidden = !r;
    resultToggle.hidden = !r?.edited;
    resultToggle.textContent = ed.display === "edited" ? "Showing: edited" : ed.display === "state" ? "Showing: PBSI state" : "Showing: original";
    resultToggle.setAttribute("aria-pressed", String(ed.display === "edited"));
    statesBox.hidden = !r?.states?.length;
    states.max = String(Math.max(0, (r?.states?.length ?? 1) - 1));
    states.value = String(ed.stateIndex);
    statesLabel.textContent = r?.states?.length ? `${ed.stateIndex + 1}/${r.states.length}` : "";
    if (win) {
      const v = ed.layout().view;
      zoomLabel.textContent = v ? `${Math.round(v.scale * 100)} %` : "";
    } else {
      jsonToggle.setAttribute("aria-pressed", String(ed.showJSON));
      json.hidden = !ed.showJSON;
      if (document.activeElement !== json && json.value !== ed.history.current) json.value = ed.history.current;
    }
  }
  return { root, canvas, view, update };
}

function operationChip(ed, op, i) {
  const bad = ed.problemsByOp[i] ?? [];
  const chip = el("span", {
    class: `dnx-chip${bad.length ? " dnx-bad" : ""}`, "aria-selected": String(i === ed.selected), "data-op": String(i),
    style: { background: ed.colour(i) + "55" },
    title: bad.length ? bad.map((p) => `${p.field}: ${p.message}`).join("\n") : `Operation ${i + 1}: ready`,
  }, [
    el("button", { type: "button", title: `Select operation ${i + 1} (Tab cycles)`, onclick: () => ed.select(i) }, [`${i + 1}${bad.length ? " ⚠" : ""}`]),
    el("button", { type: "button", "data-action": "switch-type", title: "Switch between translate and rotate (M)", onclick: () => ed.switchType(i) }, [op.type]),
    el("button", { type: "button", "data-action": "delete", title: "Delete this operation (Delete)", onclick: () => ed.deleteOperation(i) }, ["✕"]),
  ]);
  return chip;
}
