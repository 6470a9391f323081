import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, Scale } from '../transform.js';
import { checkArg } from './util.js';

/**
 * Rescales all updates together so that their joint L2 norm is at most c:
 *   n = √(Σ_vars Σ u²),  u ← u · c / max(n, c).
 * Stays on the device (no read-back of n). Scale: c / max(n, c), the same for every weight.
 *
 * References: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural
 * networks" (§3.2); optax `clip_by_global_norm`.
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<Record<string, never>> {
  checkArg('clipByGlobalNorm', 'maxNorm', maxNorm, maxNorm > 0, 'a number > 0');
  const constants = new ScalarCache();
  return {
    name: 'clip',
    init: () => ({}),
    update(updates, _state, _params, extra) {
      const names = Object.keys(updates);
      if (names.length === 0) return { updates, state: {} };
      const c = constants.get(maxNorm);
      const squares = names.map((name) => tf.sum(tf.square(updates[name])));
      const norm = tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares));
      const factor = tf.div(c, tf.maximum(norm, c));
      const out: NamedTensors = {};
      const scale: Record<string, Scale> = {};
      for (const name of names) {
        out[name] = tf.mul(updates[name], factor);
        if (extra.report) scale[name] = factor;
      }
      return { updates: out, state: {}, ...(extra.report ? { scale } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
