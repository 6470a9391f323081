import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { drawSeed, gaussianSamples, hashString } from '../random.js';
import type { GradientTransformation } from '../transform.js';
import { checkArg } from './util.js';

export interface AddAnnealedNoiseOptions {
  /** η, the noise variance at t = 0 (the paper tries 0.01, 0.3, 1.0). */
  eta: number;
  /** γ, the annealing exponent (the paper uses 0.55). */
  gamma: number;
  /** Seed of the counter-based generator: same seed, same noise. */
  seed: number;
}

/**
 * Annealed Gaussian gradient noise: u ← u + N(0, σ_t²), σ_t² = η / (1 + t)^γ, t = step (0 first).
 * The sample for each variable is a pure function of (seed, t, variable name), drawn in JS and
 * uploaded as one tensor. Reports no scale (it is an additive term).
 *
 * References: Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach & Martens 2016, "Adding Gradient
 * Noise Improves Learning for Very Deep Networks" (eq. 1); optax `add_noise`.
 */
export function addAnnealedNoise(options: AddAnnealedNoiseOptions): GradientTransformation<Record<string, never>> {
  const { eta, gamma, seed } = options;
  checkArg('addAnnealedNoise', 'eta', eta, eta >= 0, 'a number ≥ 0');
  checkArg('addAnnealedNoise', 'gamma', gamma, gamma >= 0, 'a number ≥ 0');
  checkArg('addAnnealedNoise', 'seed', seed, Number.isInteger(seed), 'an integer');
  const nameHashes = new Map<string, number>();
  const hashOf = (name: string): number => {
    let h = nameHashes.get(name);
    if (h === undefined) nameHashes.set(name, (h = hashString(name)));
    return h;
  };
  return {
    name: 'noise',
    init: () => ({}),
    update(updates, _state, _params, extra) {
      const std = annealedNoiseStd(eta, gamma, extra.step);
      if (std === 0) return { updates, state: {} };
      const out: NamedTensors = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const noise = gaussianSamples(g.size, std, drawSeed(seed, extra.step, hashOf(name)));
        out[name] = tf.add(g, tf.tensor(noise, g.shape, 'float32'));
      }
      return { updates: out, state: {} };
    },
  };
}

/** σ_t, the noise standard deviation `addAnnealedNoise` uses at a step (for tests and plots). */
export function annealedNoiseStd(eta: number, gamma: number, step: number): number {
  return Math.sqrt(eta / (1 + step) ** gamma);
}
