// Tiny functional models for the derivatives tests: each puts the layer under test between
// Dense/Conv2D layers (the scoped layers whose Jacobians are checked). Seeded initialisers, so
// every model is the same on every run and backend.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type SymbolicTensor = tfl.SymbolicTensor;
type Layer = tfl.layers.Layer;

/** Seeded initialisers; `seed` distinguishes layers of one model. */
export function init(seed: number, biasRange = 0.3) {
  return {
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -biasRange, maxval: biasRange, seed: seed + 1000 }),
  };
}

export const dense = (units: number, seed: number, activation: string = 'linear', extra: Record<string, unknown> = {}) =>
  tfl.layers.dense({ units, activation: activation as 'linear', ...init(seed), ...extra });

export const conv = (filters: number, seed: number, extra: Record<string, unknown> = {}) =>
  tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', ...init(seed), ...extra } as Parameters<typeof tfl.layers.conv2d>[0]);

/** input → layers in a chain → output, as a functional model. */
export function chain(inputShape: number[], layers: Layer[], dtype: 'float32' | 'int32' = 'float32'): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape, dtype });
  let h: SymbolicTensor = input;
  for (const l of layers) h = l.apply(h) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: h });
}

/** A merge of branches of the input: `branches` each map the input; `merge` joins them; `tail` follows. */
export function merged(inputShape: number[], branches: Layer[][], merge: Layer, tail: Layer[]): tfl.LayersModel {
  const input = tfl.input({ shape: inputShape });
  const outs = branches.map((b) => b.reduce<SymbolicTensor>((h, l) => l.apply(h) as SymbolicTensor, input));
  let h = merge.apply(outs) as SymbolicTensor;
  for (const l of tail) h = l.apply(h) as SymbolicTensor;
  return tfl.model({ inputs: input, outputs: h });
}

/** Seeded normal data `[n, ...shape]`, times `scale`. */
export function normal(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale));
}

/**
 * Data whose neighbouring cells along `axis` (1-based sample axis) are equal in pairs: 0 = 1,
 * 2 = 3, … A per-position linear map (a 1×1 conv, a Dense on a rank-3 input) keeps the pairs
 * equal, so a max-pool window that holds a pair holds a tie.
 */
export function pairedAlong(shape: number[], axis: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const half = shape.map((s, i) => (i === axis ? Math.ceil(s / 2) : s));
    const h = tf.randomNormal(half, 0, 1, 'float32', seed);
    const doubled = tf.concat([tf.expandDims(h, axis + 1), tf.expandDims(h, axis + 1)], axis + 1);
    const full = tf.reshape(doubled, half.map((s, i) => (i === axis ? 2 * s : s)));
    return tf.slice(full, shape.map(() => 0), shape);
  });
}

/** Number of entries of `t` equal to their neighbour along `axis` and nonzero (ties that matter). */
export function tiedPairs(t: tf.Tensor, axis: number): number {
  return tf.tidy(() => {
    const n = t.shape[axis];
    const a = tf.slice(t, t.shape.map((_, i) => 0), t.shape.map((s, i) => (i === axis ? n - 1 : s)));
    const b = tf.slice(t, t.shape.map((_, i) => (i === axis ? 1 : 0)), t.shape.map((s, i) => (i === axis ? n - 1 : s)));
    return tf.sum(tf.cast(tf.logicalAnd(tf.equal(a, b), tf.notEqual(a, 0)), 'int32')).dataSync()[0];
  });
}

/** A custom layer with a weight (`x · w`, w per feature); no derivatives module unless a test registers one. */
export class TimesWeight extends tfl.layers.Layer {
  static className = 'TimesWeight';
  private w: tfl.LayerVariable | null = null;
  override build(shape: tfl.Shape | tfl.Shape[]): void {
    const s = (Array.isArray(shape[0]) ? shape[0] : shape) as tfl.Shape;
    this.w = this.addWeight('w', [s[s.length - 1] as number], 'float32', tfl.initializers.ones());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor { return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, this.w!.read()); }
}
tf.serialization.registerClass(TimesWeight);
