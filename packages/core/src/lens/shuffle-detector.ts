/**
 * Tells whether model.fit shuffled an epoch. fit gives callbacks no batch indices, and shuffles
 * (tf.util.shuffle: one Math.random per sample) between onEpochBegin and the first onBatchBegin;
 * counting Math.random calls in that window says whether it did, before any step is taken.
 */
export class ShuffleDetector {
  private original: (() => number) | null = null;
  private spy: (() => number) | null = null;
  private calls = 0;

  get armed(): boolean {
    return this.spy !== null;
  }

  arm(): void {
    if (this.spy) return;
    const original = Math.random;
    this.calls = 0;
    this.original = original;
    this.spy = () => { this.calls += 1; return original(); };
    Math.random = this.spy;
  }

  /** Stops counting (restoring Math.random unless someone replaced it since); returns the count. */
  disarm(): number {
    if (this.spy && Math.random === this.spy) Math.random = this.original!;
    this.spy = null;
    this.original = null;
    return this.calls;
  }
}
