// The canvas editor: state, history, commands, keyboard and drawing. Host-agnostic: it
// knows nothing of ComfyUI; the bridge (dragnext_editor.js) feeds it the image, the spec
// text and the MASK-input status, and receives each committed spec through onChange.

import { fitView } from "./geometry.js";
import { rasterise } from "./raster.js";
import { serialise, parse, validate, emptyState, newOperation } from "./spec.js";
import { History } from "./history.js";
import { drawFrame, maskCanvas, opColour, EDITABLE_COLOUR } from "./render.js";
import { buildControls, TOOLS } from "./toolbar.js";
import { attachPointer } from "./interactions.js";

export class DragEditor {
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this.state = emptyState();
    this.history = new History(serialise(this.state));
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
    this.cache = new Map(); // layer key -> {key, mask, canvas}
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
    this.root.addEventListener("click", (e) => { if (e.target.closest?.("button")) this.focusKeys(); });
    attachPointer(this);
    new ResizeObserver(() => this.redraw()).observe(this.controls.view);
    this.refresh();
  }

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
    this.image = image;
    this.size = image ? { width: image.naturalWidth, height: image.naturalHeight } : null;
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

  // ---- commands ----------------------------------------------------------------------

  /** Record the current state as one undo step and hand it to the host. */
  commit() {
    const text = serialise(this.state);
    this.specError = null;
    if (this.history.push(text)) this.onChange(text);
    this.refresh();
  }

  undo() { this.travel(this.history.undo()); }
  redo() { this.travel(this.history.redo()); }
  travel(text) {
    if (text === null) return;
    this.applyText(text);
    this.onChange(text);
  }

  addOperation(type) {
    this.state.operations.push(newOperation(type));
    this.selected = this.state.operations.length - 1;
    this.layer = "region";
    if (!["brush", "eraser", "polygon", "rect"].includes(this.tool)) this.tool = "brush";
    this.commit();
  }

  /** The selected operation, creating a translate one if there is none. */
  ensureOperation() {
    if (this.selected < 0) this.addOperation("translate");
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

  onKey(e) {
    if (e.target instanceof HTMLInputElement && e.target !== this.keys && e.target.type !== "range") return;
    const key = e.key.toLowerCase();
    const mod = e.ctrlKey || e.metaKey;
    let done = true;
    if (mod && key === "z") (e.shiftKey ? this.redo() : this.undo());
    else if (mod && key === "y") this.redo();
    else if (mod || e.altKey) done = false;
    else if (key === "n") this.addOperation(e.shiftKey ? "rotate" : "translate");
    else if (key === "m") this.switchType();
    else if (key === "l") this.toggleLayer();
    else if (key === "x") this.toggleErase();
    else if (key === "delete" || key === "backspace") this.deleteOperation();
    else if (key === "[") this.setBrushRadius(this.brushRadius / 1.25);
    else if (key === "]") this.setBrushRadius(this.brushRadius * 1.25);
    else if (key === "tab" && this.state.operations.length) {
      const n = this.state.operations.length;
      this.select((this.selected + (e.shiftKey ? n - 1 : 1)) % n);
    } else if (key === "escape") { this.draft = null; this.refresh(); }
    else if (key === "enter") this.finishPolygon();
    else {
      const tool = TOOLS.find((t) => t.key === key);
      if (tool) this.setTool(tool.id);
      else done = false;
    }
    // Handled keys stay in the editor: ComfyUI's own shortcuts (R refreshes, Ctrl+Z undoes
    // the graph) listen on window and must not also act on them.
    if (done) { e.preventDefault(); e.stopPropagation(); }
  }

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

  /** Rasterised mask and its tinted canvases (fill, edge) for a shapes list, recomputed only on change. */
  maskFor(key, shapes, colour) {
    if (!this.size || !shapes.length) return null;
    const sig = `${this.size.width}x${this.size.height}:${colour}:${JSON.stringify(shapes)}`;
    let c = this.cache.get(key);
    if (!c || c.sig !== sig) {
      const mask = rasterise(shapes, this.size.height, this.size.width);
      c = { sig, mask, canvas: maskCanvas(mask, colour, c?.canvas), edge: maskCanvas(mask, colour, c?.edge, true) };
      this.cache.set(key, c);
    }
    return c;
  }

  /** After painting straight onto a cached mask (a live brush stroke), re-tint its canvases. */
  touchMask(key, shapes, colour) {
    const c = this.cache.get(key);
    c.sig = `${this.size.width}x${this.size.height}:${colour}:${JSON.stringify(shapes)}`;
    maskCanvas(c.mask, colour, c.canvas);
    c.stale = true; // the outline is only needed for ghosts: rebuilt once the stroke ends
  }

  // ---- status and drawing -------------------------------------------------------------

  refresh() {
    // masks come from the drawing cache: a point drag re-validates on every move
    this.problems = validate(this.state, this.size, this.inputs, (key, shapes) =>
      this.maskFor(key, shapes, key === "editable" ? EDITABLE_COLOUR : opColour(Number(key.slice(2))))?.mask);
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
    return { w, h, view: this.size && w && h ? fitView(this.size.width, this.size.height, w, h) : null };
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
      const c = this.inputs.regionMasks ? null : this.maskFor(`op${i}`, op.region, opColour(i));
      if (c?.stale && !this.stroking) { maskCanvas(c.mask, opColour(i), c.edge, true); c.stale = false; }
      return c && { fill: c.canvas, edge: c.edge };
    });
    drawFrame({
      ctx: this.canvas.getContext("2d"), k: bw / w, view: view ?? { scale: 1, ox: 0, oy: 0 },
      image: this.image, size: this.size, state: this.state, selected: this.selected, layer: this.layer,
      eta: this.eta, masks, editableMask: this.maskFor("editable", this.state.editable, EDITABLE_COLOUR)?.canvas ?? null,
      draft: this.draft, problems: this.problemsByOp, inputs: this.inputs, cursor: this.cursor,
      brushRadius: this.brushRadius, tool: this.tool,
    });
  }
}
