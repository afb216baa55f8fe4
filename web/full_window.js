// The full-window editing view: a second DragEditor in "window" mode over the whole page,
// on the node editor's own history, image, inputs and results, so undo runs across both
// and nothing is copied back but the tool settings. Host-agnostic (DOM only).

import { DragEditor } from "./editor.js";

// What carries over between the node's editor and the window, both ways.
const SETTINGS = ["tool", "layer", "eraseShapes", "brushRadius", "eta", "selected", "display", "stateIndex"];
const carry = (from, to) => { for (const k of SETTINGS) to[k] = from[k]; };

/**
 * Open the view for `nodeEditor`. onChange(text) receives every committed spec (the node's
 * widget is kept in step while the window is open) and the final one on close; onClosed()
 * runs after the view is gone. Returns {editor, close}.
 */
export function openFullWindow(nodeEditor, { onChange, onClosed = () => {} }) {
  const overlay = document.createElement("div");
  overlay.className = "dnx-overlay";
  overlay.setAttribute("role", "dialog");
  overlay.setAttribute("aria-label", "DragNeXt editor (full window)");
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    if (editor.draft?.tool === "polygon") editor.finishPolygon();
    carry(editor, nodeEditor);
    nodeEditor.covered = false;
    editor.dispose();
    overlay.remove();
    nodeEditor.applyText(editor.history.current);
    nodeEditor.focusKeys(); // the keyboard goes back to the node (its Ctrl+Z, not the graph's)
    onChange(editor.history.current);
    onClosed();
  };
  const editor = new DragEditor({ mode: "window", history: nodeEditor.history, onChange, onClose: close });
  editor.setInputs(nodeEditor.inputs);
  editor.setImage(nodeEditor.image, nodeEditor.imageNote);
  carry(nodeEditor, editor);
  editor.results = nodeEditor.results;
  editor.refresh();
  nodeEditor.covered = true; // it must not take the keyboard back while the window is open
  overlay.append(editor.root);
  // the page's own shortcuts (graph undo, queue, ...) must not act while the view is open
  overlay.addEventListener("keydown", (e) => e.stopPropagation());
  document.body.append(overlay);
  // after the click that opened it has finished (the node editor focuses itself on clicks)
  setTimeout(() => { if (open) editor.focusKeys(); }, 0);
  return { editor, close };
}
