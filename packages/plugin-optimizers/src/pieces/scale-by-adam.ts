import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, Scale, State } from '../transform.js';
import { checkArg, initEach } from './util.js';

export interface ScaleByAdamOptions {
  beta1: number;
  beta2: number;
  /** ε, added to √v̂ (outside the root, as in the paper, tfjs and Keras). */
  epsilon: number;
  /** AMSGrad: divide by the running maximum of the second moment. */
  amsgrad?: boolean;
}

type AdamSlots = { sum1: tf.Tensor; sum2: tf.Tensor } | { sum1: tf.Tensor; sum2: tf.Tensor; sum2Max: tf.Tensor };

/**
 * Adam's direction with bias correction, t = step + 1:
 *   m' = β₁m + (1−β₁)g,  v' = β₂v + (1−β₂)g²,  output m̂/(√v̂ + ε),  m̂ = m'/(1−β₁ᵗ), v̂ = v'/(1−β₂ᵗ).
 * AMSGrad uses v_max' = max(v_max, v') for v' (max of the raw second moment, then bias correction,
 * as Keras's `amsgrad=True` and PyTorch do).
 *
 * The same numbers with 3 fewer passes over the weights: the state holds the discounted sums
 * s₁ = m/(1−β₁), s₂ = v/(1−β₂) (s₁' = β₁s₁ + g, s₂' = β₂s₂ + g²) and the output is
 *   k · s₁' / (√s₂' + ε/a),  a = √((1−β₂)/(1−β₂ᵗ)),  k = (1−β₁)/((1−β₁ᵗ)·a),
 * with k left as the result's `factor` for the chain to fold into the learning rate.
 * Scale (the preconditioner applied to m̂): 1/(√v̂ + ε) = 1/(a·(√s₂' + ε/a)).
 *
 * References: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization" (Algorithm 1);
 * Reddi, Kale & Kumar 2018, "On the Convergence of Adam and Beyond" (AMSGrad).
 */
export function scaleByAdam(options: ScaleByAdamOptions): GradientTransformation<AdamSlots> {
  const { beta1, beta2, epsilon, amsgrad = false } = options;
  checkArg('scaleByAdam', 'beta1', beta1, beta1 >= 0 && beta1 < 1, 'in [0, 1)');
  checkArg('scaleByAdam', 'beta2', beta2, beta2 >= 0 && beta2 < 1, 'in [0, 1)');
  checkArg('scaleByAdam', 'epsilon', epsilon, epsilon >= 0, 'a number ≥ 0');
  const constants = new ScalarCache();
  return {
    name: amsgrad ? 'amsgrad' : 'adam',
    init: (params) => initEach<AdamSlots>(params, (p) =>
      amsgrad ? { sum1: tf.zerosLike(p), sum2: tf.zerosLike(p), sum2Max: tf.zerosLike(p) } : { sum1: tf.zerosLike(p), sum2: tf.zerosLike(p) }),
    update(updates, state, _params, extra) {
      const t = extra.step + 1;
      const a = Math.sqrt((1 - beta2) / (1 - beta2 ** t));
      const k = (1 - beta1) / ((1 - beta1 ** t) * a);
      const b1 = constants.get(beta1);
      const b2 = constants.get(beta2);
      const epsOverA = tf.scalar(epsilon / a); // the one step-dependent tensor, shared by all variables
      const out: NamedTensors = {};
      const next: State<AdamSlots> = {};
      const scale: Record<string, Scale> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const slots = state[name];
        const sum1 = tf.add(tf.mul(slots.sum1, b1), g);
        const sum2 = tf.add(tf.mul(slots.sum2, b2), tf.square(g));
        let second = sum2;
        if ('sum2Max' in slots) {
          second = tf.maximum(slots.sum2Max, sum2);
          next[name] = { sum1, sum2, sum2Max: second };
        } else {
          next[name] = { sum1, sum2 };
        }
        const denominator = tf.add(tf.sqrt(second), epsOverA);
        out[name] = tf.div(sum1, denominator);
        if (extra.report) scale[name] = tf.div(1 / a, denominator);
      }
      return { updates: out, state: next, factor: k, ...(extra.report ? { scale } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
