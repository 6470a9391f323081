import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import type { GradientTransformation } from '../transform.js';

/**
 * Keeps only the sign of each coordinate: output sign(u) ∈ {−1, 0, 1}. A change of direction,
 * not a preconditioner, so it reports no scale (signSGD's step size is its learning rate).
 *
 * References: Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD: Compressed Optimisation
 * for Non-Convex Problems"; Riedmiller & Braun 1993 (sign-based updates in Rprop).
 */
export function scaleBySign(): GradientTransformation<Record<string, never>> {
  return {
    name: 'sign',
    init: () => ({}),
    update(updates) {
      const out: NamedTensors = {};
      for (const name of Object.keys(updates)) out[name] = tf.sign(updates[name]);
      return { updates: out, state: {} };
    },
  };
}
