/**
 * Dense chains (every parameterised layer dense on flat inputs, nothing but activations between):
 * the network scope's `J_n v` and `J_nᵀ w` written out, with the transposed layer inputs and
 * kernels prepared once per round, so that every matrix product runs untransposed: tfjs's wasm
 * kernels are several times slower on transposed operands (which autodiff's matmul gradients use),
 * and batched matmuls across rounds are slower still, so rounds stay separate. The two products
 * are self-contained (their text also runs on the network products worker).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '@taylorlens/core';
import type { ReplayedRound } from './network-problem.js';

/** Whether the written-out products apply. */
export function isDenseChain(anatomy: ModelAnatomy): boolean {
  // (A dropout stage's mask is not in the written-out products: such chains take the general path.)
  return anatomy.isChain && anatomy.layers.every((p) => p.kind === 'dense' && p.inputShape.length === 1 && p.outputShape.length === 1
    && p.after.every((st) => st.kind === 'activation'));
}

/** Where each layer of a dense chain finds its kernel and bias among the variables (what the written-out products need). */
export interface DenseChainPlan {
  kernel: number[];
  bias: (number | null)[];
  variables: number;
}

export function denseChainPlan(anatomy: ModelAnatomy): DenseChainPlan {
  return {
    kernel: anatomy.layers.map((p) => anatomy.variables.indexOf(p.kernel)),
    bias: anatomy.layers.map((p) => (p.bias ? anatomy.variables.indexOf(p.bias) : null)),
    variables: anatomy.variables.length,
  };
}

/** A dense chain's round as its products read it: layer inputs, kernels, their transposes, the activation derivatives. */
export interface DenseRound {
  inputs: tf.Tensor2D[];
  kernels: tf.Tensor2D[];
  inputsT: tf.Tensor2D[];
  kernelsT: tf.Tensor2D[];
  masks: (tf.Tensor2D | null)[];
}

export function prepareDense(anatomy: ModelAnatomy, rep: ReplayedRound): DenseRound {
  return {
    inputs: anatomy.layers.map((p) => rep.inputs[p.index] as tf.Tensor2D),
    kernels: anatomy.layers.map((p) => rep.kernels[p.index] as tf.Tensor2D),
    inputsT: anatomy.layers.map((p) => tf.transpose(rep.inputs[p.index] as tf.Tensor2D)),
    kernelsT: anatomy.layers.map((p) => tf.transpose(rep.kernels[p.index] as tf.Tensor2D)),
    masks: anatomy.layers.map((p) => rep.factors.derivative(p.index) as tf.Tensor2D | null),
  };
}

/**
 * `J_n v` `[s, p_L]` of a dense chain, v split like the variables (once per pass, not per round).
 * Self-contained (its text runs on the network products worker too: the same ops, the same bits).
 */
export function denseForwardWith(tfjs: typeof tf, plan: DenseChainPlan, r: DenseRound, delta: tf.Tensor[]): tf.Tensor2D {
  let d: tf.Tensor2D | null = null;
  for (let l = 0; l < plan.kernel.length; l++) {
    let a = tfjs.matMul(r.inputs[l], delta[plan.kernel[l]] as tf.Tensor2D);
    const b = plan.bias[l];
    if (b !== null) a = tfjs.add(a, delta[b]);
    if (d) a = tfjs.add(a, tfjs.matMul(d, r.kernels[l]));
    const m = r.masks[l];
    d = (m ? tfjs.mul(a, m) : a) as tf.Tensor2D;
  }
  return d!;
}

/** `J_nᵀ w` as a flat `[P]` vector in the variables' order (self-contained, as `denseForwardWith`). */
export function denseBackwardWith(tfjs: typeof tf, plan: DenseChainPlan, r: DenseRound, w: tf.Tensor2D): tf.Tensor1D {
  const parts: tf.Tensor[] = new Array(plan.variables);
  let delta = w;
  for (let l = plan.kernel.length - 1; l >= 0; l--) {
    const m = r.masks[l];
    if (m) delta = tfjs.mul(delta, m);
    parts[plan.kernel[l]] = tfjs.matMul(r.inputsT[l], delta);
    const b = plan.bias[l];
    if (b !== null) parts[b] = tfjs.sum(delta, 0);
    if (l > 0) delta = tfjs.matMul(delta, r.kernelsT[l]);
  }
  return tfjs.concat(parts.map((t) => tfjs.reshape(t, [-1]))) as tf.Tensor1D;
}

/**
 * A flat parameter vector held on the host as one tensor per variable (`shapes`), each from its
 * own span: the same values as splitting a `[1, P]` tensor, without wasm's split, which copies
 * the whole input out of wasm memory per part (twelve copies of the autoencoder's 334 KB per
 * Hessian product). The tfjs instance is passed in: the products worker runs this text too.
 */
export function splitHostVector(tfjs: typeof tf, shapes: readonly (readonly number[])[], flat: Float32Array): tf.Tensor[] {
  let at = 0;
  return shapes.map((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = tfjs.tensor(flat.subarray(at, at + size), shape as number[], 'float32');
    at += size;
    return t;
  });
}
