// The editor's keyboard shortcuts: one key, one action, on the editor's own state.
import { TOOLS } from "./toolbar.js";

/** Handle a keydown on the editor `ed`; keys it acts on go no further. */
export function handleKey(ed, e) {
  if (e.target instanceof HTMLTextAreaElement) return; // typing JSON
  if (e.target instanceof HTMLInputElement && e.target !== ed.keys && e.target.type !== "range") return;
  const key = e.key.toLowerCase();
  const mod = e.ctrlKey || e.metaKey;
  const win = ed.mode === "window";
  let done = true;
  if (mod && key === "z") (e.shiftKey ? ed.redo() : ed.undo());
  else if (mod && key === "y") ed.redo();
  else if (mod || e.altKey) done = false;
  else if (key === " ") ed.panKey = true; // held: drag pans (released in keyup)
  else if (key === "o") ed.toggleResult();
  else if (!win && key === "f") ed.openWindow();
  else if (win && key === "f") ed.fit();
  else if (win && key === "1") ed.actualSize();
  else if (win && (key === "+" || key === "=")) ed.zoomBy(1.25);
  else if (win && (key === "-" || key === "_")) ed.zoomBy(0.8);
  else if (win && key === "escape" && !ed.draft) ed.close();
  else if (key === "n") ed.addOperation(e.shiftKey ? "rotate" : "translate");
  else if (key === "m") ed.switchType();
  else if (key === "l") ed.toggleLayer();
  else if (key === "x") ed.toggleErase();
  else if (key === "delete" || key === "backspace") ed.deleteOperation();
  else if (key === "[") ed.setBrushRadius(ed.brushRadius / 1.25);
  else if (key === "]") ed.setBrushRadius(ed.brushRadius * 1.25);
  else if (key === "tab" && ed.state.operations.length) {
    const n = ed.state.operations.length;
    ed.select((ed.selected + (e.shiftKey ? n - 1 : 1)) % n);
  } else if (key === "escape") { ed.draft = null; ed.refresh(); }
  else if (key === "enter") ed.finishPolygon();
  else {
    const tool = TOOLS.find((t) => t.key === key);
    if (tool) ed.setTool(tool.id);
    else done = false;
  }
  // Handled keys stay in the editor: ComfyUI's own shortcuts (R refreshes, Ctrl+Z undoes
  // the graph) listen on window and must not also act on them.
  if (done) { e.preventDefault(); e.stopPropagation(); }
}
