/**
 * The recorder as a tfjs-layers callback, built on core's ObserverCallback (which turns tfjs's
 * epoch callbacks into EpochObserver calls with the model's anatomy); rounds come from `onBatchEnd`.
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ObserverCallback, type EpochObserver, type ModelAnatomy } from '@taylorlens/core';
import { PLUGIN_NAME } from './options.js';
import type { ActivationRecorder, SnapshotEvent } from './recorder.js';

export interface ActivationCallbackOptions {
  /** Output activation the loss absorbs (e.g. 'softmax' for cross-entropy on logits); see modelAnatomy. */
  lossAbsorbs?: string | null;
  /** Called after each snapshot (the trainer emits `activation:snapshot` instead). */
  onSnapshot?: (e: SnapshotEvent) => void;
}

type MutableObserver = { -readonly [K in keyof EpochObserver]: EpochObserver[K] };

export class ActivationCallback extends ObserverCallback {
  private rounds = 0;

  constructor(readonly recorder: ActivationRecorder, opts: ActivationCallbackOptions = {}) {
    // ObserverCallback holds the observer; its methods need `this`, so they are filled in below.
    const observer: MutableObserver = { name: PLUGIN_NAME };
    super(observer, { lossAbsorbs: opts.lossAbsorbs ?? null });
    observer.onTrainBegin = (model: LayersModel, anatomy: ModelAnatomy) => {
      this.rounds = 0;
      return recorder.begin({
        model, anatomy, batchesPerEpoch: this.batchesPerEpoch(), start: { epoch: 0, round: 0 },
        outDir: recorder.options.outDir ?? null, onSnapshot: opts.onSnapshot, warn: (m) => console.warn(m),
      });
    };
    observer.onEpochEnd = (_model, _anatomy, epoch, row) => recorder.afterEpoch(epoch, this.rounds, row);
    observer.onTrainEnd = async () => { await recorder.end('completed'); };
  }

  override async onBatchEnd(): Promise<void> {
    this.rounds += 1;
    await this.recorder.afterRound(this.rounds);
  }

  /** Rounds per epoch from tfjs's fit parameters, when it says. */
  private batchesPerEpoch(): number | null {
    const { samples, batchSize } = (this.params ?? {}) as { samples?: unknown; batchSize?: unknown };
    return typeof samples === 'number' && typeof batchSize === 'number' && batchSize > 0 ? Math.ceil(samples / batchSize) : null;
  }
}
