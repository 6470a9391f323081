import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { meanSquaredError, softmaxCrossEntropy, STAGE_ANALYZE, type TaylorLoss, Trainer } from '@taylorlens/core';
import { tinyConv, tinyDense, randomData } from '../../../core/test/helpers/models.js';

export interface NetCase {
  name: string;
  make: () => tfl.LayersModel;
  input: number[];
  loss: TaylorLoss;
  classes: number;
}

export const NETS: NetCase[] = [
  { name: 'dense ReLU, MSE', make: () => tinyDense([5, 4, 3, 6], 1), input: [5], loss: meanSquaredError, classes: 6 },
  { name: 'dense ReLU, cross-entropy', make: () => tinyDense([5, 4, 3, 4], 2), input: [5], loss: softmaxCrossEntropy, classes: 4 },
  { name: 'conv + max-pool, MSE', make: () => tinyConv(3, { input: [6, 6, 2], filters: 2, classes: 3 }), input: [6, 6, 2], loss: meanSquaredError, classes: 3 },
  { name: 'conv + max-pool, cross-entropy', make: () => tinyConv(1, { input: [6, 6, 2], filters: 2, classes: 4 }), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 4 },
];

/** A smooth activation (its derivative comes from autodiff, not a mask). */
export const TANH_NET: NetCase = { name: 'dense tanh, MSE', make: () => tinyDense([5, 4, 3, 6], 4, 'tanh'), input: [5], loss: meanSquaredError, classes: 6 };

export function dataFor(net: NetCase, n: number, seed = 7) {
  return randomData(n, net.input, net.classes, seed, net.loss === softmaxCrossEntropy);
}

/** What the tests keep of each round: the batch, the output, `W_n`, `W_{n+1}`, `ℓ_n`. */
export interface KeptRound {
  round: number;
  x: tf.Tensor;
  y: tf.Tensor2D;
  f: tf.Tensor2D;
  before: tf.Tensor[];
  after: tf.Tensor[];
  loss: number;
}

/** Tap a trainer so every round's data is kept (after the plugin has recorded it). */
export function keepRounds(trainer: Trainer): KeptRound[] {
  const rounds: KeptRound[] = [];
  trainer.hooks.afterBackward.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async (ctx) => {
    rounds.push({
      round: ctx.round, x: ctx.capture.x.clone(), y: ctx.capture.y.clone() as tf.Tensor2D, f: ctx.capture.output.clone() as tf.Tensor2D,
      before: trainer.anatomy.variables.map((v) => v.clone()), after: [], loss: ctx.loss,
    });
  });
  trainer.hooks.afterStep.tapPromise({ name: 'test', stage: STAGE_ANALYZE }, async () => {
    rounds[rounds.length - 1].after = trainer.anatomy.variables.map((v) => v.clone());
  });
  return rounds;
}

export function disposeRounds(rounds: KeptRound[]): void {
  for (const r of rounds) tf.dispose([r.x, r.y, r.f, ...r.before, ...r.after]);
}

export { meanSquaredError, softmaxCrossEntropy };
