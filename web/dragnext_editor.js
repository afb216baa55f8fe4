// ComfyUI bridge: puts a DragEditor on every DragNeXtSpec node and keeps it in step with
// the node's `spec` widget (saved with the workflow, sent with the prompt), the upstream
// image, the MASK inputs and the run's result images. Only the extension API that packs
// rely on is used: app.registerExtension, node.addDOMWidget, widgets (their `hidden` flag,
// and options.hidden for the Vue-node view), inputs/getInputNode, getOutputNodes,
// api.apiURL and api's `executed` event, and LiteGraph's emitBeforeChange/emitAfterChange
// around edits. The same code runs in the classic canvas and in Nodes 2.0 (Vue nodes).

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { DragEditor } from "./editor.js";
import { openFullWindow } from "./full_window.js";
import { outputsItsFile, parseImageValue, viewPath } from "./image_source.js";
import { resultNodes, resultRole } from "./results.js";

const NODE = "DragNeXtSpec";
const MIN_EDITOR_HEIGHT = 380;

/** A LoadImage-style value -> URL of the full-size file, under the host's sub-path if any. */
const viewURL = (value) => api.apiURL(viewPath(parseImageValue(value)));

function upstream(node, name) {
  const slot = node.inputs?.findIndex((i) => i.name === name) ?? -1;
  if (slot < 0 || node.inputs[slot].link == null) return null;
  let up = node.getInputNode(slot);
  // legacy Reroute nodes pass the image through
  for (let hops = 0; up && up.type === "Reroute" && hops < 32; hops++) up = up.getInputNode(0);
  return up ?? null;
}

const isConnected = (node, name) => node.inputs?.some((i) => i.name === name && i.link != null) ?? false;

/** Where the node's image comes from now: [url, note]. */
function imageSource(node, bridge) {
  const up = upstream(node, "image");
  if (!up) {
    if (bridge.preview) return [bridge.preview, null];
    return [null, "Connect an image (e.g. a Load Image node) to the image input."];
  }
  const file = up.widgets?.find((w) => w.name === "image" && typeof w.value === "string" && w.value);
  if (file && outputsItsFile(up.type)) return [viewURL(file.value), null];
  if (bridge.preview) return [bridge.preview, null];
  // another loader's own picture is its file, not necessarily what it outputs
  const shown = !file && up.imgs?.[0]?.src;
  if (shown) return [shown, null];
  return [null, `The image comes from "${up.title}": run the graph once to see it here.`];
}

/** The live graph as results.js reads it: {id: {type, outputs: {name: [ids]}}}. */
function graphOutline(graph) {
  const outline = {};
  for (const n of graph?.nodes ?? []) {
    const outputs = {};
    (n.outputs ?? []).forEach((o, slot) => { outputs[o.name] = (n.getOutputNodes?.(slot) ?? []).map((d) => String(d.id)); });
    outline[String(n.id)] = { type: n.type, outputs };
  }
  return outline;
}

function loadImage(url) {
  return new Promise((done, fail) => {
    const img = new Image();
    img.onload = () => done(img);
    img.onerror = () => fail(new Error(`could not load ${url}`));
    img.src = url;
  });
}

const outputURL = (img) => api.apiURL(viewPath({ filename: img.filename, subfolder: img.subfolder ?? "", type: img.type ?? "output" }));

class Bridge {
  constructor(node) {
    this.node = node;
    this.preview = null; // the node's own output image, after a run
    this.url = undefined;
    this.results = { edited: null, states: [] };
    this.window = null; // the open full-window view, if any
    this.spec = node.widgets?.find((w) => w.name === "spec");
    if (this.spec) {
      // The text stays the source of truth (saved, sent, editable) but is folded into the
      // editor's JSON toggle: hidden here in both views.
      this.spec.hidden = true;
      this.spec.options = { ...(this.spec.options ?? {}), hidden: true };
      // the classic canvas still lays hidden widgets out: no height for this one
      this.spec.computeSize = () => [0, -4];
    }
    this.editor = new DragEditor({ onChange: (text) => this.write(text), onOpenWindow: () => this.openWindow() });
    this.widget = node.addDOMWidget("drag_editor", "dragnext_editor", this.editor.root, {
      serialize: false, // the state lives in `spec`; this widget only shows it
      hideOnZoom: false,
      getValue: () => undefined,
      setValue: () => {},
      getMinHeight: () => MIN_EDITOR_HEIGHT,
      onDraw: () => this.sync(),
    });
    this.widget.serialize = false;
    // Draws are the usual trigger, but a value set by a script or another extension need
    // not redraw the graph: a slow poll catches those too (a few string compares).
    this.timer = setInterval(() => this.sync(), 1000);
    this.sync();
  }

  remove() {
    clearInterval(this.timer);
    this.window?.close();
    this.editor.dispose();
  }

  editors() { return this.window ? [this.editor, this.window.editor] : [this.editor]; }

  openWindow() {
    if (this.window) return;
    this.window = openFullWindow(this.editor, { onChange: (text) => this.write(text), onClosed: () => { this.window = null; } });
  }

  /** An `executed` message: keep the images that show this node's edit. */
  async executed(detail) {
    const role = resultRole(resultNodes(graphOutline(app.graph), this.node.id), detail?.display_node ?? detail?.node);
    const images = detail?.output?.images ?? [];
    if (!role || !images.length) return;
    const loaded = await Promise.all(images.map((i) => loadImage(outputURL(i))));
    if (role === "edited") this.results = { ...this.results, edited: loaded[0] };
    else this.results = { ...this.results, states: loaded };
    for (const ed of this.editors()) ed.setResults(this.results);
  }

  write(text) {
    if (!this.spec) return;
    // Bracketed like LiteGraph's own edits, so the host records the change at once (its
    // undo history, the unsaved-changes mark, the workflow it restores on reload): the
    // editor's pointer events never reach the graph canvas that would otherwise tell it.
    app.canvas?.emitBeforeChange?.();
    this.spec.value = text;
    app.canvas?.emitAfterChange?.();
    this.node.setDirtyCanvas?.(true, true);
    app.graph?.setDirtyCanvas?.(true, true);
  }

  /** Pull whatever changed outside the editor: the spec text, the image, the MASK inputs. */
  sync() {
    if (this.spec && !this.window) this.editor.setSpec(this.spec.value ?? "");
    const inputs = { regionMasks: isConnected(this.node, "region_masks"), editableMask: isConnected(this.node, "editable_mask") };
    for (const ed of this.editors()) ed.setInputs(inputs);
    const [url, note] = imageSource(this.node, this);
    if (url === this.url) return;
    this.url = url;
    if (!url) { for (const ed of this.editors()) ed.setImage(null, note); return; }
    const img = new Image();
    img.onload = () => { if (this.url === url) for (const ed of this.editors()) ed.setImage(img, null); };
    img.onerror = () => { if (this.url === url) for (const ed of this.editors()) ed.setImage(null, `Could not load the image (${url}).`); };
    img.src = url;
  }
}

function chain(proto, name, after) {
  const before = proto[name];
  proto[name] = function (...args) {
    const r = before?.apply(this, args);
    after.apply(this, args);
    return r;
  };
}

app.registerExtension({
  name: "DragNeXt.CanvasEditor",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE) return;
    chain(nodeType.prototype, "onNodeCreated", function () {
      this.dragnext = new Bridge(this);
      const [w, h] = this.size;
      this.setSize([Math.max(w, 460), Math.max(h, this.computeSize()[1], 700)]);
    });
    // A loaded workflow sets widget values after creation: show them at once.
    chain(nodeType.prototype, "onConfigure", function () { this.dragnext?.sync(); });
    chain(nodeType.prototype, "onRemoved", function () { this.dragnext?.remove(); });
    chain(nodeType.prototype, "onConnectionsChange", function () { this.dragnext?.sync(); });
    chain(nodeType.prototype, "onExecuted", function (output) {
      const img = output?.images?.[0];
      if (!img || !this.dragnext) return;
      this.dragnext.preview = outputURL(img);
      this.dragnext.sync();
    });
  },
  setup() {
    // One listener for all nodes: each DragNeXtSpec node keeps the images of its own edit.
    api.addEventListener("executed", ({ detail }) => {
      for (const node of app.graph?.nodes ?? []) {
        node.dragnext?.executed(detail).catch((e) => console.error("DragNeXt: result image", e));
      }
    });
  },
});
