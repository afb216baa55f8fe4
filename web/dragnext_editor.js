// ComfyUI bridge: puts a DragEditor on every DragNeXtSpec node and keeps it in step with
// the node's `spec` widget (saved with the workflow, sent with the prompt), the upstream
// image and the MASK inputs. Only the public extension API is used: app.registerExtension,
// node.addDOMWidget, widgets, inputs/getInputNode, api.apiURL.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { DragEditor } from "./editor.js";

const NODE = "DragNeXtSpec";
const MIN_EDITOR_HEIGHT = 380;

/** "sub/dir/name.png [output]" (a LoadImage value) -> /view URL of the full-size file. */
export function viewURL(value) {
  const m = /^(.*?)(?: \[(input|output|temp)\])?$/.exec(value.trim());
  const path = m[1];
  const cut = path.lastIndexOf("/");
  const params = new URLSearchParams({
    filename: cut < 0 ? path : path.slice(cut + 1),
    type: m[2] ?? "input",
    subfolder: cut < 0 ? "" : path.slice(0, cut),
  });
  // No preview-format parameter: a re-encoded preview may be resized, and the editor's
  // pixels must be the image's pixels.
  return api.apiURL(`/view?${params}`);
}

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
  if (file) return [viewURL(file.value), null];
  if (bridge.preview) return [bridge.preview, null];
  const shown = up.imgs?.[0]?.src;
  if (shown) return [shown, null];
  return [null, `The image comes from "${up.title}": run the graph once to see it here.`];
}

class Bridge {
  constructor(node) {
    this.node = node;
    this.preview = null; // the node's own output image, after a run
    this.url = undefined;
    this.spec = node.widgets?.find((w) => w.name === "spec");
    this.editor = new DragEditor({ onChange: (text) => this.write(text) });
    this.widget = node.addDOMWidget("drag_editor", "dragnext_editor", this.editor.root, {
      serialize: false, // the state lives in `spec`; this widget only shows it
      hideOnZoom: false,
      getValue: () => undefined,
      setValue: () => {},
      getMinHeight: () => MIN_EDITOR_HEIGHT,
      onDraw: () => this.sync(),
    });
    this.widget.serialize = false;
    this.sync();
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
    if (this.spec) this.editor.setSpec(this.spec.value ?? "");
    this.editor.setInputs({ regionMasks: isConnected(this.node, "region_masks"), editableMask: isConnected(this.node, "editable_mask") });
    const [url, note] = imageSource(this.node, this);
    if (url === this.url) return;
    this.url = url;
    if (!url) { this.editor.setImage(null, note); return; }
    const img = new Image();
    img.onload = () => { if (this.url === url) this.editor.setImage(img, null); };
    img.onerror = () => { if (this.url === url) this.editor.setImage(null, `Could not load the image (${url}).`); };
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
    chain(nodeType.prototype, "onConnectionsChange", function () { this.dragnext?.sync(); });
    chain(nodeType.prototype, "onExecuted", function (output) {
      const img = output?.images?.[0];
      if (!img || !this.dragnext) return;
      const sub = img.subfolder ? `${img.subfolder}/` : "";
      this.dragnext.preview = viewURL(`${sub}${img.filename} [${img.type ?? "output"}]`);
      this.dragnext.sync();
    });
  },
});
