/**
 * The forward/backward pass a round's captures come from. In the Trainer it is the pass that
 * trains (one tape: loss, every variable's gradient, the captures). Where the step is the
 * user's (a hand-written loop, model.fit) taylorlens runs its own pass at the same W_n on the
 * same batch: the same forward ops in the same order, so the captures hold the same bits, and a
 * backward pass only as far as a plugin asked for one.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '../anatomy.js';
import { type BatchCapture, type CaptureNeeds, forward } from '../capture.js';
import type { TaylorLoss } from '../losses.js';

/** Zero tensors added to each pre-activation, so that `∂ℓ/∂a_l` comes out of the backward pass. */
function zeroProbes(anatomy: ModelAnatomy, batch: number): tf.Tensor[] {
  return anatomy.layers.map((p) => tf.zeros([batch, ...p.outputShape]));
}

/**
 * Forward and backward in one tape, gradients with respect to `vars` (kept on `capture.grads`)
 * and, when `needs.preActivationGrads`, every `∂ℓ/∂a_l`.
 */
function tape(anatomy: ModelAnatomy, loss: TaylorLoss, needs: CaptureNeeds, capture: BatchCapture, vars: readonly tf.Variable[]): void {
  tf.tidy(() => {
    const probes = needs.preActivationGrads ? zeroProbes(anatomy, capture.batchSize) : undefined;
    const xs: tf.Tensor[] = probes ? [...vars, ...probes] : [...vars];
    const { value, grads } = tf.engine().gradients(() => {
      const f = forward(anatomy, capture.x, needs, capture, probes);
      capture.output = tf.keep(f);
      return loss.compute(f, capture.y);
    }, xs);
    capture.loss = tf.keep(value) as tf.Scalar;
    vars.forEach((v, i) => { capture.grads[v.name] = tf.keep(grads[i]); });
    if (probes) anatomy.layers.forEach((p, i) => { capture.layers[p.index].preActivationGrad = tf.keep(grads[vars.length + i]); });
  });
}

/** The Trainer's pass: loss, every variable's gradient (its step needs them) and the requested captures. */
export function trainingPass(anatomy: ModelAnatomy, loss: TaylorLoss, needs: CaptureNeeds, capture: BatchCapture): void {
  tape(anatomy, loss, needs, capture, anatomy.variables);
}

/**
 * The pass beside a step that is not ours: forward (output, loss, captures) always; backward only
 * for `∂ℓ/∂a_l` (`preActivationGrads`) and the variables' gradients (`variableGrads`) when asked.
 */
export function observingPass(anatomy: ModelAnatomy, loss: TaylorLoss, needs: CaptureNeeds, capture: BatchCapture): void {
  // A training-mode pass moves state that is not ours to move (BatchNormalization's moving
  // statistics): the user's step does that once; ours puts it back.
  const state = anatomy.model.nonTrainableWeights;
  const saved = state.map((w) => (w.read() as tf.Tensor).clone());
  try {
    if (needs.preActivationGrads || needs.variableGrads) {
      tape(anatomy, loss, needs, capture, needs.variableGrads ? anatomy.variables : []);
      return;
    }
    tf.tidy(() => {
      const f = forward(anatomy, capture.x, needs, capture);
      capture.output = tf.keep(f);
      capture.loss = tf.keep(loss.compute(f, capture.y));
    });
  } finally {
    state.forEach((w, i) => w.write(saved[i]));
    tf.dispose(saved);
  }
}
