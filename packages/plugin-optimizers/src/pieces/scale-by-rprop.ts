import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { ScalarCache } from '../constants.js';
import type { GradientTransformation, Scale, State } from '../transform.js';
import { checkArg, initEach } from './util.js';

export interface ScaleByRpropOptions {
  /** Δ₀, every weight's first step size. */
  initialStepSize: number;
  /** η⁻ < 1, shrink factor after a sign change. */
  etaMinus: number;
  /** η⁺ > 1, growth factor while the sign holds. */
  etaPlus: number;
  minStepSize: number;
  maxStepSize: number;
}

type RpropSlots = { previousGradient: tf.Tensor; stepSize: tf.Tensor };

/**
 * iRprop− per-weight step sizes. With p = g·g_prev per weight:
 *   p > 0: Δ' = min(η⁺Δ, Δmax);   p < 0: Δ' = max(η⁻Δ, Δmin) and g := 0;   p = 0: Δ' = Δ;
 *   output sign(g)·Δ' (after the zeroing), store g as g_prev. g_prev₀ = 0, Δ₀ = initialStepSize.
 * Scale: Δ' (the step each weight takes along its sign). Meant for full-batch gradients.
 *
 * References: Riedmiller & Braun 1993, "A Direct Adaptive Method for Faster Backpropagation Learning:
 * The RPROP Algorithm"; Igel & Hüsken 2000, "Improving the Rprop Learning Algorithm" (iRprop−).
 */
export function scaleByRprop(options: ScaleByRpropOptions): GradientTransformation<RpropSlots> {
  const { initialStepSize, etaMinus, etaPlus, minStepSize, maxStepSize } = options;
  checkArg('scaleByRprop', 'etaMinus', etaMinus, etaMinus > 0 && etaMinus < 1, 'in (0, 1)');
  checkArg('scaleByRprop', 'etaPlus', etaPlus, etaPlus > 1, 'greater than 1');
  checkArg('scaleByRprop', 'minStepSize', minStepSize, minStepSize >= 0, 'a number ≥ 0');
  checkArg('scaleByRprop', 'maxStepSize', maxStepSize, maxStepSize >= minStepSize, `≥ minStepSize (${minStepSize})`);
  checkArg('scaleByRprop', 'initialStepSize', initialStepSize, initialStepSize > 0, 'a number > 0');
  const constants = new ScalarCache();
  // With s = sign(p): factor = 1 + a·s + b·|s| gives η⁺ for s = 1, η⁻ for s = −1, 1 for s = 0.
  const a = (etaPlus - etaMinus) / 2;
  const b = (etaPlus + etaMinus) / 2 - 1;
  return {
    name: 'rprop',
    init: (params) => initEach(params, (p) => ({
      previousGradient: tf.zerosLike(p),
      stepSize: tf.fill(p.shape, initialStepSize, 'float32'),
    })),
    update(updates, state, _params, extra) {
      const out: NamedTensors = {};
      const next: State<RpropSlots> = {};
      const scale: Record<string, Scale> = {};
      for (const name of Object.keys(updates)) {
        const g = updates[name];
        const { previousGradient, stepSize } = state[name];
        const agreement = tf.sign(tf.mul(g, previousGradient));
        const factor = tf.add(tf.add(tf.mul(agreement, constants.get(a)), tf.mul(tf.abs(agreement), constants.get(b))), constants.get(1));
        const newStepSize = tf.clipByValue(tf.mul(stepSize, factor), minStepSize, maxStepSize);
        // step(s + 1) is 0 where the sign flipped (s = −1), else 1: iRprop− forgets that gradient.
        const kept = tf.mul(g, tf.step(tf.add(agreement, constants.get(1))));
        out[name] = tf.mul(tf.sign(kept), newStepSize);
        next[name] = { previousGradient: kept, stepSize: newStepSize };
        if (extra.report) scale[name] = newStepSize;
      }
      return { updates: out, state: next, ...(extra.report ? { scale } : {}) };
    },
    dispose: () => constants.dispose(),
  };
}
