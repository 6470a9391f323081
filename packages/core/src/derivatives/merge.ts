/**
 * Merge layers. Sums and averages are linear; a product is linearised at the round's inputs;
 * Maximum/Minimum pass each input's perturbation where the gradient of the layer routes (ties to
 * the first input, as tf.maximum's gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerDerivatives, PushShape } from './types.js';
import { directionAxis } from './util.js';

/** Directions with every null replaced by zeros (for layers that need all inputs). */
function filled(d: (tf.Tensor | null)[], s: PushShape): tf.Tensor[] {
  return d.map((t, i) => t ?? tf.zeros([s.B, s.K, ...s.inputShapes[i]]));
}

function sum(ts: tf.Tensor[]): tf.Tensor {
  return ts.length === 1 ? ts[0] : tf.addN(ts);
}

const add: LayerDerivatives = {
  kind: 'add',
  push: (_l, _s, d) => { const live = d.filter((t): t is tf.Tensor => t !== null); return live.length ? sum(live) : null; },
};

const average: LayerDerivatives = {
  kind: 'average',
  push: (_l, _s, d) => { const live = d.filter((t): t is tf.Tensor => t !== null); return live.length ? tf.div(sum(live), d.length) : null; },
};

const subtract: LayerDerivatives = {
  kind: 'subtract',
  push: (_l, _s, d, s) => (d[0] || d[1] ? (([a, b]) => tf.sub(a, b))(filled(d, s)) : null),
};

const multiply: LayerDerivatives = {
  kind: 'multiply',
  freeze: (_l, r) => ({ sample: Object.fromEntries(r.inputs.map((x, i) => [`x${i}`, x])) }),
  push(_l, state, d) {
    const xs = d.map((_, i) => tf.expandDims(state!.sample[`x${i}`], 1));
    const terms: tf.Tensor[] = [];
    d.forEach((di, i) => {
      if (!di) return;
      let t = di;
      xs.forEach((x, j) => { if (j !== i) t = tf.mul(t, x); });
      terms.push(t);
    });
    return terms.length ? sum(terms) : null;
  },
};

const selectByGradient: LayerDerivatives = {
  kind: 'maximum/minimum',
  freeze: (layer, r) => ({
    sample: Object.fromEntries(tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => tf.sum(layer.apply(xs) as tf.Tensor))(r.inputs))
      .map((m, i) => [`m${i}`, m])),
  }),
  push(_l, state, d) {
    const terms = d.flatMap((di, i) => (di ? [tf.mul(di, tf.expandDims(state!.sample[`m${i}`], 1))] : []));
    return terms.length ? sum(terms) : null;
  },
};

const concatenate: LayerDerivatives = {
  kind: 'concatenate',
  push(layer, _s, d, s) {
    if (d.every((t) => t === null)) return null;
    const axis = (layer.getConfig() as { axis?: number }).axis ?? -1;
    return tf.concat(filled(d, s), directionAxis(axis, s.outputShape.length));
  },
};

export const MERGE_LAYERS: Record<string, LayerDerivatives> = {
  Add: add, Average: average, Subtract: subtract, Multiply: multiply,
  Maximum: selectByGradient, Minimum: selectByGradient, Concatenate: concatenate,
};
