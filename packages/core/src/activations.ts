import * as tf from '@tensorflow/tfjs-core';

/**
 * Derivative `s'(a)` of an elementwise activation at the pre-activation `a`, or null where it
 * is 1 everywhere (linear). ReLU's is the mask `a > 0` (0 at 0, as tfjs's gradient); others
 * come from autodiff of `apply`, so any elementwise activation works.
 */
export function activationDerivative(name: string, a: tf.Tensor, apply: (t: tf.Tensor) => tf.Tensor): tf.Tensor | null {
  switch (name) {
    case 'linear':
      return null;
    case 'relu':
      return tf.cast(tf.greater(a, 0), 'float32');
    case 'softmax':
    case 'logsoftmax':
      // Not elementwise: autodiff of Σ softmax would give 0 (the anatomy lists such a layer as a problem).
      throw new Error(`activation ${name} couples its units: it has a Jacobian, not an elementwise derivative`);
    default:
      return tf.grad((t: tf.Tensor) => tf.sum(apply(t)))(a);
  }
}
