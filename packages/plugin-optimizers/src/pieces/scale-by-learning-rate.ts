import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, ScalarFactor, Schedule } from '../transform.js';
import { uniformScale } from './util.js';

/**
 * u ← −η_t · u, with η_t a constant or a schedule of the step: turns a descent direction into
 * the update added to the weights (the sign flip makes it descent). Reports η_t as the learning
 * rate and |η_t| as its scale. Put it last in a chain, which folds it into the previous piece's
 * own scalar multiply where there is one.
 *
 * References: Robbins & Monro 1951, "A Stochastic Approximation Method"; optax `scale_by_learning_rate`.
 */
export function scaleByLearningRate(learningRate: number | Schedule): GradientTransformation<Record<string, never>> {
  const constants = new ScalarCache();
  const rateAt = typeof learningRate === 'function' ? learningRate : () => learningRate;
  const scalarFactor = (extra: { step: number }): ScalarFactor => {
    const rate = rateAt(extra.step);
    if (typeof rate !== 'number' || !Number.isFinite(rate)) {
      throw new RangeError(`scaleByLearningRate: learning rate at step ${extra.step} must be a finite number, got ${String(rate)}`);
    }
    return { factor: -rate, learningRate: rate, scale: Math.abs(rate) };
  };
  return {
    name: 'lr',
    init: () => ({}),
    scalarFactor,
    update(updates, _state, _params, extra) {
      const { factor, learningRate: rate } = scalarFactor(extra);
      // A constant rate hits the cache every step; a schedule makes one scalar per step.
      const c = typeof learningRate === 'function' ? tf.scalar(factor) : constants.get(factor);
      const out: NamedTensors = {};
      for (const name of Object.keys(updates)) out[name] = tf.mul(updates[name], c);
      return { updates: out, state: {}, learningRate: rate, ...(extra.report ? { scale: uniformScale(updates, Math.abs(factor)) } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
