import * as tf from '@tensorflow/tfjs-core';

/**
 * `aᵀb`, `abᵀ` and friends with the transposes done as separate ops: on the wasm backend a
 * matMul with transposeA/transposeB set runs an order of magnitude slower than a transpose
 * followed by a plain matMul (measured in bench/suites/regret.js's development).
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  const t = (x: tf.Tensor) => (x.rank === 2 ? tf.transpose(x) : tf.transpose(x, [...x.shape.map((_, i) => i).slice(0, -2), x.rank - 1, x.rank - 2]));
  return tf.matMul(transposeA ? t(a) : a, transposeB ? t(b) : b);
}
