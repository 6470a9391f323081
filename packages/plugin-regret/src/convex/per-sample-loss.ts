import * as tf from '@tensorflow/tfjs-core';
import { meanSquaredError, softmaxCrossEntropy, type TaylorLoss } from '@taylorlens/core';

/**
 * The loss of each sample, `[N]`, such that the minibatch loss is their mean (MSE, cross-entropy
 * and any user loss that is a mean over the batch of a per-sample loss). Known losses have closed
 * forms; a user loss is evaluated one row at a time through its own `compute` — correct, slower;
 * give the TaylorLoss a `perSample(f, y)` method to speed it up.
 */
export function perSampleLoss(loss: TaylorLoss): (f: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D {
  const own = (loss as TaylorLoss & { perSample?: (f: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D }).perSample;
  if (own) return own;
  if (loss === meanSquaredError || loss.name === 'meanSquaredError') return (f, y) => tf.mean(tf.squaredDifference(f, y), 1) as tf.Tensor1D;
  if (loss === softmaxCrossEntropy || loss.name === 'softmaxCrossEntropy') {
    return (f, y) => tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(f)), 1)) as tf.Tensor1D;
  }
  return (f, y) => {
    const N = f.shape[0];
    const rows: tf.Scalar[] = [];
    for (let i = 0; i < N; i++) rows.push(loss.compute(tf.slice(f, [i, 0], [1, -1]), tf.slice(y, [i, 0], [1, -1])));
    return tf.stack(rows) as tf.Tensor1D;
  };
}
