import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

let counter = 0;
/** A variable with a name no other test uses (tfjs variable names are global). */
export function freshVariable(values: number[] | tf.Tensor, prefix = 'v'): tf.Variable {
  const initial = Array.isArray(values) ? tf.tensor1d(values) : values;
  const v = tf.variable(initial, true, `${prefix}_${++counter}`);
  if (Array.isArray(values)) initial.dispose();
  return v;
}

/** |actual − expected| ≤ atol + rtol·|expected| element-wise, with the worst offender in the message. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { rtol = 1e-5, atol = 1e-6 } = {}): void {
  expect(actual.length).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`element ${worst}: got ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** A step's gradient fed to `applyGradients`, disposed after. */
export function applyGradient(optimizer: tf.Optimizer, variable: tf.Variable, gradient: number[]): void {
  const g = tf.tensor(gradient, variable.shape);
  optimizer.applyGradients({ [variable.name]: g });
  g.dispose();
}
