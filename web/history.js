// Undo/redo of editor states, kept as spec JSON strings (immutable, cheap to compare).
// Pure ES module (no DOM).

export class History {
  constructor(initial, limit = 200) {
    this.limit = limit;
    this.reset(initial);
  }

  /** Forget everything: `current` becomes the only state (a load, or a typed spec). */
  reset(current) {
    this.past = [];
    this.shifted = 0; // steps the limit has forgotten: `steps` keeps counting past it
    this.future = [];
    this.current = current;
    this.group = null;
  }

  /**
   * Record a new current state; a no-op if it did not change. Returns whether it did.
   * Pushes with the same non-null group in a row are one step (typing in the JSON box).
   */
  push(next, group = null) {
    if (next === this.current) return false;
    const merge = group !== null && group === this.group && this.past.length > 0;
    this.group = group;
    if (!merge) {
      this.past.push(this.current);
      if (this.past.length > this.limit) { this.past.shift(); this.shifted++; }
    }
    this.future = [];
    this.current = next;
    return true;
  }

  /** Forget the last n recorded steps, as if never made (a double-click's two stray clicks). */
  drop(n) {
    if (n <= 0 || n > this.past.length) return false;
    this.current = this.past[this.past.length - n];
    this.past.length -= n;
    this.group = null;
    return true;
  }

  /** Steps recorded so far, the forgotten ones included: a mark for `drop(steps - mark)`. */
  get steps() { return this.shifted + this.past.length; }

  canUndo() { return this.past.length > 0; }
  canRedo() { return this.future.length > 0; }

  /** Step back; returns the state to show, or null at the start. */
  undo() {
    if (!this.canUndo()) return null;
    this.future.push(this.current);
    this.current = this.past.pop();
    this.group = null;
    return this.current;
  }

  /** Step forward; returns the state to show, or null at the end. */
  redo() {
    if (!this.canRedo()) return null;
    this.past.push(this.current);
    this.current = this.future.pop();
    this.group = null;
    return this.current;
  }
}
