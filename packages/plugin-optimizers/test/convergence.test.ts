// Optimizers × targets: each optimizer, with a learning rate and step budget picked for it, gets
// close to the minimiser of a quadratic and of Rosenbrock's function from the textbook start.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { namedOptimizers, type NamedOptimizer } from '@taylorlens/plugin-optimizers';
import { freshVariable } from './helpers.js';

interface Target {
  start: [number, number];
  minimiser: [number, number];
  gradient(w: number[]): number[];
}

const targets: Record<'quadratic' | 'rosenbrock', Target> = {
  // f = ½(x − 1)² + 5(y + 2)²: condition number 10.
  quadratic: { start: [-2, 1], minimiser: [1, -2], gradient: ([x, y]) => [x - 1, 10 * (y + 2)] },
  // f = (1 − x)² + 100(y − x²)², from the classic start (−1.2, 1), 2.2 away from (1, 1).
  rosenbrock: {
    start: [-1.2, 1],
    minimiser: [1, 1],
    gradient: ([x, y]) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
  },
};

type Case = [NamedOptimizer, keyof typeof targets, Record<string, number>, steps: number, within: number];
const cases: Case[] = [
  ['sgd', 'quadratic', { learningRate: 0.09 }, 200, 1e-3],
  ['momentum', 'quadratic', { learningRate: 0.02, momentum: 0.8 }, 200, 1e-3],
  ['nesterov', 'quadratic', { learningRate: 0.02, momentum: 0.8 }, 200, 1e-3],
  ['adagrad', 'quadratic', { learningRate: 1 }, 300, 1e-3],
  ['rmsprop', 'quadratic', { learningRate: 0.01 }, 500, 1e-3],
  ['adam', 'quadratic', { learningRate: 0.1 }, 300, 1e-3],
  ['adamw', 'quadratic', { learningRate: 0.1, weightDecay: 1e-4 }, 300, 1e-3],
  ['amsgrad', 'quadratic', { learningRate: 0.1 }, 300, 1e-3],
  ['rprop', 'quadratic', {}, 200, 1e-3],
  ['signSGD', 'quadratic', { learningRate: 0.01 }, 400, 1e-2], // a constant sign step ends within η of the minimum
  ['noisySGD', 'quadratic', { learningRate: 0.09 }, 300, 2e-2], // the gradient noise still has σ ≈ 0.02 at t = 300
  ['sgd', 'rosenbrock', { learningRate: 0.002 }, 8000, 1e-2],
  ['momentum', 'rosenbrock', { learningRate: 0.001, momentum: 0.9 }, 2000, 1e-2],
  ['nesterov', 'rosenbrock', { learningRate: 0.001, momentum: 0.9 }, 2000, 1e-2],
  ['adagrad', 'rosenbrock', { learningRate: 1 }, 5000, 5e-2],
  ['rmsprop', 'rosenbrock', { learningRate: 0.002 }, 4000, 5e-2],
  ['adam', 'rosenbrock', { learningRate: 0.05 }, 2000, 1e-2],
  ['adamw', 'rosenbrock', { learningRate: 0.05, weightDecay: 1e-4 }, 2000, 1e-2],
  ['amsgrad', 'rosenbrock', { learningRate: 0.05 }, 3000, 1e-2],
  ['rprop', 'rosenbrock', {}, 2000, 5e-2],
  // Sign descent with a constant step only reaches a neighbourhood of the curved valley's end.
  ['signSGD', 'rosenbrock', { learningRate: 1e-4 }, 30000, 0.15],
  ['noisySGD', 'rosenbrock', { learningRate: 0.002 }, 8000, 1e-2],
];

describe('convergence table', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it.each(cases)('%s on %s %j: %i steps get within %f', (name, targetName, options, steps, within) => {
    const target = targets[targetName];
    const w = freshVariable(target.start, `${name}_${targetName}`);
    const optimizer = namedOptimizers[name](options);
    for (let i = 0; i < steps; i++) {
      const g = tf.tensor1d(target.gradient(Array.from(w.dataSync())));
      optimizer.applyGradients({ [w.name]: g });
      g.dispose();
    }
    const [x, y] = w.dataSync();
    const distance = Math.hypot(x - target.minimiser[0], y - target.minimiser[1]);
    optimizer.dispose();
    w.dispose();
    expect(distance).toBeLessThan(within);
  });
});
