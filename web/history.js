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
    this.future = [];
    this.current = current;
  }

  /** Record a new current state; a no-op if it did not change. Returns whether it did. */
  push(next) {
    if (next === this.current) return false;
    this.past.push(this.current);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
    this.current = next;
    return true;
  }

  canUndo() { return this.past.length > 0; }
  canRedo() { return this.future.length > 0; }

  /** Step back; returns the state to show, or null at the start. */
  undo() {
    if (!this.canUndo()) return null;
    this.future.push(this.current);
    this.current = this.past.pop();
    return this.current;
  }

  /** Step forward; returns the state to show, or null at the end. */
  redo() {
    if (!this.canRedo()) return null;
    this.past.push(this.current);
    this.current = this.future.pop();
    return this.current;
  }
}
