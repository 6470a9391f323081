import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy, Stage } from './anatomy.js';
import { type BatchCapture, cellsToWindows, linear, padOrCrop, poolGeometry } from './capture.js';

/** Multiply `[B, K, ...]` directions by a per-sample `[B, ...]` factor, shared by the K directions. */
function perSample(d: tf.Tensor, factor: tf.Tensor | null): tf.Tensor {
  return factor ? tf.mul(d, tf.expandDims(factor, 1)) : d;
}

function throughStage(capture: BatchCapture, l: number, i: number, s: Stage, d: tf.Tensor): tf.Tensor {
  const [B, K] = d.shape;
  switch (s.kind) {
    case 'activation':
      return d; // folded into the layer's derivative
    case 'maxpool': {
      // Clamped: each window passes the direction at the cell the forward pass chose.
      // Mask, pad, sum each window: plain differentiable ops, so reverse mode works everywhere.
      const mask = capture.poolMask(l, i);
      const g = poolGeometry(s, mask.shape);
      const [, H, W, C] = mask.shape;
      const kept = tf.reshape(tf.mul(d, tf.expandDims(mask, 1)), [B * K, H, W, C]);
      const pooled = cellsToWindows(padOrCrop(kept, g), g);
      return tf.reshape(pooled, [B, K, g.outHeight, g.outWidth, C]);
    }
    case 'flatten':
      return tf.reshape(d, [B, K, -1]);
    case 'reshape': {
      const outShape = (s.layer.outputShape as number[]).slice(1);
      return tf.reshape(d, [B, K, ...outShape]);
    }
    default:
      throw new Error(`the clamped product does not support ${s.kind} layers ("${s.layer.name}")`);
  }
}

/**
 * The clamped forward product (taylor-math.md): push a batch of directions in layer `from`'s
 * pre-activation through the rest of the network with this round's ReLU masks (activation
 * derivatives) and max-pool choices frozen, and no biases. For piecewise-linear nets this is
 * exactly the Jacobian-vector product `J_from · d` per sample.
 *
 * @param directions `[B, K, ...preActivationShape(from)]`: K directions per sample.
 * @returns `[B, K, p_L]` output perturbations.
 */
export function clampedForward(anatomy: ModelAnatomy, capture: BatchCapture, from: number, directions: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [B, K] = directions.shape;
    let d = perSample(directions, capture.derivative(from));
    for (let l = from; l < anatomy.layers.length; l++) {
      const p = anatomy.layers[l];
      if (l > from) {
        const flat = tf.reshape(d, [B * K, ...p.inputShape]);
        const out = linear(p, flat, false);
        d = perSample(tf.reshape(out, [B, K, ...p.outputShape]), capture.derivative(l));
      }
      p.after.forEach((s, i) => { d = throughStage(capture, l, i, s, d); });
    }
    return tf.reshape(d, [B, K, anatomy.outputSize]);
  });
}

export type JacobianMode = 'forward' | 'reverse' | 'auto';

/**
 * Cost model: the clamped forward pushes `p_l` directions per sample; reverse mode pushes
 * `p_L` and pays about three passes (forward + backward) for each. Pick the cheaper.
 */
export function jacobianMode(anatomy: ModelAnatomy, l: number): 'forward' | 'reverse' {
  return anatomy.layers[l].units <= 3 * anatomy.outputSize ? 'forward' : 'reverse';
}

/**
 * Per-sample Jacobian `J_l = ∂f/∂a_l`, shape `[B, p_L, p_l]` (`p_l` in the pre-activation's
 * row-major order), by the clamped forward product with one-hot directions or by reverse mode
 * (one backward pass per output unit, batched), whichever is cheaper for the shapes.
 */
export function perSampleJacobian(anatomy: ModelAnatomy, capture: BatchCapture, l: number, mode: JacobianMode = 'auto'): tf.Tensor3D {
  const p = anatomy.layers[l];
  const B = capture.batchSize;
  const pL = anatomy.outputSize;
  const chosen = mode === 'auto' ? jacobianMode(anatomy, l) : mode;
  return tf.tidy(() => {
    if (chosen === 'forward') {
      const eye = tf.reshape(tf.eye(p.units), [1, p.units, ...p.outputShape]);
      const dirs = tf.tile(eye, [B, 1, ...p.outputShape.map(() => 1)]);
      const out = clampedForward(anatomy, capture, l, dirs); // [B, p_l, p_L]
      return tf.transpose(out, [0, 2, 1]) as tf.Tensor3D;
    }
    // Reverse: the clamped network is linear in its input, so the gradient of
    // Σ_k ⟨e_k, clamped(Z_k)⟩ with respect to Z (one copy per output unit) is row k of J.
    const z = tf.zeros([B, pL, ...p.outputShape]);
    const seeds = tf.reshape(tf.eye(pL), [1, pL, pL]);
    const g = tf.grad((zz: tf.Tensor) => tf.sum(tf.mul(clampedForward(anatomy, capture, l, zz), seeds)))(z);
    return tf.reshape(g, [B, pL, p.units]) as tf.Tensor3D;
  });
}
