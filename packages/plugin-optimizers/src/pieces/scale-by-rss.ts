import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, Scale, State } from '../transform.js';
import { checkArg, initEach } from './util.js';

export interface ScaleByRssOptions {
  /** a₀, the accumulator's starting value (tfjs and Keras: 0.1). */
  initialAccumulatorValue: number;
  /** ε, added under the root as in tfjs's AdagradOptimizer. */
  epsilon: number;
}

/**
 * AdaGrad's scaling by the root of the sum of squared gradients:
 *   a' = a + g²,  output g / √(a' + ε),  a₀ = initialAccumulatorValue.  Scale: 1/√(a' + ε).
 *
 * References: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
 * Stochastic Optimization"; optax `scale_by_rss`.
 */
export function scaleByRss(options: ScaleByRssOptions): GradientTransformation<{ sumOfSquares: tf.Tensor }> {
  const { initialAccumulatorValue, epsilon } = options;
  checkArg('scaleByRss', 'initialAccumulatorValue', initialAccumulatorValue, initialAccumulatorValue >= 0, 'a number ≥ 0');
  checkArg('scaleByRss', 'epsilon', epsilon, epsilon >= 0, 'a number ≥ 0');
  const constants = new ScalarCache();
  return {
    name: 'rss',
    init: (params) => initEach(params, (p) => ({ sumOfSquares: tf.fill(p.shape, initialAccumulatorValue, 'float32') })),
    update(updates, state, _params, extra) {
      const eps = constants.get(epsilon);
      const out: NamedTensors = {};
      const next: State<{ sumOfSquares: tf.Tensor }> = {};
      const scale: Record<string, Scale> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const sumOfSquares = tf.add(state[name].sumOfSquares, tf.square(g));
        const inverseRoot = tf.rsqrt(tf.add(sumOfSquares, eps));
        out[name] = tf.mul(g, inverseRoot);
        next[name] = { sumOfSquares };
        if (extra.report) scale[name] = inverseRoot;
      }
      return { updates: out, state: next, ...(extra.report ? { scale } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
