/**
 * Losses on probabilities, taken on the pre-activation ("logits"): each absorbs the output
 * activation tfjs applies before it (softmax, sigmoid, softplus), so that `f` is the last
 * pre-activation, as taylor-math.md wants. tfjs computes them on the activation's output with ε
 * clips (ε = 1e-7), which make its loss flat — and so not convex — where a probability falls
 * below ε (or above 1 − ε). These are the unclipped forms, the convex functions that equal tfjs's
 * wherever no clip is active; README.md ("Losses") says where each differs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assertDenseTargets, elementwise } from './regression.js';
import { lossEpsilon, type TaylorLoss } from './types.js';

/** Softmax cross-entropy on logits, mean over the batch; targets one-hot (or any distribution). */
export const softmaxCrossEntropy: TaylorLoss = Object.freeze({
  name: 'softmaxCrossEntropy',
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(f)), -1))) as tf.Scalar,
  quadratic: false,
  absorbs: 'softmax',
  hostValue: (f: Float32Array, y: Float32Array, outputs: number) => {
    const rows = f.length / outputs;
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * outputs;
      const lse = logSumExp(f, o, outputs);
      for (let k = 0; k < outputs; k++) if (y[o + k] !== 0) sum -= y[o + k] * (f[o + k] - lse);
    }
    return sum / rows;
  },
});

function logSumExp(f: Float32Array, o: number, n: number): number {
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, f[o + k]);
  let z = 0;
  for (let k = 0; k < n; k++) z += Math.exp(f[o + k] - max);
  return max + Math.log(z);
}

/** Class indices `[rows]` int32 from sparse targets (tfjs: `floor(flatten(y))`), checked against f. */
function classIndices(name: string, f: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  const rows = f.size / f.shape[f.rank - 1];
  if (y.size !== rows) {
    throw new Error(`loss "${name}": expected one class index per sample (targets of shape [${f.shape.slice(0, -1)}] or [${[...f.shape.slice(0, -1), 1]}]) for outputs [${f.shape}], got targets [${y.shape}]; use "categoricalCrossentropy" for one-hot targets`);
  }
  return tf.cast(tf.floor(tf.cast(tf.reshape(y, [rows]), 'float32')), 'int32') as tf.Tensor1D;
}

function sparseRows(f: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const K = f.shape[f.rank - 1];
  // Cast: tfjs-backend-wasm's OneHot ignores its dtype and returns int32 bits.
  const onehot = tf.reshape(tf.cast(tf.oneHot(classIndices('sparseCategoricalCrossentropy', f, y), K), 'float32'), f.shape);
  return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(f)), -1));
}

/**
 * Softmax cross-entropy on logits with class-index targets (`[B]` or `[B, 1]`): tfjs-layers'
 * sparseCategoricalCrossentropy with the softmax absorbed. A class index outside [0, p_L) has a
 * zero one-hot row and contributes 0, as in tfjs.
 */
export const sparseSoftmaxCrossEntropy: TaylorLoss = Object.freeze({
  name: 'sparseSoftmaxCrossEntropy',
  quadratic: false,
  absorbs: 'softmax',
  targets: 'sparse' as const,
  compute: (f: tf.Tensor, y: tf.Tensor) => tf.tidy(() => tf.mean(sparseRows(f, y))) as tf.Scalar,
  perSample: (f: tf.Tensor2D, y: tf.Tensor) => tf.tidy(() => sparseRows(f, y)) as tf.Tensor1D,
  hostValue: (f: Float32Array, y: Float32Array, outputs: number) => {
    const rows = f.length / outputs;
    if (y.length !== rows) throw new Error(`loss "sparseSoftmaxCrossEntropy": expected ${rows} class indices, got ${y.length} targets`);
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const c = Math.floor(y[r]);
      if (c < 0 || c >= outputs) continue;
      sum += logSumExp(f, r * outputs, outputs) - f[r * outputs + c];
    }
    return sum / rows;
  },
});

/**
 * Sigmoid cross-entropy on logits, `max(f, 0) − f·y + log(1 + e^{−|f|})` (tfjs's
 * sigmoidCrossEntropyWithLogits), mean over the output units and the batch: tfjs-layers'
 * binaryCrossentropy with the sigmoid absorbed, and tf.losses.sigmoidCrossEntropy. Convex in f
 * (softplus plus a linear term) for any y.
 */
export const sigmoidCrossEntropy: TaylorLoss = Object.freeze({
  ...elementwise({
    name: 'sigmoidCrossEntropy',
    element: (f, y) => tf.add(tf.sub(tf.relu(f), tf.mul(f, y)), tf.log1p(tf.exp(tf.neg(tf.abs(f))))),
    host: (f, y) => Math.max(f, 0) - f * y + Math.log1p(Math.exp(-Math.abs(f))),
  }),
  absorbs: 'sigmoid',
});

function klRows(f: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.sum(tf.mul(y, tf.sub(tf.log(tf.clipByValue(y, lossEpsilon(), 1)), tf.logSoftmax(f))), -1);
}

/**
 * Kullback–Leibler divergence `Σ_k y_k log(clip(y_k, ε, 1) / softmax(f)_k)` per sample, mean
 * over the batch: tfjs-layers' kullbackLeiblerDivergence on a softmax output, the softmax
 * absorbed and the clip of the prediction dropped. It is softmax cross-entropy plus a term of y
 * alone: convex in f for y ≥ 0.
 */
export const kullbackLeiblerDivergence: TaylorLoss = Object.freeze({
  name: 'kullbackLeiblerDivergence',
  quadratic: false,
  absorbs: 'softmax',
  targets: 'dense' as const,
  compute: (f: tf.Tensor, y: tf.Tensor) => {
    assertDenseTargets('kullbackLeiblerDivergence', f, y);
    return tf.tidy(() => tf.mean(klRows(f, tf.cast(y, 'float32')))) as tf.Scalar;
  },
  perSample: (f: tf.Tensor2D, y: tf.Tensor) => tf.tidy(() => klRows(f, tf.reshape(tf.cast(y, 'float32'), f.shape))) as tf.Tensor1D,
  hostValue: (f: Float32Array, y: Float32Array, outputs: number) => {
    const rows = f.length / outputs;
    const eps = lossEpsilon();
    let sum = 0;
    for (let r = 0; r < rows; r++) {
      const o = r * outputs;
      const lse = logSumExp(f, o, outputs);
      for (let k = 0; k < outputs; k++) {
        const t = y[o + k];
        if (t !== 0) sum += t * (Math.log(Math.min(Math.max(t, eps), 1)) - (f[o + k] - lse));
      }
    }
    return sum / rows;
  },
});

/** Below this pre-activation `log softplus(f)` is `f` to float32 precision (tfjs's softplus returns `e^f` there). */
const SOFTPLUS_TAIL = -15;

/**
 * `log softplus(f)`, finite for every f, with finite gradients on both branches: a blend by the
 * step mask (which has a zero gradient; tfjs has no gradient for comparisons), the logarithm
 * evaluated where softplus cannot underflow.
 */
function logSoftplus(f: tf.Tensor): tf.Tensor {
  const tail = tf.step(tf.sub(SOFTPLUS_TAIL, f)); // 1 where f < SOFTPLUS_TAIL
  return tf.add(tf.mul(tail, f), tf.mul(tf.sub(1, tail), tf.log(tf.softplus(tf.maximum(f, SOFTPLUS_TAIL)))));
}

/**
 * Poisson `softplus(f) − y·log softplus(f)` per element, mean over the output units and the
 * batch: tfjs-layers' poisson (`out − y·log(out + ε)`) on a softplus output, the softplus
 * absorbed and ε dropped. Convex in f for y ≥ 0: softplus is convex and log-concave.
 */
export const poisson: TaylorLoss = Object.freeze({
  ...elementwise({
    name: 'poisson',
    element: (f, y) => tf.sub(tf.softplus(f), tf.mul(y, logSoftplus(f))),
    host: (f, y) => {
      const sp = f > 0 ? f + Math.log1p(Math.exp(-f)) : Math.log1p(Math.exp(f));
      return sp - y * (sp > 0 ? Math.log(sp) : f);
    },
  }),
  absorbs: 'softplus',
});
