import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, State } from '../transform.js';
import { checkArg, initEach } from './util.js';

export interface TraceOptions {
  /** β, how much of the previous trace is kept. */
  decay: number;
  /** Nesterov's look-ahead: output g + β·m' instead of m'. */
  nesterov?: boolean;
}

/**
 * Momentum: m' = β·m + u, output m' (heavy ball) or u + β·m' (Nesterov), with m₀ = 0 — the
 * formulation of tfjs's MomentumOptimizer and Keras SGD (no dampening).
 *
 * References: Polyak 1964, "Some methods of speeding up the convergence of iteration methods";
 * Nesterov 1983; Sutskever et al. 2013, "On the importance of initialization and momentum in deep learning".
 */
export function trace(options: TraceOptions): GradientTransformation<{ trace: tf.Tensor }> {
  const { decay, nesterov = false } = options;
  checkArg('trace', 'decay', decay, decay >= 0, 'a number ≥ 0');
  const constants = new ScalarCache();
  return {
    name: nesterov ? 'nesterov' : 'momentum',
    init: (params) => initEach(params, (p) => ({ trace: tf.zerosLike(p) })),
    update(updates, state) {
      const beta = constants.get(decay);
      const out: NamedTensors = {};
      const next: State<{ trace: tf.Tensor }> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const m = tf.add(tf.mul(state[name].trace, beta), g);
        out[name] = nesterov ? tf.add(g, tf.mul(m, beta)) : m;
        next[name] = { trace: m };
      }
      return { updates: out, state: next };
    },
    dispose: () => constants.dispose(),
  };
}
