// The canvas editor: state, history, commands, keyboard and drawing. Host-agnostic: it
// knows nothing of ComfyUI; the bridge (dragnext_editor.js) feeds it the image, the spec
// text, the MASK-input status and a run's results, and receives each committed spec
// through onChange. mode "node" is the editor inside the node; mode "window" the
// full-window view (full_window.js), which adds zoom and pan and shares the history.

import { fitView } from "./geometry.js";
import { zoomAbout, centredAt } from "./viewport.js";
import { serialise, parse, validate, imageProblems, emptyState, newOperation } from "./spec.js";
import { History } from "./history.js";
import { drawFrame, opColour } from "./render.js";
import { LayerMasks } from "./layer_masks.js";
import { buildControls, TOOLS } from "./toolbar.js";
import { attachPointer } from "./interactions.js";
import { handleKey } from "./shortcuts.js";

export class DragEditor {
  constructor({ onChange = () => {}, mode = "node", history = null, onOpenWindow = null, onClose = null } = {}) {
    if (mode !== "node" && mode !== "window") throw new Error(`mode must be "node" or "window", not ${JSON.stringify(mode)}`);
    this.onChange = onChange;
    this.mode = mode;
    this.onOpenWindow = onOpenWindow; // node mode: open the full-window view
    this.onClose = onClose; // window mode: close it
    this.state = emptyState();
    this.history = history ?? new History(serialise(this.state));
    this.userView = null; // window mode: the zoomed/panned view; null = the whole image fitted
    this.results = null; // a run's images: {edited: Image|null, states: [Image]}
    this.display = "original"; // which picture is shown: "original", "edited" or "state"
    this.stateIndex = 0;
    this.showJSON = false;
    this.selected = -1;
    this.tool = "brush";
    this.layer = "region";
    this.eraseShapes = false;
    this.brushRadius = 12;
    this.eta = 1;
    this.image = null;
    this.size = null;
    this.imageNote = "No image yet: connect a Load Image node or run the graph once.";
    this.inputs = { regionMasks: false, editableMask: false };
    this.problems = [];
    this.problemsByOp = {};
    this.specError = null;
    this.message = null; // a one-off note (e.g. why a click did nothing)
    this.draft = null;
    this.cursor = null;
    this.masks = new LayerMasks(() => this.size);
    this.controls = buildControls(this);
    this.root = this.controls.root;
    this.canvas = this.controls.canvas;
    // Keyboard focus sits on a hidden read-only <input>: ComfyUI's graph undo (a capture
    // listener on window that no handler here can stop) leaves keys typed into inputs
    // alone, so Ctrl+Z undoes the drawing instead of reloading the whole graph.
    this.keys = document.createElement("input");
    Object.assign(this.keys, { readOnly: true, className: "dnx-keys", tabIndex: -1 });
    this.keys.setAttribute("aria-label", "DragNeXt editor shortcuts");
    this.root.append(this.keys);
    this.root.addEventListener("keydown", (e) => this.onKey(e));
    this.root.addEventListener("keyup", (e) => { if (e.key === " ") this.panKey = false; });
    this.root.addEventListener("click", (e) => { if (e.target.closest?.("button") && !this.covered) this.focusKeys(); });
    attachPointer(this);
    this.resizes = new ResizeObserver(() => this.redraw());
    this.resizes.observe(this.controls.view);
    if (this.history.current !== serialise(this.state)) this.applyText(this.history.current);
    this.refresh();
  }

  /** Stop observing (a closed full-window view). */
  dispose() { this.resizes.disconnect(); }

  colour(i) { return opColour(i); }

  focusKeys() { this.keys.focus({ preventScroll: true }); }

  // ---- inputs from the host -------------------------------------------------------

  /** Load spec text (the widget's value). Unchanged text is ignored, so echoes are free. */
  setSpec(text) {
    if (text === this.history.current) return;
    this.history.reset(text);
    this.applyText(text);
  }

  applyText(text) {
    try {
      this.state = parse(text);
      this.specError = null;
    } catch (e) {
      this.state = emptyState();
      this.specError = `${e.message}. Drawing replaces the text (undo brings it back).`;
    }
    this.draft = null;
    this.selected = Math.min(Math.max(this.selected, 0), this.state.operations.length - 1);
    this.refresh();
  }

  /** image: a loaded HTMLImageElement (or null with a note saying why there is none). */
  setImage(image, note = null) {
    const first = !this.size;
    const resized = image?.naturalWidth !== this.size?.width || image?.naturalHeight !== this.size?.height;
    this.image = image;
    this.size = image ? { width: image.naturalWidth, height: image.naturalHeight } : null;
    if (resized) this.userView = null;
    this.imageNote = note;
    if (first && this.size) this.brushRadius = Math.max(2, Math.round(Math.min(this.size.width, this.size.height) / 40));
    this.refresh();
  }

  /** Which MASK inputs are connected: their masks replace the drawn shapes. */
  setInputs(inputs) {
    if (inputs.regionMasks === this.inputs.regionMasks && inputs.editableMask === this.inputs.editableMask) return;
    this.inputs = { ...inputs };
    this.refresh();
  }

  /**
   * A run's images for this node's edit: {edited: Image|null, states: [Image]} (or null).
   * Shown instead of the original on request; the drawing always refers to the original.
   */
  setResults(results) {
    this.results = results;
    if (!results?.edited && this.display === "edited") this.display = "original";
    if (!results?.states?.length && this.display === "state") this.display = "original";
    this.stateIndex = Math.min(this.stateIndex, Math.max(0, (results?.states?.length ?? 1) - 1));
    this.refresh();
  }

  /** The picture under the drawing: the original, or a result being looked at. */
  shownImage() {
    if (this.display === "edited" && this.results?.edited) return this.results.edited;
    if (this.display === "state" && this.results?.states?.[this.stateIndex]) return this.results.states[this.stateIndex];
    return this.image;
  }

  /** Toggle between the original and the edited image (O). */
  toggleResult() {
    if (!this.results?.edited) { this.message = "No result yet: run the graph to see the edited image here."; this.refresh(); return; }
    this.display = this.display === "original" ? "edited" : "original";
    this.refresh();
  }

  /** Show PBSI's intermediate state i (the states strip). */
  showState(i) {
    const n = this.results?.states?.length ?? 0;
    if (!n) return;
    this.stateIndex = Math.min(n - 1, Math.max(0, Math.round(i)));
    this.display = "state";
    this.refresh();
  }

  /** Drawing starts from the original: a result on show gives way to it. */
  backToOriginal() {
    if (this.display !== "original") { this.display = "original"; this.controls.update(); }
  }

  // ---- view (window mode) ------------------------------------------------------------

  zoomAt(p, factor) {
    const { view, fit } = this.layout();
    if (!view) return;
    this.userView = zoomAbout(view, p, factor, fit);
    this.refresh();
  }

  zoomBy(factor) {
    const { w, h } = this.layout();
    this.zoomAt([w / 2, h / 2], factor);
  }

  setView(view) { this.userView = view; this.refresh(); }

  fit() { this.userView = null; this.refresh(); }

  /** One image pixel per layout pixel, centred. */
  actualSize() {
    const { w, h } = this.layout();
    if (this.size) this.setView(centredAt(1, this.size.width, this.size.height, w, h));
  }

  // ---- commands ----------------------------------------------------------------------

  /** Record the current state as one undo step and hand it to the host. */
  commit() {
    const text = serialise(this.state);
    this.specError = null;
    if (this.history.push(text)) this.onChange(text);
    this.refresh();
  }

  /** Spec text typed in the JSON box: one undo step per typing session (group). */
  typeText(text, group) {
    if (!this.history.push(text, group)) return;
    this.applyText(text);
    this.onChange(text);
  }

  /** Drop a gesture in progress (a second finger came down): back to the last committed state. */
  abortGesture() {
    this.stroking = false;
    this.applyText(this.history.current);
  }

  /** Forget the steps made since a mark from history.steps (a double-click's clicks). */
  dropSince(mark, tool) {
    if (this.history.drop(this.history.steps - mark)) {
      this.applyText(this.history.current);
      this.onChange(this.history.current);
    }
    this.tool = tool;
    this.refresh();
  }

  openWindow() { this.onOpenWindow?.(); }
  close() { this.onClose?.(); }
  toggleJSON() { this.showJSON = !this.showJSON; this.refresh(); }

  undo() { this.travel(this.history.undo()); }
  redo() { this.travel(this.history.redo()); }
  travel(text) {
    if (text === null) return;
    this.applyText(text);
    this.onChange(text);
  }

  /** A new operation from its button or N: ready for its region to be drawn. */
  addOperation(type) {
    this.state.operations.push(newOperation(type));
    this.selected = this.state.operations.length - 1;
    this.layer = "region";
    if (!["brush", "eraser", "polygon", "rect"].includes(this.tool)) this.tool = "brush";
    this.commit();
  }

  /** The selected operation, creating a translate one if there is none. The tool stays:
   * a first click of the Handle tool places the handle and moves on to Target. The
   * gesture that asked for it commits, so the new operation and its first mark are one
   * undo step. */
  ensureOperation() {
    if (!this.state.operations[this.selected]) {
      this.state.operations.push(newOperation("translate"));
      this.selected = this.state.operations.length - 1;
      this.layer = "region"; // its region is what to draw next
    }
    return this.state.operations[this.selected];
  }

  select(i) {
    this.selected = i;
    this.refresh();
  }

  deleteOperation(i = this.selected) {
    if (i < 0 || i >= this.state.operations.length) return;
    this.state.operations.splice(i, 1);
    this.selected = Math.min(this.selected, this.state.operations.length - 1);
    this.commit();
  }

  switchType(i = this.selected) {
    const op = this.state.operations[i];
    if (!op) return;
    op.type = op.type === "rotate" ? "translate" : "rotate";
    this.selected = i;
    if (op.type === "rotate" && !op.center) this.tool = "center";
    this.commit();
  }

  clear() {
    this.state = emptyState();
    this.selected = -1;
    this.draft = null;
    this.commit();
  }

  setTool(id) {
    this.tool = id;
    this.draft = null;
    this.refresh();
  }

  toggleLayer() {
    this.layer = this.layer === "region" ? "editable" : "region";
    this.draft = null;
    this.refresh();
  }

  toggleErase() { this.eraseShapes = !this.eraseShapes; this.refresh(); }
  setBrushRadius(r) { this.brushRadius = Math.max(0.5, r); this.refresh(); }
  setEta(v) { this.eta = Math.min(1, Math.max(0, v)); this.refresh(); }

  // ---- keyboard ----------------------------------------------------------------------

  onKey(e) { handleKey(this, e); }

  finishPolygon() {
    const d = this.draft;
    if (!d || d.tool !== "polygon") return;
    this.draft = null;
    if (d.points.length >= 3) this.addShape({ tool: "polygon", mode: d.mode, points: d.points });
    else this.refresh();
  }

  // ---- layers and masks ----------------------------------------------------------------

  /** The shapes list drawing goes to, or null (with a message) when drawing is off there. */
  activeShapes() {
    if (this.layer === "editable") {
      if (this.inputs.editableMask) { this.message = "The editable_mask input is connected: it replaces the drawn editable area."; return null; }
      return this.state.editable;
    }
    if (this.inputs.regionMasks) { this.message = "The region_masks input is connected: it supplies the regions, drawing is off."; return null; }
    return this.ensureOperation().region;
  }

  addShape(shape) {
    const shapes = this.activeShapes();
    if (!shapes) { this.refresh(); return; }
    shapes.push(shape);
    this.commit();
  }

  layerKey() { return this.layer === "editable" ? "editable" : `op${this.selected}`; }

  // ---- status and drawing -------------------------------------------------------------

  refresh() {
    // masks come from the layers' cache: a point drag re-validates on every move
    this.problems = [...imageProblems(this.size),
      ...validate(this.state, this.size, this.inputs, (key, shapes) => this.masks.of(key, shapes)?.mask)];
    this.problemsByOp = {};
    for (const p of this.problems) (this.problemsByOp[p.op] ??= []).push(p);
    this.controls.update();
    this.redraw();
  }

  statusLines() {
    const lines = [];
    const tool = TOOLS.find((t) => t.id === this.tool);
    const layer = this.layer === "editable" ? "editable area" : `region of operation ${this.selected + 1 || 1}`;
    lines.push([tool.hint.replace("{op}", String(this.selected + 1 || 1)).replace("{layer}", layer), false]);
    if (this.imageNote) lines.push([this.imageNote, true]);
    if (this.inputs.regionMasks) lines.push(["Regions come from the region_masks input (one mask per operation, in order).", false]);
    if (this.inputs.editableMask) lines.push(["The editable area comes from the editable_mask input.", false]);
    if (this.specError) lines.push([this.specError, true]);
    if (this.message) { lines.push([this.message, true]); this.message = null; }
    const shown = this.problems.slice(0, 3).map((p) => [`${p.field}: ${p.message}`, true]);
    if (this.problems.length > 3) shown.push([`… and ${this.problems.length - 3} more`, true]);
    return [...lines, ...shown];
  }

  /** Layout size of the canvas and the image's fit in it. */
  layout() {
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    const fit = this.size && w && h ? fitView(this.size.width, this.size.height, w, h) : null;
    return { w, h, fit, view: fit && (this.userView ?? fit) };
  }

  redraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = null; this.paint(); });
  }

  paint() {
    const { w, h, view } = this.layout();
    if (!w || !h) return;
    // Backing store at device pixels times the host's zoom, so the picture stays sharp.
    const rect = this.canvas.getBoundingClientRect();
    const k = (window.devicePixelRatio || 1) * Math.max(rect.width / w, 0.1);
    const bw = Math.max(1, Math.round(w * k)), bh = Math.max(1, Math.round(h * k));
    if (this.canvas.width !== bw || this.canvas.height !== bh) { this.canvas.width = bw; this.canvas.height = bh; }
    const masks = this.state.operations.map((op, i) => {
      const c = this.inputs.regionMasks ? null : this.masks.of(`op${i}`, op.region);
      if (c && !this.stroking) this.masks.outline(`op${i}`);
      return c && { fill: c.canvas, edge: c.edge };
    });
    drawFrame({
      ctx: this.canvas.getContext("2d"), k: bw / w, view: view ?? { scale: 1, ox: 0, oy: 0 },
      image: this.shownImage(), size: this.size, state: this.state, selected: this.selected, layer: this.layer,
      eta: this.eta, masks, editableMask: this.masks.of("editable", this.state.editable)?.canvas ?? null,
      draft: this.draft, problems: this.problemsByOp, inputs: this.inputs, cursor: this.cursor,
      brushRadius: this.brushRadius, tool: this.tool,
    });
  }
}
