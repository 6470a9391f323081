import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, Scale, State } from '../transform.js';
import { checkArg, initEach } from './util.js';

export interface ScaleByRmsOptions {
  /** ρ, decay of the running mean square. */
  decay: number;
  /** ε, added under the square root. */
  epsilon: number;
  /** Divide by the running standard deviation instead of the root mean square. */
  centered?: boolean;
}

type RmsSlots = { meanSquare: tf.Tensor } | { meanSquare: tf.Tensor; meanGrad: tf.Tensor };

/**
 * RMSProp's scaling: s' = ρ·s + (1−ρ)·g², output g / √(s' + ε); centred: also ḡ' = ρ·ḡ + (1−ρ)·g,
 * output g / √(s' − ḡ'² + ε). ε sits under the root as in tfjs and TensorFlow; s₀ = ḡ₀ = 0.
 * Scale: 1/√(s' + ε) (resp. 1/√(s' − ḡ'² + ε)).
 *
 * References: Tieleman & Hinton 2012, "Lecture 6.5 — RMSProp" (COURSERA: Neural Networks for Machine
 * Learning); Graves 2013, "Generating Sequences With Recurrent Neural Networks" (centred variant, eq. 38–40).
 */
export function scaleByRms(options: ScaleByRmsOptions): GradientTransformation<RmsSlots> {
  const { decay, epsilon, centered = false } = options;
  checkArg('scaleByRms', 'decay', decay, decay >= 0 && decay < 1, 'in [0, 1)');
  checkArg('scaleByRms', 'epsilon', epsilon, epsilon >= 0, 'a number ≥ 0');
  const constants = new ScalarCache();
  return {
    name: centered ? 'centredRms' : 'rms',
    init: (params) => initEach<RmsSlots>(params, (p) =>
      centered ? { meanSquare: tf.zerosLike(p), meanGrad: tf.zerosLike(p) } : { meanSquare: tf.zerosLike(p) }),
    update(updates, state, _params, extra) {
      const rho = constants.get(decay);
      const oneMinusRho = constants.get(1 - decay);
      const eps = constants.get(epsilon);
      const out: NamedTensors = {};
      const next: State<RmsSlots> = {};
      const scale: Record<string, Scale> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const slots = state[name];
        const meanSquare = tf.add(tf.mul(slots.meanSquare, rho), tf.mul(tf.square(g), oneMinusRho));
        let variance = meanSquare;
        if ('meanGrad' in slots) {
          const meanGrad = tf.add(tf.mul(slots.meanGrad, rho), tf.mul(g, oneMinusRho));
          variance = tf.sub(meanSquare, tf.square(meanGrad));
          next[name] = { meanSquare, meanGrad };
        } else {
          next[name] = { meanSquare };
        }
        const inverseRms = tf.rsqrt(tf.add(variance, eps));
        out[name] = tf.mul(g, inverseRms);
        if (extra.report) scale[name] = inverseRms;
      }
      return { updates: out, state: next, ...(extra.report ? { scale } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
