import * as tf from '@tensorflow/tfjs-core';

/**
 * Scalar tensors a piece reuses every step (β, 1−β, ε, −lr, ...). tfjs turns a JS number operand
 * into a fresh scalar tensor on every op; caching them keeps the per-step work to the update math.
 * Scalars are made on first use (so on the backend active when training starts) and kept out of tidies.
 */
export class ScalarCache {
  private readonly scalars = new Map<number, tf.Scalar>();

  get(value: number): tf.Scalar {
    let s = this.scalars.get(value);
    if (s === undefined || s.isDisposed) {
      s = tf.keep(tf.scalar(value, 'float32'));
      this.scalars.set(value, s);
    }
    return s;
  }

  dispose(): void {
    for (const s of this.scalars.values()) s.dispose();
    this.scalars.clear();
  }
}

/**
 * One scalar for a per-step number that is usually the same as last step (a constant learning
 * rate folded with other factors): remade only when the value changes.
 */
export class LastScalar {
  private value: number | undefined;
  private tensor: tf.Scalar | undefined;

  get(value: number): tf.Scalar {
    if (this.tensor === undefined || this.tensor.isDisposed || this.value !== value) {
      this.tensor?.dispose();
      this.tensor = tf.keep(tf.scalar(value, 'float32'));
      this.value = value;
    }
    return this.tensor;
  }

  dispose(): void {
    this.tensor?.dispose();
    this.tensor = undefined;
  }
}
