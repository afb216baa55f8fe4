// The editor's rasterised layers, by key ("op<i>": operation i's region; "editable"): each
// layer's mask and its tinted fill and outline canvases, rebuilt only when its shapes, its
// colour or the image size change. Shared by validation (the masks), drawing (the canvases)
// and a live brush stroke (painted straight onto the mask).

import { rasterise } from "./raster.js";
import { maskCanvas, opColour, EDITABLE_COLOUR } from "./render.js";

const colourOf = (key) => (key === "editable" ? EDITABLE_COLOUR : opColour(Number(key.slice(2))));

export class LayerMasks {
  /** size(): the image's {width, height}, or null while there is none. */
  constructor(size) {
    this.size = size;
    this.layers = new Map(); // key -> {sig, mask, canvas, edge, stale}
  }

  signature(key, shapes) {
    const { width, height } = this.size();
    return `${width}x${height}:${colourOf(key)}:${JSON.stringify(shapes)}`;
  }

  /** The layer's {mask, canvas, edge} for these shapes, or null with no image or no shapes. */
  of(key, shapes) {
    const size = this.size();
    if (!size || !shapes.length) return null;
    const sig = this.signature(key, shapes);
    let c = this.layers.get(key);
    if (!c || c.sig !== sig) {
      const colour = colourOf(key);
      const mask = rasterise(shapes, size.height, size.width);
      c = { sig, mask, canvas: maskCanvas(mask, colour, c?.canvas), edge: maskCanvas(mask, colour, c?.edge, true) };
      this.layers.set(key, c);
    }
    return c;
  }

  /** The layer's last mask, whatever its shapes are now (or undefined). */
  mask(key) { return this.layers.get(key)?.mask; }

  /** After painting straight onto the layer's mask (a live brush stroke): its shapes now,
   * its fill re-tinted; the outline, only needed for ghosts, waits for outline(). */
  touch(key, shapes) {
    const c = this.layers.get(key);
    c.sig = this.signature(key, shapes);
    maskCanvas(c.mask, colourOf(key), c.canvas);
    c.stale = true;
  }

  /** Rebuild the layer's outline if a stroke painted onto its mask since. */
  outline(key) {
    const c = this.layers.get(key);
    if (c?.stale) { maskCanvas(c.mask, colourOf(key), c.edge, true); c.stale = false; }
  }
}
