/**
 * The recorder as a tfjs-layers callback for plain `model.fit`: training begins, epochs end (with
 * the epoch's row of metrics) and rounds come from `onBatchEnd`. It needs nothing but the model,
 * so it works for any model tfjs can fit, functional DAGs included.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Callback, type LayersModel, type Logs } from '@tensorflow/tfjs-layers';
import type { MetricsRow } from '@taylorlens/core';
import type { ActivationRecorder, SnapshotEvent } from './recorder.js';

export interface ActivationCallbackOptions {
  /** Output activation the loss absorbs (e.g. 'softmax' for cross-entropy on logits); kept for compatibility, not needed. */
  lossAbsorbs?: string | null;
  /** Called after each snapshot (the trainer emits `activation:snapshot` instead). */
  onSnapshot?: (e: SnapshotEvent) => void;
}

export class ActivationCallback extends Callback {
  /** One row per epoch: `epoch` (1-based), tfjs's logs, and the activation fields when a snapshot was taken. */
  readonly rows: MetricsRow[] = [];
  private rounds = 0;

  constructor(readonly recorder: ActivationRecorder, private readonly opts: ActivationCallbackOptions = {}) {
    super();
  }

  override async onTrainBegin(): Promise<void> {
    this.rounds = 0;
    await this.recorder.begin({
      model: this.model as unknown as LayersModel, batchesPerEpoch: this.batchesPerEpoch(), start: { epoch: 0, round: 0 },
      outDir: this.recorder.options.outDir ?? null, onSnapshot: this.opts.onSnapshot, warn: (m) => console.warn(m),
    });
  }

  override async onBatchEnd(): Promise<void> {
    this.rounds += 1;
    await this.recorder.afterRound(this.rounds);
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const row: MetricsRow = { epoch: epoch + 1 };
    // tfjs may hand scalars as tensors here; rows hold plain numbers.
    for (const [k, v] of Object.entries(logs ?? {})) {
      row[k] = typeof v === 'number' ? v : (await (v as tf.Tensor).data())[0];
    }
    await this.recorder.afterEpoch(epoch, this.rounds, row);
    this.rows.push(row);
  }

  override async onTrainEnd(): Promise<void> {
    await this.recorder.end('completed');
  }

  /** Rounds per epoch from tfjs's fit parameters, when it says. */
  private batchesPerEpoch(): number | null {
    const { samples, batchSize } = (this.params ?? {}) as { samples?: unknown; batchSize?: unknown };
    return typeof samples === 'number' && typeof batchSize === 'number' && batchSize > 0 ? Math.ceil(samples / batchSize) : null;
  }
}
