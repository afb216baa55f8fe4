// End-to-end test of the canvas editor in the real ComfyUI frontend (headless Chromium).
// Usage: node tests/browser/editor_e2e.mjs URL WORKFLOW.json ARTIFACTS_DIR [--queue]
//        [--quick JSON] [--second-image NAME]
// In the classic canvas and again in Nodes 2.0 (Vue nodes): draws regions and points with
// real mouse events, checks the `spec` widget's JSON, checks clicks land on the same image
// pixel after resizing the node and zooming the canvas, edits in the full-window view
// (opened by double-click, zoomed with the wheel at two levels, panned, closed with Done),
// saves the workflow, reloads the page and checks the drawing is back. With --queue it
// queues the graph through the Run button and, once the run's images arrive, toggles the
// node between the original and the edited image and scrubs PBSI's states. Prints
// `RESULT {json}` for the pytest side.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { launch, openApp, loadWorkflow, assert } from "./lib.mjs";
import { specNodeId, showNode, settle, specOf, waitImage, screenOf, editorSelector, dragPath, clickAt, fingers, centreOn, setWidgets, option,
  setVueNodes, windowOpen, windowFit, windowScale } from "./page_helpers.mjs";

const [url, workflowPath, artifacts] = process.argv.slice(2);
const queue = process.argv.includes("--queue");
// --second-image NAME: an image of another size in the input folder, to check the editor
// follows its upstream Load Image node.
const second = option("--second-image");
// --quick JSON: widget values ({NodeType: {widget: value}}) that make the queued run short.
const quick = JSON.parse(option("--quick") ?? "{}");
mkdirSync(artifacts, { recursive: true });
const near = (p, q, tol, what) => assert(Math.abs(p[0] - q[0]) <= tol && Math.abs(p[1] - q[1]) <= tol, `${what}: ${JSON.stringify(p)} is not ${JSON.stringify(q)} (±${tol})`);
const samePixel = (p, q, what) => assert(Math.floor(p[0]) === Math.floor(q[0]) && Math.floor(p[1]) === Math.floor(q[1]), `${what}: ${JSON.stringify(p)} is not in the pixel of ${JSON.stringify(q)}`);
const log = (...a) => console.log("[e2e]", ...a);

const { page, errors, close } = await launch({ deviceScaleFactor: 2 });
const RESULT_TIMEOUT = 1200000; // ms for the queued run's images (a CPU run of the quick graph)
try {
  await openApp(page, url);
  await setVueNodes(page, false);
  await loadWorkflow(page, JSON.parse(readFileSync(workflowPath, "utf8")));
  const id = await specNodeId(page);
  await showNode(page, id, 1);
  const size = await waitImage(page, id);
  log("image", size);
  const button = (sel) => editorSelector(page, id, sel);
  const problems = () => page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.editor.problems, id);
  const W = size.width, H = size.height;
  const P = (fx, fy) => [Math.round(fx * W * 4) / 4, Math.round(fy * H * 4) / 4];
  const editorRect = () => page.evaluate((id) => {
    const r = window.app.graph.getNodeById(id).dragnext.editor.root.getBoundingClientRect();
    return { x: r.left, y: r.top, width: r.width, height: r.height };
  }, id);

  // The spec text is folded behind the JSON toggle, and typing there edits the spec.
  const jsonBox = await button("textarea.dnx-json");
  assert(!(await jsonBox.isVisible()), "the JSON text is folded away by default");
  await (await button("[data-action=json]")).click();
  assert(await jsonBox.isVisible(), "the JSON toggle shows the text");
  const typed = JSON.stringify({ version: 1, operations: [{ type: "translate", handle: [5, 5], target: [9, 9], region: [{ tool: "rect", mode: "add", points: [[0, 0], [20, 20]] }] }] });
  await jsonBox.fill(typed);
  assert((await specOf(page, id)).text === typed, "typed JSON is the spec");
  assert(await page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.editor.state.operations[0].target[0], id) === 9, "the editor shows typed JSON");
  await (await button("[data-action=json]")).click();
  assert(!(await jsonBox.isVisible()), "folded again");

  async function drawScenario(view) {
    // Start from nothing, through the UI.
    await (await button("[data-action=clear]")).click();
    assert((await specOf(page, id)).spec.operations.length === 0, "Clear empties the spec");
    // Points before any operation: the first Handle click makes one and moves on to Target.
    await page.keyboard.press("h");
    await clickAt(page, id, P(0.3, 0.3));
    await clickAt(page, id, P(0.6, 0.5));
    const pointsFirst = (await specOf(page, id)).spec.operations;
    assert(pointsFirst.length === 1 && pointsFirst[0].region.length === 0, `one operation, no region: ${JSON.stringify(pointsFirst)}`);
    near(pointsFirst[0].handle, P(0.3, 0.3), 0.3, "handle placed with no operation");
    near(pointsFirst[0].target, P(0.6, 0.5), 0.3, "the next click places the target");
    await page.keyboard.press("Control+z");
    await page.keyboard.press("Control+z");
    assert((await specOf(page, id)).spec.operations.length === 0, "two undos: the new operation went with its handle");
    await (await button("[data-action=add-translate]")).click();

    // A region from every tool: brush, lasso, rectangle, then an eraser stroke.
    await page.keyboard.press("b");
    await dragPath(page, id, [P(0.15, 0.2), P(0.3, 0.25), P(0.35, 0.3)]);
    await page.keyboard.press("p");
    await dragPath(page, id, [P(0.4, 0.15), P(0.55, 0.12), P(0.6, 0.3), P(0.5, 0.25), P(0.42, 0.35)], 3);
    await page.keyboard.press("r");
    await dragPath(page, id, [P(0.12, 0.4), P(0.3, 0.6)]);
    await page.keyboard.press("e");
    await dragPath(page, id, [P(0.1, 0.5), P(0.35, 0.5)]);
    let { spec } = await specOf(page, id);
    const region = spec.operations[0].region;
    assert(JSON.stringify(region.map((s) => [s.tool, s.mode])) === JSON.stringify([["brush", "add"], ["polygon", "add"], ["rect", "add"], ["brush", "erase"]]),
      `region shapes in drawing order: ${JSON.stringify(region.map((s) => [s.tool, s.mode]))}`);
    near(region[2].points[0], P(0.12, 0.4), 0.5, "rectangle corner");
    near(region[2].points[1], P(0.3, 0.6), 0.5, "rectangle corner");
    assert(region[1].points.length >= 5, "lasso keeps the path");

    // The editable area is a layer of its own, with the same tools.
    await page.keyboard.press("l");
    await page.keyboard.press("r");
    await dragPath(page, id, [P(0.02, 0.02), P(0.98, 0.98)]);
    await page.keyboard.press("l");
    ({ spec } = await specOf(page, id));
    assert(spec.editable?.length === 1 && spec.editable[0].tool === "rect" && spec.operations[0].region.length === 4, "editable area drawn on its own layer");

    // Handle, then target (the editor moves on to the target tool by itself).
    const handle = P(0.25, 0.23), target = P(0.7, 0.6);
    await page.keyboard.press("h");
    await clickAt(page, id, handle);
    await clickAt(page, id, target);
    ({ spec } = await specOf(page, id));
    near(spec.operations[0].handle, handle, 0.3, "handle");
    near(spec.operations[0].target, target, 0.3, "target");
    assert(spec.version === 1 && spec.operations[0].type === "translate", "a version 1 translate");
    assert((await problems()).length === 0, `valid translate: ${JSON.stringify(await problems())}`);

    // Switch the operation to rotate; the editor asks for the centre.
    await (await button("[data-action=switch-type]")).click();
    const center = P(0.2, 0.85);
    await clickAt(page, id, center);
    ({ spec } = await specOf(page, id));
    assert(spec.operations[0].type === "rotate", "switched to rotate");
    near(spec.operations[0].center, center, 0.3, "centre");
    assert((await problems()).length === 0, `valid rotate: ${JSON.stringify(await problems())}`);

    // An invalid state shows before queueing; undo and redo walk through it.
    await page.keyboard.press("h");
    await clickAt(page, id, P(0.9, 0.1));
    const bad = await problems();
    assert(bad.some((p) => p.field === "operations[0].handle" && /outside its region/.test(p.message)), `handle outside region is reported: ${JSON.stringify(bad)}`);
    assert(await (await button(".dnx-chip.dnx-bad")).count() === 1, "the operation is marked invalid");
    assert(/outside its region/.test(await (await button(".dnx-status")).innerText()), "the status says why");
    await page.keyboard.press("Control+z");
    near((await specOf(page, id)).spec.operations[0].handle, handle, 0.3, "undo restores the handle");
    await page.keyboard.press("Control+Shift+z");
    near((await specOf(page, id)).spec.operations[0].handle, P(0.9, 0.1), 0.3, "redo");
    await page.keyboard.press("Control+z");
    assert((await problems()).length === 0, "valid again after undo");

    // The progress slider scrubs the preview between the start (0) and the target pose (1).
    await (await button("input[data-action=progress]")).fill("0.5");
    assert((await page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.editor.eta, id)) === 0.5, "progress slider");
    await (await button("input[data-action=progress]")).fill("1");

    // A connected region_masks input replaces the drawn regions: the editor says so, stops
    // drawing regions, and no longer asks for one.
    await (await button("[data-action=add-translate]")).click();
    const linked = await page.evaluate((id) => {
      const spec = window.app.graph.getNodeById(id);
      const load = spec.getInputNode(spec.inputs.findIndex((i) => i.name === "image"));
      load.connect(load.outputs.findIndex((o) => o.type === "MASK"), spec, spec.inputs.findIndex((i) => i.name === "region_masks"));
      return spec.inputs.find((i) => i.name === "region_masks").link != null;
    }, id);
    assert(linked, "region_masks linked from the Load Image mask");
    await settle(page);
    assert(/region_masks input/.test(await (await button(".dnx-status")).innerText()), "the editor says the regions come from the input");
    await page.keyboard.press("b");
    await dragPath(page, id, [P(0.8, 0.8), P(0.9, 0.9)]);
    assert((await specOf(page, id)).spec.operations[1].region.length === 0, "no drawing on regions while the input is connected");
    assert(!(await problems()).some((p) => p.field.endsWith(".region")), "no empty-region complaint with region_masks connected");
    await page.evaluate((id) => {
      const spec = window.app.graph.getNodeById(id);
      spec.disconnectInput(spec.inputs.findIndex((i) => i.name === "region_masks"));
    }, id);
    await settle(page);
    await (await button("[data-op='1'] [data-action=delete]")).click();
    assert((await specOf(page, id)).spec.operations.length === 1, "deleted the second operation");
    await (await button("[data-op='0'] button")).first().click();

    // Move the target by dragging it with the Move tool.
    await page.keyboard.press("v");
    const target2 = P(0.75, 0.45);
    await dragPath(page, id, [target, target2]);
    near((await specOf(page, id)).spec.operations[0].target, target2, 0.3, "dragged target");

    if (view === "classic") {
      // One finger draws a stroke; two fingers in the node draw nothing (not two strokes).
      // (Not in Vue nodes, where the second finger would drag the node away.)
      const before = (await specOf(page, id)).text;
      await page.keyboard.press("b");
      await fingers(page, id, [P(0.2, 0.75), P(0.3, 0.85)]);
      const stroke = (await specOf(page, id)).spec.operations[0].region.at(-1);
      assert(stroke.tool === "brush" && stroke.points.length > 1, `one finger draws a stroke: ${JSON.stringify(stroke)}`);
      await page.keyboard.press("Control+z");
      assert((await specOf(page, id)).text === before, "undo takes the stroke back");
      await fingers(page, id, [P(0.2, 0.75), P(0.3, 0.85)], [P(0.6, 0.75), P(0.7, 0.85)]);
      await settle(page);
      assert((await specOf(page, id)).text === before, "a two-finger gesture draws nothing in the node");

      // A polygon placed click by click keeps its corners when a second finger comes down.
      const editorState = () => page.evaluate((id) => {
        const e = window.app.graph.getNodeById(id).dragnext.editor;
        return { corners: e.draft?.points.length ?? 0, selected: e.selected, operations: e.state.operations.length };
      }, id);
      await page.keyboard.press("p");
      await clickAt(page, id, P(0.2, 0.7));
      await clickAt(page, id, P(0.3, 0.7));
      assert((await editorState()).corners === 2, "two corners placed");
      await fingers(page, id, [P(0.3, 0.8), P(0.35, 0.85)], [P(0.6, 0.8), P(0.65, 0.85)]);
      assert((await editorState()).corners === 2, `a second finger keeps the polygon's corners: ${JSON.stringify(await editorState())}`);
      await page.keyboard.press("Escape");
      assert((await specOf(page, id)).text === before, "the polygon given up draws nothing");

      // An undo while placing a new operation's handle takes the operation back, and the
      // selection stays on an operation that exists.
      await (await button("[data-action=add-translate]")).click();
      await page.keyboard.press("h");
      const [hx, hy] = await screenOf(page, id, P(0.4, 0.4));
      await page.mouse.move(hx, hy);
      await page.mouse.down();
      await page.keyboard.press("Control+z");
      await page.mouse.up();
      const after = await editorState();
      assert((await specOf(page, id)).text === before, "the undo took the new operation back");
      assert(after.selected >= 0 && after.selected < after.operations, `the selection is an operation: ${JSON.stringify(after)}`);
      await page.keyboard.press("v");
    }

    // Resize the node and zoom the canvas: a click still lands on the same image pixel.
    for (const [nodeSize, zoom] of [[[760, 1000], 1.6], [[520, 760], 0.8]]) {
      await page.evaluate(([id, s]) => window.app.graph.getNodeById(id).setSize(s), [id, nodeSize]);
      await showNode(page, id, zoom);
      const aim = [Math.floor(0.8 * W) + 0.5, Math.floor(0.4 * H) + 0.5];
      await centreOn(page, id, aim);
      const [, , screenScale] = await screenOf(page, id, [0, 0]);
      await page.keyboard.press("t");
      await clickAt(page, id, aim);
      const got = (await specOf(page, id)).spec.operations[0].target;
      samePixel(got, aim, `click at zoom ${zoom}, node ${nodeSize}`);
      near(got, aim, 0.5 / screenScale + 0.01, `click at zoom ${zoom}`);
      log("zoom", zoom, "screen px per image px", screenScale.toFixed(3), "target", got);
    }
  }

  // The full-window view: open by double-click, draw, zoom about a point at two levels and
  // click known pixels, pan, undo, close with Done: the spec is written into the node.
  async function fullWindowScenario(view) {
    await showNode(page, id, 1);
    const opened = (await specOf(page, id)).text;
    await page.keyboard.press("b");
    const [dx, dy] = await screenOf(page, id, P(0.6, 0.8));
    await page.mouse.dblclick(dx, dy);
    await page.waitForFunction((id) => !!window.app.graph.getNodeById(id).dragnext.window, id, { timeout: 10000 });
    assert(await windowOpen(page, id), `${view}: double-click opens the full window`);
    assert((await specOf(page, id)).text === opened, `${view}: the double-click's own clicks drew nothing`);
    await page.waitForTimeout(200);
    const fit = await windowFit(page, id);
    assert(fit.scale > 2, `${view}: the window shows the picture large (${fit.scale.toFixed(2)} screen px per image px)`);
    const at = (p, base, s) => [base[0] + (p[0] - base[2][0]) * s, base[1] + (p[1] - base[2][1]) * s];
    const fitBase = [fit.left, fit.top, [0, 0]];
    const regionShapes = async () => (await specOf(page, id)).spec.operations[0].region.length;
    const shapes0 = await regionShapes();
    await page.keyboard.press("b");
    const s0 = at(P(0.2, 0.3), fitBase, fit.scale), s1 = at(P(0.3, 0.32), fitBase, fit.scale);
    await page.mouse.move(...s0);
    await page.mouse.down();
    await page.mouse.move(...s1, { steps: 5 });
    await page.mouse.up();
    assert(await regionShapes() === shapes0 + 1, `${view}: a brush stroke in the window adds to the region`);

    // Zoom with the wheel about an anchor pixel: the anchor stays under the pointer, so a
    // known pixel near it is at anchor + offset * (on-screen scale).
    // (pointer positions are whole CSS pixels: the anchor is the image point under one)
    const anchorScreen = at(P(0.3, 0.35), fitBase, fit.scale).map(Math.round);
    const anchor = [(anchorScreen[0] - fit.left) / fit.scale, (anchorScreen[1] - fit.top) / fit.scale];
    const centreOf = (d) => [Math.floor(anchor[0]) + d[0] + 0.5, Math.floor(anchor[1]) + d[1] + 0.5];
    await page.keyboard.press("t");
    const zooms = [], targets = [];
    for (const [wheel, pixel] of [[-300, [3, -2]], [-700, [-4, 5]]]) {
      await page.mouse.move(...anchorScreen);
      await page.mouse.wheel(0, wheel);
      await page.waitForTimeout(150);
      const s = await windowScale(page, id);
      zooms.push(s);
      const known = centreOf(pixel);
      await page.mouse.click(...at(known, [anchorScreen[0], anchorScreen[1], anchor], s));
      const got = (await specOf(page, id)).spec.operations[0].target;
      targets.push(got);
      samePixel(got, known, `${view}: click at window zoom ${s.toFixed(2)}`);
      near(got, known, 0.5 / s + 0.01, `${view}: click at window zoom ${s.toFixed(2)}`);
      log(view, "window zoom: screen px per image px", s.toFixed(3), "target", got);
    }
    assert(zooms[0] > fit.scale * 1.1 && zooms[1] > zooms[0] * 1.3, `${view}: the wheel zooms in: ${fit.scale} -> ${zooms}`);
    const afterZoom = (await specOf(page, id)).spec.operations[0].target;

    // Space + drag pans by screen pixels; a click then lands accordingly.
    await page.mouse.move(...anchorScreen);
    await page.keyboard.down("Space");
    await page.mouse.down();
    await page.mouse.move(anchorScreen[0] + 60, anchorScreen[1] + 40, { steps: 4 });
    await page.mouse.up();
    await page.keyboard.up("Space");
    assert(JSON.stringify((await specOf(page, id)).spec.operations[0].target) === JSON.stringify(afterZoom), `${view}: panning draws nothing`);
    const panned = [anchorScreen[0] + 60, anchorScreen[1] + 40, anchor];
    const known = centreOf([2, 2]);
    await page.mouse.click(...at(known, panned, zooms[1]));
    samePixel((await specOf(page, id)).spec.operations[0].target, known, `${view}: click after panning`);
    await page.keyboard.press("Control+z");
    near((await specOf(page, id)).spec.operations[0].target, afterZoom, 0.01, `${view}: undo in the window`);
    assert(/Wheel/.test(await page.locator(".dnx-overlay .dnx-help").innerText()), `${view}: the shortcuts are listed`);
    await page.screenshot({ path: `${artifacts}/editor_window_${view}.png` });

    const last = await page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.window.editor.history.current, id);
    await page.locator(".dnx-overlay [data-action=close]").click();
    await page.waitForFunction(() => document.querySelectorAll(".dnx-overlay").length === 0, null, { timeout: 5000 });
    assert((await specOf(page, id)).text === last, `${view}: Done writes the spec into the node`);
    near((await specOf(page, id)).spec.operations[0].target, afterZoom, 0.01, `${view}: the node has the window's target`);
    await page.keyboard.press("Control+z");
    near((await specOf(page, id)).spec.operations[0].target, targets[0], 0.01, `${view}: the node's undo continues the window's history`);
    await page.keyboard.press("Control+Shift+z");
    near((await specOf(page, id)).spec.operations[0].target, afterZoom, 0.01, `${view}: and its redo`);
  }

  // Save the workflow, reload the page: the drawing is back.
  async function reloadScenario(view, before) {
    const saved = await page.evaluate(() => JSON.stringify(window.app.graph.serialize()));
    writeFileSync(`${artifacts}/saved_workflow_${view}.json`, saved);
    const shown = async () => page.evaluate((id) => {
      const ed = window.app.graph.getNodeById(id)?.dragnext?.editor;
      return ed && { spec: ed.history.current, ops: ed.root.querySelectorAll(".dnx-chip").length, masks: [...ed.masks.layers.keys()], connected: ed.root.isConnected };
    }, id);
    const check = async (what) => {
      const after = await specOf(page, id);
      assert(after.text === before.text, `${view} ${what}: spec widget restored: ${after.text.slice(0, 200)}`);
      await showNode(page, id, 1);
      await waitImage(page, id);
      await settle(page);
      const s = await shown();
      assert(s && s.spec === before.text && s.ops === before.spec.operations.length && s.masks.includes("op0") && s.connected,
        `${view} ${what}: editor shows the drawing: ${JSON.stringify(s)}`);
    };
    await page.reload();
    await openApp(page, url);
    await page.waitForFunction((id) => window.app.graph.getNodeById(id)?.dragnext, id, { timeout: 30000 });
    await check("after reload");
    await page.evaluate(() => window.app.graph.clear());
    await loadWorkflow(page, JSON.parse(saved));
    await check("after opening the saved workflow");
    return saved;
  }

  // ---- the classic canvas -----------------------------------------------------------
  await drawScenario("classic");
  await showNode(page, id, 1);
  assert((await problems()).length === 0, "still valid");
  await page.screenshot({ path: `${artifacts}/editor.png`, clip: await editorRect() });
  await fullWindowScenario("classic");
  const before = await specOf(page, id);
  const saved = await reloadScenario("classic", before);
  await page.screenshot({ path: `${artifacts}/editor_reloaded.png`, clip: await editorRect() });

  // ---- Nodes 2.0 (Vue nodes) ----------------------------------------------------------
  await setVueNodes(page, true);
  // Vue nodes stack as DOM by z-order: after the classic run's resizes the node would lie
  // under its neighbours; move it clear of them first, as a user would.
  const clear = JSON.parse(saved);
  clear.nodes.find((n) => n.id === id).pos = [-900, 360];
  await loadWorkflow(page, clear);
  await showNode(page, id, 1);
  await waitImage(page, id);
  assert((await specOf(page, id)).text === before.text, "vue: the saved workflow's spec");
  assert(await page.evaluate((id) => {
    const n = window.app.graph.getNodeById(id);
    return n.dragnext.editor.root.closest("[data-node-id]")?.getAttribute("data-node-id") === String(id);
  }, id), "vue: the editor sits in the Vue node");
  await page.screenshot({ path: `${artifacts}/editor_vue_loaded.png`, clip: await editorRect() });
  await drawScenario("vue");
  await showNode(page, id, 1);
  assert((await problems()).length === 0, "vue: still valid");
  await page.screenshot({ path: `${artifacts}/editor_vue.png`, clip: await editorRect() });
  await fullWindowScenario("vue");
  const vueSpec = await specOf(page, id);
  await reloadScenario("vue", vueSpec);
  assert(await page.evaluate(() => document.querySelectorAll("[data-node-id]").length > 0), "vue: still Nodes 2.0 after reload");

  // ---- the result on the canvas --------------------------------------------------------
  let result = null, prompt = null;
  if (queue) {
    await setWidgets(page, quick);
    const posted = page.waitForResponse((r) => r.url().endsWith("/prompt") && r.request().method() === "POST", { timeout: 60000 });
    await page.locator("button:has-text('Run')").first().click();
    const response = await posted;
    const body = await response.json();
    const sent = JSON.parse(response.request().postData()).prompt;
    assert(response.ok(), `queueing was accepted: ${JSON.stringify(body)}`);
    prompt = { id: body.prompt_id, spec: sent[String(id)].inputs.spec };
    assert(prompt.spec === vueSpec.text, "the queued prompt carries the drawn spec");
    log("queued", prompt.id);
    // Wait for the images on the canvas; a run that fails says why at once, not after the timeout.
    const deadline = Date.now() + RESULT_TIMEOUT;
    while (!(await page.evaluate((id) => {
      const r = window.app.graph.getNodeById(id).dragnext.results;
      return !!(r.edited && r.states.length > 0);
    }, id))) {
      const entry = (await (await fetch(`${url}/history/${prompt.id}`)).json())[prompt.id];
      const failed = entry?.status?.messages?.find((m) => m[0] === "execution_error");
      assert(!failed, `the queued run failed: ${failed?.[1]?.exception_message}`);
      assert(Date.now() < deadline, `no result ${RESULT_TIMEOUT / 1000} s after queueing`);
      await page.waitForTimeout(1000);
    }
    await showNode(page, id, 1);
    await settle(page);
    const edState = () => page.evaluate((id) => {
      const ed = window.app.graph.getNodeById(id).dragnext.editor;
      return { display: ed.display, shownIsOriginal: ed.shownImage() === ed.image, states: ed.results?.states.length ?? 0,
        picture: ed.canvas.toDataURL(), edited: ed.results?.edited?.src ?? null };
    }, id);
    const original = await edState();
    assert(original.display === "original", "the original is shown first");
    await (await button("[data-action=result-toggle]")).click();
    await settle(page);
    const edited = await edState();
    assert(edited.display === "edited" && !edited.shownIsOriginal && edited.picture !== original.picture, "the toggle shows the edited image");
    await page.screenshot({ path: `${artifacts}/editor_result.png`, clip: await editorRect() });
    await (await button("input[data-action=states]")).fill(String(edited.states - 1));
    await settle(page);
    const state = await edState();
    assert(state.display === "state" && state.picture !== original.picture, "the states strip shows a PBSI state");
    await (await button("[data-action=result-toggle]")).click();
    assert((await edState()).display === "original", "back to the original");
    // Editing after the run draws on the same original: a stroke while the result shows
    // brings the original back and adds to the region.
    await page.keyboard.press("o");
    assert((await edState()).display === "edited", "O toggles");
    const n0 = (await specOf(page, id)).spec.operations[0].region.length;
    await page.keyboard.press("b");
    await dragPath(page, id, [P(0.7, 0.7), P(0.75, 0.72)]);
    const after = await edState();
    assert(after.display === "original" && after.shownIsOriginal, "drawing returns to the original");
    assert((await specOf(page, id)).spec.operations[0].region.length === n0 + 1, "the stroke is in the spec");
    result = { states: edited.states, edited: edited.edited };
    log("result shown", result);
  }

  let followed = null;
  if (second) {
    await page.evaluate(([id, name]) => {
      const spec = window.app.graph.getNodeById(id);
      spec.getInputNode(spec.inputs.findIndex((i) => i.name === "image")).widgets.find((w) => w.name === "image").value = name;
    }, [id, second]);
    await page.waitForFunction(([id, w]) => window.app.graph.getNodeById(id).dragnext.editor.size?.width !== w, [id, size.width], { timeout: 30000 });
    await settle(page);
    const now = await page.evaluate((id) => window.app.graph.getNodeById(id).dragnext.editor.size, id);
    const bad2 = await problems();
    assert(bad2.some((p) => /outside the image/.test(p.message)), `a smaller image shows points outside it: ${JSON.stringify(bad2)}`);
    log("followed the upstream image to", now);
    followed = now;
  }
  assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
  console.log("RESULT " + JSON.stringify({ spec: vueSpec.text, node: id, image: size, prompt, followed, result }));
} catch (e) {
  await page.screenshot({ path: `${artifacts}/editor_failure.png` }).catch(() => {});
  throw e;
} finally {
  await close();
}
