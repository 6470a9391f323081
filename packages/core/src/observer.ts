import * as tf from '@tensorflow/tfjs-core';
import { Callback, type LayersModel, type Logs } from '@tensorflow/tfjs-layers';
import { modelAnatomy, type ModelAnatomy } from './anatomy.js';
import { BatchCapture, type CaptureNeeds, forward, NO_NEEDS } from './capture.js';
import type { MetricsRow } from './events.js';
import type { Trainer } from './trainer.js';

/**
 * An observer that needs only the model once per epoch (a probe, an evaluation), so it works
 * both in our trainer (`observerPlugin`) and in plain `model.fit` (`observerCallback`).
 */
export interface EpochObserver {
  readonly name: string;
  onTrainBegin?(model: LayersModel, anatomy: ModelAnatomy): Promise<void> | void;
  /** `epoch` is 0-based; `row` receives plain numbers for the epoch's metrics. */
  onEpochEnd?(model: LayersModel, anatomy: ModelAnatomy, epoch: number, row: MetricsRow): Promise<void> | void;
  onTrainEnd?(model: LayersModel, anatomy: ModelAnatomy): Promise<void> | void;
}

/** Taps an observer into the trainer's run and epoch hooks. */
export function attachObserver(trainer: Trainer, observer: EpochObserver): void {
  const { model, anatomy } = trainer;
  trainer.hooks.beforeRun.tapPromise(observer.name, async () => { await observer.onTrainBegin?.(model, anatomy); });
  trainer.hooks.afterEpoch.tapPromise(observer.name, async (e) => { await observer.onEpochEnd?.(model, anatomy, e.epoch, e.row); });
  trainer.hooks.afterRun.tapPromise(observer.name, async () => { await observer.onTrainEnd?.(model, anatomy); });
}

/** The same observer as a tfjs-layers callback for `model.fit(x, y, { callbacks: [...] })`. */
export class ObserverCallback extends Callback {
  private anatomy?: ModelAnatomy;
  readonly rows: MetricsRow[] = [];

  constructor(private readonly observer: EpochObserver, private readonly opts: { lossAbsorbs?: string | null } = {}) {
    super();
  }

  private anatomyOf(): ModelAnatomy {
    this.anatomy ??= modelAnatomy(this.model as unknown as LayersModel, { lossAbsorbs: this.opts.lossAbsorbs ?? null });
    return this.anatomy;
  }

  override async onTrainBegin(): Promise<void> {
    await this.observer.onTrainBegin?.(this.model as unknown as LayersModel, this.anatomyOf());
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const row: MetricsRow = { epoch: epoch + 1 };
    // tfjs may hand scalars as tensors here; rows hold plain numbers.
    for (const [k, v] of Object.entries(logs ?? {})) {
      row[k] = typeof v === 'number' ? v : (await (v as tf.Tensor).data())[0];
    }
    await this.observer.onEpochEnd?.(this.model as unknown as LayersModel, this.anatomyOf(), epoch, row);
    this.rows.push(row);
  }

  override async onTrainEnd(): Promise<void> {
    await this.observer.onTrainEnd?.(this.model as unknown as LayersModel, this.anatomyOf());
  }
}

export function observerCallback(observer: EpochObserver, opts: { lossAbsorbs?: string | null } = {}): ObserverCallback {
  return new ObserverCallback(observer, opts);
}

/**
 * A forward pass outside training (a probe set, a test), capturing what `needs` asks for.
 * The caller owns the returned capture and must `dispose()` it.
 */
export function captureForward(anatomy: ModelAnatomy, x: tf.Tensor, needs: Partial<CaptureNeeds> = { preActivations: true }): BatchCapture {
  const capture = new BatchCapture(anatomy, x, x);
  const full = { ...NO_NEEDS, ...needs };
  tf.tidy(() => { capture.output = tf.keep(forward(anatomy, x, full, capture)); });
  return capture;
}
