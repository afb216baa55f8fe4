// Loads each given UI-format workflow in the real ComfyUI frontend and queues it with the
// Run button, as a user would. Usage: node tests/browser/run_workflows.mjs URL A.json [B.json ...]
// Prints one `RESULT {json}` line per workflow: {file, prompt_id, editors} or {file, error}.
// The pytest side waits for each prompt to finish on the server.
import { readFileSync } from "node:fs";
import { launch, openApp, loadWorkflow, assert } from "./lib.mjs";
import { setVueNodes, settle } from "./page_helpers.mjs";

const [url, ...files] = process.argv.slice(2);
const { page, errors, close } = await launch();
try {
  await openApp(page, url);
  for (const file of files) {
    try {
      errors.length = 0;
      const workflow = JSON.parse(readFileSync(file, "utf8"));
      // No node covers another as the frontend lays them out, in the classic canvas and in
      // Nodes 2.0 (which scales a classic layout by 1.2 and draws taller widgets).
      for (const vue of [false, true]) {
        await setVueNodes(page, vue);
        await loadWorkflow(page, workflow);
        await settle(page);
        const overlaps = await page.evaluate(() => {
          const title = window.LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
          const boxes = window.app.graph.nodes.map((n) => {
            const [w, h] = [0, 1].map((i) => Math.max(n.size[i], n.computeSize()[i]));
            return { id: n.id, type: n.type, x0: n.pos[0], y0: n.pos[1] - title, x1: n.pos[0] + w, y1: n.pos[1] + h };
          });
          const hits = [];
          const box = (b) => `${b.type} ${b.id} [${[b.x0, b.y0, b.x1, b.y1].map(Math.round).join(", ")}]`;
          for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) {
            if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) hits.push(`${box(a)} and ${box(b)}`);
          }
          return hits;
        });
        assert(overlaps.length === 0, `${vue ? "Nodes 2.0" : "classic canvas"}: nodes overlap: ${overlaps.join("; ")}`);
      }
      // (Left in Nodes 2.0.) Every DragNeXtSpec node got an editor that loaded the workflow's spec as is.
      const editors = await page.evaluate(() => window.app.graph.nodes.filter((n) => n.type === "DragNeXtSpec").map((n) => ({
        id: n.id, ok: !!n.dragnext, spec: n.widgets.find((w) => w.name === "spec").value,
        shown: n.dragnext?.editor.history.current, specError: n.dragnext?.editor.specError ?? null,
      })));
      for (const e of editors) {
        assert(e.ok && e.shown === e.spec && !e.specError, `editor of node ${e.id} shows its spec: ${JSON.stringify(e)}`);
      }
      const posted = page.waitForResponse((r) => r.url().endsWith("/prompt") && r.request().method() === "POST", { timeout: 60000 });
      await page.locator("button:has-text('Run')").first().click();
      const response = await posted;
      const body = await response.json();
      assert(response.ok(), `queued: ${JSON.stringify(body)}`);
      const sent = JSON.parse(response.request().postData()).prompt;
      for (const e of editors) assert(sent[String(e.id)].inputs.spec === e.spec, `node ${e.id} sends its spec`);
      assert(errors.length === 0, `no page errors: ${errors.join("; ")}`);
      console.log("RESULT " + JSON.stringify({ file, prompt_id: body.prompt_id, editors: editors.length }));
    } catch (e) {
      console.log("RESULT " + JSON.stringify({ file, error: String(e.message ?? e) }));
    }
  }
} finally {
  await close();
}
