/**
 * The drop-in `fit(model, x, y, args)`: model.fit's arguments, a History back, and every plugin
 * on, with a seeded shuffle. fit keeps its shuffle order to itself, so this trains through
 * model.fitDataset (tfjs's own loop, steps and callbacks) over the batches the Trainer would cut
 * with the same seed: each epoch a fresh `SeededRandom(seed)` permutation, batch by gather.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  CustomCallback, type CallbackList, type CustomCallbackArgs, type History, type LayersModel, type ModelFitArgs, type ModelFitDatasetArgs,
} from '@tensorflow/tfjs-layers';
import { tensorSamples } from '../stream/samples.js';
import { tensorBatches } from '../stream/tensor-batches.js';
import { instrument, type InstrumentOptions, type Lens } from './lens.js';

/** A callback object: tfjs-layers' BaseCallback, which its index does not export. */
type CallbackObject = Parameters<CallbackList['append']>[0];

/** model.fit's arguments, plus the seed of the shuffle. */
export interface SeededFitArgs extends ModelFitArgs {
  /** Seeds the shuffle (the Trainer's generator: the same seed gives the Trainer's batches). Default 0. */
  seed?: number;
}

/** `fit`'s arguments: model.fit's, the seed, and what `instrument` takes. */
export type DropInFitArgs = SeededFitArgs & Pick<InstrumentOptions, 'plugins' | 'loss' | 'store' | 'inputs'>;

/** model.fit, instrumented: `await fit(model, x, y, { epochs, batchSize, seed, plugins })`. */
export async function fit(model: LayersModel, x: tf.Tensor, y: tf.Tensor, args: DropInFitArgs = {}): Promise<History> {
  const { plugins, loss, store, inputs, ...fitArgs } = args;
  return fitWith(instrument(model, { plugins, loss, store, inputs, seed: args.seed }), x, y, fitArgs);
}

/** The drop-in fit on a lens made with `instrument` (one run per lens). */
export async function fitWith(lens: Lens, x: tf.Tensor, y: tf.Tensor, args: SeededFitArgs = {}): Promise<History> {
  for (const key of ['stepsPerEpoch', 'validationSteps', 'sampleWeight'] as const) {
    if (args[key] != null) throw new Error(`fit: ${key} is not supported (tfjs's fit does not implement it either)`);
  }
  if ((args.shuffle as unknown) === 'batch') throw new Error("fit: shuffle 'batch' is not supported (tfjs's fit does not implement it either)");
  const n = x.shape[0];
  if (y.shape[0] !== n) throw new Error(`fit: x has ${n} samples but y has ${y.shape[0]}`);
  const batchSize = args.batchSize ?? 32;
  // As fit: validationSplit holds out the last rows (ignored when validationData is given).
  const split = args.validationData == null && args.validationSplit != null && args.validationSplit > 0 && args.validationSplit < 1
    ? Math.floor(n * (1 - args.validationSplit)) : n;
  const held: tf.Tensor[] = [];
  const rows = (t: tf.Tensor, from: number, to: number) => {
    if (from === 0 && to === t.shape[0]) return t;
    const s = tf.slice(t, from, to - from);
    held.push(s);
    return s;
  };
  try {
    const xt = rows(x, 0, split);
    const yt = rows(y, 0, split);
    const validationData: ModelFitArgs['validationData'] = split < n ? [rows(x, split, n), rows(y, split, n)] : args.validationData;
    const stream = tensorBatches(xt, yt, { batchSize, shuffle: args.shuffle ?? true, seed: args.seed ?? 0, skipEpochs: args.initialEpoch ?? 0 });
    return await lens.model.fitDataset(lens.wrap(stream), {
      epochs: args.epochs ?? 1,
      initialEpoch: args.initialEpoch,
      verbose: args.verbose as ModelFitDatasetArgs<unknown>['verbose'],
      classWeight: args.classWeight,
      yieldEvery: args.yieldEvery,
      validationData,
      // fit evaluates validation in batches of batchSize; fitDataset's default is 32.
      validationBatchSize: batchSize,
      callbacks: [lens.streamCallback(tensorSamples(xt)), ...userCallbacks(args)],
    });
  } finally {
    for (const t of held) t.dispose();
  }
}

/** The user's callbacks as callback objects (tfjs takes an array of either kind, not a mix). */
function userCallbacks(args: ModelFitArgs): CallbackObject[] {
  const given = args.callbacks;
  if (given == null) return [];
  const list: (CallbackObject | CustomCallbackArgs)[] = Array.isArray(given) ? given : [given];
  return list.map((c) => (isCallbackObject(c) ? c : new CustomCallback(c, args.yieldEvery)));
}

function isCallbackObject(c: CallbackObject | CustomCallbackArgs): c is CallbackObject {
  return typeof (c as CallbackObject).setParams === 'function';
}
