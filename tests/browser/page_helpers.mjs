// In-page helpers for driving the editor on a DragNeXtSpec node with real mouse events.
// Screen positions are computed here independently of the editor's own mapping (element
// rectangle + centred fit), so a mapping bug cannot cancel itself out.

/** Id of the first DragNeXtSpec node in the graph. */
export async function specNodeId(page) {
  const id = await page.evaluate(() => window.app.graph.nodes.find((n) => n.type === "DragNeXtSpec")?.id);
  if (id == null) throw new Error("no DragNeXtSpec node in the graph");
  return id;
}

/** Bring the node to the view's top-left at a given canvas zoom, and wait for a repaint. */
export async function showNode(page, id, scale = 1) {
  await page.evaluate(([id, scale]) => {
    const app = window.app;
    const node = app.graph.getNodeById(id);
    const ds = app.canvas.ds;
    ds.scale = scale;
    ds.offset = [-node.pos[0] + 80 / scale, -node.pos[1] + 60 / scale];
    app.canvas.setDirty(true, true);
  }, [id, scale]);
  await settle(page);
}

/** Let the graph canvas draw (DOM widgets are positioned on draw) and the editor repaint. */
export async function settle(page, frames = 6) {
  await page.evaluate((n) => new Promise((done) => {
    const step = (k) => (k ? requestAnimationFrame(() => { window.app.canvas.draw(true, true); step(k - 1); }) : done());
    step(n);
  }), frames);
}

/** The node's `spec` widget value, parsed. */
export async function specOf(page, id) {
  const text = await page.evaluate((id) => window.app.graph.getNodeById(id).widgets.find((w) => w.name === "spec").value, id);
  return { text, spec: JSON.parse(text) };
}

/** Wait until the editor has its image; returns {width, height}. */
export async function waitImage(page, id) {
  await page.waitForFunction((id) => window.app.graph.getNodeById(id)?.dragnext?.editor?.size, id, { timeout: 30000 });
  return page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.editor.size, id);
}

/** Client (CSS pixel) position of image point p on the node's editor canvas. */
export async function screenOf(page, id, p) {
  return page.evaluate(([id, [x, y]]) => {
    const ed = window.app.graph.getNodeById(id).dragnext.editor;
    const c = ed.canvas;
    const r = c.getBoundingClientRect();
    const img = ed.image;
    // the picture is fitted whole and centred in the canvas' layout box, which the host
    // then scales on screen: compute in screen units directly
    const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    const ox = (r.width - img.naturalWidth * s) / 2, oy = (r.height - img.naturalHeight * s) / 2;
    return [r.left + ox + x * s, r.top + oy + y * s, s];
  }, [id, p]);
}

/** Locator of an element inside the node's editor, by CSS selector. */
export async function editorSelector(page, id, selector) {
  await page.evaluate((id) => { window.app.graph.getNodeById(id).dragnext.editor.root.dataset.testNode = String(id); }, id);
  return page.locator(`[data-test-node="${id}"] ${selector}`);
}

/** Press-move-release through image points, with real mouse events. */
export async function dragPath(page, id, points, steps = 4) {
  const first = await screenOf(page, id, points[0]);
  await page.mouse.move(first[0], first[1]);
  await page.mouse.down();
  for (const p of points.slice(1)) {
    const [x, y] = await screenOf(page, id, p);
    await page.mouse.move(x, y, { steps });
  }
  await page.mouse.up();
}

/** Fingers on the editor through the DevTools protocol, each [from, to]: they go down in
 * turn, all move to their `to`, then all lift. */
export async function fingers(page, id, ...paths) {
  const cdp = await page.context().newCDPSession(page);
  const at = async (p, n) => { const [x, y] = await screenOf(page, id, p); return { x, y, id: n }; };
  const touch = (type, touchPoints) => cdp.send("Input.dispatchTouchEvent", { type, touchPoints });
  const down = [];
  for (const [n, [from]] of paths.entries()) {
    down.push(await at(from, n));
    await touch("touchStart", [...down]);
  }
  const moved = [];
  for (const [n, [, to]] of paths.entries()) moved.push(await at(to, n));
  await touch("touchMove", moved);
  await touch("touchEnd", []);
  await cdp.detach();
}

export async function clickAt(page, id, p) {
  const [x, y] = await screenOf(page, id, p);
  await page.mouse.click(x, y);
}

/** Pan the graph canvas so that image point p of the editor is at the viewport's centre. */
export async function centreOn(page, id, p) {
  const [x, y] = await screenOf(page, id, p);
  await page.evaluate(([dx, dy]) => {
    const ds = window.app.canvas.ds;
    ds.offset = [ds.offset[0] + dx / ds.scale, ds.offset[1] + dy / ds.scale];
    window.app.canvas.setDirty(true, true);
  }, [window_centre.x - x, window_centre.y - y]);
  await settle(page);
}
const window_centre = { x: 700, y: 450 };

/**
 * Set widgets by node type and widget name, e.g. {"DragNeXtPBSI": {"iterations": 3}}, on
 * every node of that type; throws if a named widget is missing (a renamed input).
 */
export async function setWidgets(page, values) {
  const missing = await page.evaluate((values) => {
    const missing = [];
    for (const [type, widgets] of Object.entries(values)) {
      for (const node of window.app.graph.nodes.filter((n) => n.type === type)) {
        for (const [name, value] of Object.entries(widgets)) {
          const w = node.widgets?.find((x) => x.name === name);
          if (w) w.value = value;
          else missing.push(`${type}.${name}`);
        }
      }
    }
    window.app.graph.setDirtyCanvas(true, true);
    return missing;
  }, values);
  if (missing.length) throw new Error(`no such widgets: ${missing.join(", ")}`);
}

/** Value of a `--name value` command-line option, or null. */
export function option(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? null : process.argv[i + 1];
}

/** Switch the frontend between the classic canvas and Nodes 2.0 (Vue nodes), and wait for it. */
export async function setVueNodes(page, on) {
  await page.evaluate(async (on) => { await window.app.extensionManager.setting.set("Comfy.VueNodes.Enabled", on); }, on);
  await page.waitForFunction((on) => (document.querySelectorAll("[data-node-id]").length > 0) === on, on, { timeout: 30000 });
  await settle(page);
}

/** The full-window editor of the node, if open (in-page handle). */
export const windowOpen = (page, id) => page.evaluate((id) => !!window.app.graph.getNodeById(id).dragnext.window
  && document.querySelectorAll(".dnx-overlay").length === 1, id);

/**
 * The full-window canvas' on-screen rectangle and the scale of its fitted view, computed
 * here (the picture fitted whole and centred), not read from the editor.
 */
export async function windowFit(page, id) {
  return page.evaluate((id) => {
    const ed = window.app.graph.getNodeById(id).dragnext.window.editor;
    const r = ed.canvas.getBoundingClientRect();
    const { naturalWidth: W, naturalHeight: H } = ed.image;
    const s = Math.min(r.width / W, r.height / H);
    return { left: r.left + (r.width - W * s) / 2, top: r.top + (r.height - H * s) / 2, scale: s };
  }, id);
}

/** On-screen pixels per image pixel in the window now (after zooming), from the editor's view. */
export const windowScale = (page, id) => page.evaluate((id) => {
  const ed = window.app.graph.getNodeById(id).dragnext.window.editor;
  return ed.layout().view.scale * (ed.canvas.getBoundingClientRect().width / ed.canvas.clientWidth);
}, id);
