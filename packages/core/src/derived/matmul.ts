import * as tf from '@tensorflow/tfjs-core';

/**
 * `aᵀb`, `abᵀ` and friends with the transposes done as separate ops: on the wasm backend a
 * matMul with transposeA/transposeB set runs an order of magnitude slower than a transpose
 * followed by a plain matMul (measured in bench/suites/regret.js's development).
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const t = (x: tf.Tensor) => (x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [...x.shape.map((_, i) => i).slice(0, -2), x.rank - 1, x.rank - 2]));
  return batchMatMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
}

/**
 * `tf.matMul` of `[N, m, k] × [N, k, n]`; on wasm a batched product is several times slower than
 * the same products one sample at a time (measured: 25.5 ms against 6.6 ms for four
 * `[145, 256] × [256, 160]`), so there it runs per sample.
 */
export function batchMatMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[0] < 2 || a.shape[0] > 64 || tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  return tf.tidy(() => {
    const as = tf.unstack(a);
    const bs = tf.unstack(b);
    return tf.stack(as.map((ai, i) => tf.matMul(ai as tf.Tensor2D, bs[i] as tf.Tensor2D)));
  });
}

/**
 * The channels `units` of the last axis, `[..., C] → [..., K]`, by a 0/1 selection matmul: a
 * gather along an inner axis is very slow on wasm (tens of ns per element).
 */
export function selectChannels(t: tf.Tensor, units: tf.Tensor1D, channels: number): tf.Tensor {
  return tf.tidy(() => {
    const K = units.shape[0];
    // Small selections: a gather is cheaper than building the selection matrix.
    if ((t.size / channels) * K <= 16384) return tf.gather(t, units, t.rank - 1);
    const select = tf.transpose(tf.oneHot(units, channels)); // [C, K]
    return tf.reshape(tf.matMul(tf.reshape(t, [-1, channels]), select), [...t.shape.slice(0, -1), K]);
  });
}
