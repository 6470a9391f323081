/**
 * The lens as a tfjs-layers callback, for `model.fit` on tensors and `model.fitDataset`. tfjs
 * hands callbacks no batch, so the batch comes from elsewhere:
 * - fitDataset: from `lens.wrap(dataset)`. tfjs reads the batch (the iterator's `next()`) before
 *   it calls `onBatchBegin`, and steps after it, so at `onBatchBegin` the wrapper holds the batch
 *   and the weights are still W_n.
 * - fit: from the tensors, cut as fit cuts them without shuffling (batch b is rows
 *   b·batchSize … of the training part). fit's shuffle order is internal (Math.random): when a
 *   plugin looks at rounds and fit shuffles, the first `onBatchBegin` throws, before any step.
 * Plugins that look at no round need no batch: rounds are then only counted, shuffled or not.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Callback, type Logs } from '@tensorflow/tfjs-layers';
import { StopTraining } from '../stop.js';
import { tensorSamples, type SampleSource } from '../stream/samples.js';
import { batchTaker, type BatchTaker } from '../stream/tensor-batches.js';
import { roundWatchers } from '../driver/round-driver.js';
import type { Lens } from './lens.js';
import { ShuffleDetector } from './shuffle-detector.js';

/** A batch the callback hands the lens (its tensors become the round's). */
export interface TakenBatch {
  x: tf.Tensor;
  y: tf.Tensor;
  indices: Int32Array | null;
}

/** Where the callback's batches come from: a wrapped stream, or the tensors given to fit. */
export type BatchSource =
  | { kind: 'stream'; take(): TakenBatch | null; inputs: SampleSource | null }
  | { kind: 'tensors'; x: tf.Tensor; y: tf.Tensor };

export function shuffleError(lens: Lens): Error {
  const names = roundWatchers(lens.trainer);
  const who = names.length === 0 ? 'a plugin looks' : `${names.join(', ')} ${names.length === 1 ? 'looks' : 'look'}`;
  return new Error(
    `model.fit shuffles the data (shuffle defaults to true) in an order it keeps to itself (Math.random), and ${who} at every batch. `
    + 'Pass shuffle: false to model.fit, or train with taylorlens\'s fit(model, x, y, args): the same arguments, shuffled with a seed, '
    + 'and it returns a History.');
}

interface FitParams {
  epochs?: number;
  initialEpoch?: number;
  samples?: number | null;
  steps?: number | null;
  batchSize?: number | null;
}

export class LensCallback extends Callback {
  private readonly detector = new ShuffleDetector();
  private firstEpoch = true;
  /** fit's rows by index, copied on the host where the backend allows (as the Trainer takes them). */
  private taker: BatchTaker | null = null;

  constructor(private readonly lens: Lens, private readonly source: BatchSource) {
    super();
  }

  private get fitParams(): FitParams {
    return (this.params ?? {}) as FitParams;
  }

  /** fit's training rows and batch size (fitDataset: null). */
  private get cut(): { samples: number; batchSize: number } | null {
    if (this.source.kind !== 'tensors') return null;
    const p = this.fitParams;
    return { samples: p.samples ?? this.source.x.shape[0], batchSize: p.batchSize ?? 32 };
  }

  override async onTrainBegin(): Promise<void> {
    const p = this.fitParams;
    const cut = this.cut;
    const x = this.source.kind === 'tensors' ? this.source.x : null;
    this.lens.setPlan({
      epochs: p.epochs ?? null,
      initialEpoch: p.initialEpoch ?? 0,
      samples: cut?.samples ?? null,
      batchesPerEpoch: cut ? Math.ceil(cut.samples / cut.batchSize) : (p.steps ?? null),
      // fit trains on the first `samples` rows (validationSplit holds out the rest): draw from those.
      inputs: x && cut ? limitedSamples(x, cut.samples) : this.source.kind === 'stream' ? this.source.inputs : null,
      optimizer: (this.model as unknown as { optimizer?: unknown }).optimizer,
    });
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.lens.setEpoch(epoch);
    if (this.source.kind === 'tensors' && this.firstEpoch && this.lens.opensRounds) this.detector.arm();
  }

  override async onBatchBegin(batch: number, logs?: Logs): Promise<void> {
    if (this.lens.stopRequest) return;
    await this.stoppable(async () => {
      if (!this.lens.opensRounds) {
        await this.lens.openCount(this.cut ? this.sizeOf(batch) : Number(logs?.size ?? 0));
        return;
      }
      const b = this.take(batch);
      await this.lens.openBatch(b.x, b.y, b.indices, true);
    });
  }

  override async onBatchEnd(): Promise<void> {
    if (this.lens.roundOpen) await this.stoppable(() => this.lens.closeBatch());
  }

  override async onEpochEnd(_epoch: number, logs?: Logs): Promise<void> {
    this.detector.disarm();
    this.firstEpoch = false;
    if (this.lens.stopRequest) return;
    const v = logs?.val_loss as number | tf.Tensor | undefined;
    const validation = v === undefined ? undefined : typeof v === 'number' ? v : (await v.data())[0];
    await this.stoppable(() => this.lens.closeEpoch(validation));
  }

  override async onTrainEnd(): Promise<void> {
    this.detector.disarm();
    await this.lens.end();
  }

  /** A StopTraining ends fit after this step (tfjs cannot skip a step from a callback). */
  private async stoppable(phase: () => Promise<unknown>): Promise<void> {
    try {
      await phase();
    } catch (e) {
      if (!(e instanceof StopTraining)) {
        this.detector.disarm();
        this.lens.abandon({ error: e });
        await this.lens.end().catch(() => undefined); // the plugins finish (status failed); fit rejects with `e`
        throw e;
      }
      (this.model as unknown as { stopTraining: boolean }).stopTraining = true;
    }
  }

  private sizeOf(b: number): number {
    const { samples, batchSize } = this.cut!;
    return Math.min(samples, (b + 1) * batchSize) - b * batchSize;
  }

  /** Batch `b`: the wrapped stream's, or rows of fit's tensors (after checking fit did not shuffle). */
  private take(b: number): TakenBatch {
    if (this.source.kind === 'stream') {
      const taken = this.source.take();
      if (!taken) throw new Error('no batch for this round: give model.fitDataset the dataset wrapped by lens.wrap(dataset)');
      return taken;
    }
    if (this.detector.armed) {
      const draws = this.detector.disarm();
      if (this.cut!.samples > 1 && draws >= this.cut!.samples) throw shuffleError(this.lens);
    }
    const start = b * this.cut!.batchSize;
    const indices = Int32Array.from({ length: this.sizeOf(b) }, (_, i) => start + i);
    this.taker ??= batchTaker(this.source.x, this.source.y);
    const [x, y] = this.taker(indices, false);
    return { x, y, indices };
  }
}

/** The first `rows` rows of `x` as a sample source (gathered by index, nothing copied up front). */
function limitedSamples(x: tf.Tensor, rows: number): SampleSource {
  const all = tensorSamples(x);
  return { ...all, count: async () => rows };
}
