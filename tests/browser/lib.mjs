// Shared helpers for the browser tests: Debian's Chromium driven by playwright-core,
// against a running ComfyUI server with this pack.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

/** A fresh browser profile each run; returns {context, page, close}. */
export async function launch({ width = 1400, height = 900, deviceScaleFactor = 1 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "dnx-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width, height }, deviceScaleFactor,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => { // only errors raised in this pack's modules (the host logs unrelated noise, e.g. CSP blocks)
    if (m.type() === "error" && (m.text().includes("/extensions/dragnext") || m.location()?.url?.includes("/extensions/dragnext"))) errors.push(m.text()); });
  return {
    context, page, errors,
    close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

/** Open the app and wait until the graph, the pack's extension and node are ready. */
export async function openApp(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.app?.graph && window.app.extensions?.some((e) => e.name === "DragNeXt.CanvasEditor")
    && window.LiteGraph?.registered_node_types?.DragNeXtSpec, null, { timeout: 90000 });
  await closeDialogs(page);
}

/** The first-run Templates dialog (and any other modal) covers the canvas: close it. */
export async function closeDialogs(page) {
  for (let i = 0; i < 20; i++) {
    const open = await page.evaluate(() => document.querySelectorAll(".p-dialog-mask").length);
    if (open === 0 && i >= 4) return;
    if (open) {
      // PrimeVue's own close button, or (Templates) an icon button with a cross
      const close = page.locator([".p-dialog .p-dialog-close-button", ".p-dialog button[aria-label=Close]",
        ".p-dialog button:has(i.pi-times)", ".p-dialog button:has(i[class*='lucide--x'])"].join(", ")).first();
      if (await close.count()) await close.click({ timeout: 2000 }).catch(() => {});
      else await page.keyboard.press("Escape");
    }
    await page.waitForTimeout(500);
  }
  const text = await page.evaluate(() => [...document.querySelectorAll(".p-dialog")].map((d) => d.innerText.slice(0, 200)).join(" | "));
  await page.screenshot({ path: join(tmpdir(), "dnx-dialog.png") }).catch(() => {});
  throw new Error(`a dialog would not close: ${text}`);
}

/** Replace the graph with a UI-format workflow (as the user's Open would). */
export async function loadWorkflow(page, workflow) {
  await page.evaluate(async (wf) => { await window.app.loadGraphData(wf, true, true, "test"); }, workflow);
  await page.waitForTimeout(300);
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
