/**
 * taylorlens inside training code it does not own. `instrument(model, { loss, plugins })` applies
 * the plugins to a Trainer that never steps itself, and drives that trainer's rounds (the same
 * RoundDriver its own `fit` uses) from the user's loop, from tfjs callbacks or from the drop-in
 * `fit`. The step stays the user's: taylorlens runs its own pass at W_n for the captures and reads
 * the weights after the step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { opensRounds, type OpenRound, type RoundDriver, type RoundPlace } from '../driver/round-driver.js';
import type { EventBus } from '../events.js';
import type { RunContext, RunSummary, TrainerHooks } from '../hooks.js';
import type { TaylorLoss } from '../losses.js';
import type { Plugin } from '../plugin.js';
import { StopTraining } from '../stop.js';
import { isDatasetLike, type DatasetLike } from '../stream/dataset.js';
import { streamSamples, tensorSamples, type SampleSource } from '../stream/samples.js';
import { Trainer } from '../trainer.js';
import type { RunStoreLike } from '../types.js';
import { BatchQueue, type WrappedDataset } from './batch-queue.js';
import { LensCallback } from './callback.js';
import { UsersOwnStep } from './users-own-step.js';

export interface InstrumentOptions {
  /** The loss ℓ(f, y) the plugins measure; default the model's compiled loss. */
  loss?: TaylorLoss | string;
  plugins?: Plugin[];
  /** The optimizer your step uses (default the compiled one): a taylorlens optimizer then reports its steps. */
  optimizer?: tf.Optimizer;
  /** Run folder for the plugins' files; default none (results in memory). */
  store?: RunStoreLike;
  /** Epochs your loop will run, when you know (plugins plan with it: regret's cost check, its last checkpoint). */
  epochs?: number;
  /**
   * Your loop's epochs in rounds: an epoch ends by itself after every that many rounds. Without
   * it, call `epochEnd()` where your epochs end (or never: `end()` closes the one epoch then).
   */
  roundsPerEpoch?: number;
  /** Handed to the plugins (RunContext.seed). Default 0. */
  seed?: number;
  /** The training inputs (tensors or a stream) for plugins that draw samples: the activation probe set. */
  inputs?: tf.Tensor | DatasetLike;
}

/** What the training loop says about itself when it starts (tfjs callbacks fill it from `params`). */
export interface TrainingPlan {
  epochs?: number | null;
  batchesPerEpoch?: number | null;
  samples?: number | null;
  initialEpoch?: number | null;
  inputs?: SampleSource | null;
  optimizer?: unknown;
}

export class Lens {
  /** The plugins' host: its hooks and events are the ones the plugins tapped. It never steps. */
  readonly trainer: Trainer;
  private driver: RoundDriver | null = null;
  private open: OpenRound | null = null;
  /** A round that is only counted (no plugin looks at rounds). */
  private counted: RoundPlace | null = null;
  private epoch = 0;
  private nextEpoch = 0;
  private batch = 0;
  private position = 0;
  private plan: TrainingPlan = {};
  private stopped: StopTraining | null = null;
  private failed: { error: unknown } | null = null;
  private summary: RunSummary | null = null;
  private readonly queue = new BatchQueue(() => this.opensRounds);
  private wrapped: DatasetLike<unknown> | null = null;

  constructor(readonly model: LayersModel, private readonly opts: InstrumentOptions = {}) {
    const compiled = (model as unknown as { optimizer?: tf.Optimizer }).optimizer;
    this.trainer = new Trainer(model, { loss: opts.loss, optimizer: opts.optimizer ?? compiled ?? new UsersOwnStep(), plugins: opts.plugins, store: opts.store });
  }

  get hooks(): TrainerHooks {
    return this.trainer.hooks;
  }

  get events(): EventBus {
    return this.trainer.events;
  }

  /**
   * Whether plugins look at every round (its batch, W_n, the step): then the batches must be
   * known exactly (model.fit must not shuffle). Else rounds are only counted and cost nothing.
   */
  get opensRounds(): boolean {
    return opensRounds(this.trainer);
  }

  /** ℓ_n of the latest round (NaN when no plugin asked for the round's pass). */
  get lastLoss(): number {
    return this.driver?.summary.lastLoss ?? NaN;
  }

  /** Why training should stop (a plugin's StopTraining, divergence), once it should. */
  get stopRequest(): StopTraining | null {
    return this.stopped;
  }

  /**
   * One round of your loop: the plugins see the batch and W_n, then `step` (your own update,
   * e.g. `() => optimizer.minimize(lossFn)`) runs, then they see W_{n+1}. Returns what `step`
   * returns. Throws StopTraining when a plugin stops the run or the loss diverges (then `end()`).
   */
  async round<T>(x: tf.Tensor, y: tf.Tensor, step: () => T | Promise<T>): Promise<T> {
    await this.before(x, y);
    let out: T;
    try {
      out = await step();
    } catch (e) {
      this.abandon({ error: e });
      throw e;
    }
    await this.after();
    return out;
  }

  /** The first half of `round`: call just before your step (the tensors stay yours). */
  async before(x: tf.Tensor, y: tf.Tensor): Promise<void> {
    if (this.opensRounds) await this.openBatch(x, y, null, false);
    else await this.openCount(x.shape[0]);
  }

  /** The second half of `round`: call just after your step. Returns ℓ_n. */
  async after(): Promise<number> {
    const loss = await this.closeBatch();
    const per = this.opts.roundsPerEpoch;
    if (per && this.driver?.currentEpoch && this.batch >= per) await this.closeEpoch();
    return loss;
  }

  /** Your epoch ended: plugins that work per epoch run now (regret checkpoints, activation snapshots). */
  async epochEnd(validationLoss?: number): Promise<void> {
    if (this.opts.roundsPerEpoch) throw new Error(`epochs end by themselves every ${this.opts.roundsPerEpoch} rounds (roundsPerEpoch)`);
    await this.closeEpoch(validationLoss);
  }

  /**
   * Training is over: the last epoch (rounds since the last `epochEnd`) is closed and the plugins
   * finish (final checkpoints, measures, files). Returns the run's summary.
   */
  async end(): Promise<RunSummary> {
    if (this.summary) return this.summary;
    this.queue.dispose();
    if (this.roundOpen) this.abandon(null);
    if (!this.stopped && !this.failed && this.driver?.currentEpoch && this.batch > 0) {
      await this.guard(() => this.driver!.endEpoch(undefined));
    }
    const d = this.driver;
    if (!d) {
      this.summary = { status: 'completed', epochsCompleted: 0, rounds: 0, lastLoss: NaN, epochLoss: [], valLoss: [] };
      return this.summary;
    }
    const outcome = this.failed ?? (this.stopped ? { error: this.stopped } : null);
    try {
      this.summary = await d.finish(outcome);
    } catch (e) {
      if (!outcome || e !== outcome.error) throw e;
      this.summary = d.summary; // the failure was thrown where it happened
    }
    return this.summary;
  }

  /**
   * The dataset for `model.fitDataset(lens.wrap(ds), { callbacks: [lens.callback()] })`: every
   * batch fitDataset reads reaches the plugins. Plugins that draw samples (the activation probe
   * set) read them from passes of their own over `ds` unless `inputs` was given.
   */
  wrap<T>(dataset: DatasetLike<T>): WrappedDataset<T> {
    this.wrapped = dataset;
    return this.queue.wrap(dataset);
  }

  /**
   * The tfjs callback: `lens.callback()` for model.fitDataset over `lens.wrap(ds)`;
   * `lens.callback(x, y)` for `model.fit(x, y, { shuffle: false, ... })`, whose batches it cuts
   * from `x`, `y` the way fit does.
   */
  callback(x?: tf.Tensor, y?: tf.Tensor): LensCallback {
    if ((x === undefined) !== (y === undefined)) throw new Error('lens.callback(x, y): give both the inputs and the targets (or neither, for fitDataset)');
    if (x && y) return new LensCallback(this, { kind: 'tensors', x, y });
    return this.streamCallback(null);
  }

  /** The callback for a wrapped stream; `inputs`: where plugins draw samples instead of the stream. */
  streamCallback(inputs: SampleSource | null): LensCallback {
    return new LensCallback(this, { kind: 'stream', take: () => this.queue.take(), inputs });
  }

  // --- the phases, shared by the loop API and the tfjs callbacks -------------------------------

  /** What the loop says about itself (tfjs callbacks: fit's params), before the first round. */
  setPlan(plan: TrainingPlan): void {
    if (this.driver) throw new Error('the lens is already running: one training run per lens');
    this.plan = plan;
    this.nextEpoch = plan.initialEpoch ?? 0;
  }

  /** The epoch tfjs is beginning (callbacks). */
  setEpoch(epoch: number): void {
    this.nextEpoch = epoch;
  }

  /** The start of a round: the driver (at the first) and the epoch (at its first). */
  private async enter(size: number): Promise<RoundDriver> {
    if (this.roundOpen) throw new Error('a round is open: call after() (or finish the step) before the next before()');
    this.throwIfOver();
    const d = await this.started(size);
    if (!d.currentEpoch) await this.guard(() => this.beginEpoch());
    d.checkStop();
    return d;
  }

  private positions(size: number): Int32Array {
    return Int32Array.from({ length: size }, (_, i) => this.position + i);
  }

  /** A round no plugin looks at: only counted when it closes. */
  async openCount(size: number): Promise<void> {
    try {
      await this.enter(size);
      this.counted = { epoch: this.epoch, batch: this.batch, indices: this.positions(size) };
    } catch (e) {
      this.noteStop(e);
      throw e;
    }
  }

  /** W_n and the batch: the pass and the hooks up to beforeStep. `indices` default to positions in the epoch. */
  async openBatch(x: tf.Tensor, y: tf.Tensor, indices: Int32Array | null, ownsBatch: boolean): Promise<void> {
    let round: OpenRound | null = null;
    try {
      const d = await this.enter(x.shape[0]);
      const place = { epoch: this.epoch, batch: this.batch, indices: indices ?? this.positions(x.shape[0]) };
      round = await this.guard(() => d.openRound(x, y, place, ownsBatch));
      this.open = round;
      await this.guard(() => d.beforeExternalStep(round!));
    } catch (e) {
      if (round) this.abandon(null);
      else if (ownsBatch) tf.dispose([x, y]); // (openRound disposes it on its own failure; twice is harmless)
      this.noteStop(e);
      throw e;
    }
  }

  /** W_{n+1}: afterStep and afterBatch. Returns ℓ_n (NaN for a round only counted). */
  async closeBatch(): Promise<number> {
    const counted = this.counted;
    if (counted) {
      this.counted = null;
      this.driver!.countRound(counted);
      this.batch += 1;
      this.position += counted.indices.length;
      return NaN;
    }
    const round = this.open;
    if (!round) throw new Error('no round is open: call before() first');
    this.open = null;
    const d = this.driver!;
    try {
      const loss = await this.guard(() => d.closeRound(round, d.afterExternalStep()));
      this.batch += 1;
      this.position += round.ctx.indices.length;
      return loss;
    } catch (e) {
      d.release(round);
      this.noteStop(e);
      throw e;
    }
  }

  /** The step failed or was skipped: drop the open round. A failure ends the run's accounting. */
  abandon(failure: { error: unknown } | null): void {
    if (this.open) this.driver?.release(this.open);
    this.open = null;
    this.counted = null;
    if (failure && !(failure.error instanceof StopTraining)) this.failed ??= failure;
  }

  /** Close the current epoch (an empty one too, when asked explicitly). */
  async closeEpoch(validationLoss?: number): Promise<void> {
    this.throwIfOver();
    const d = await this.started(0);
    if (!d.currentEpoch) await this.guard(() => this.beginEpoch());
    try {
      await this.guard(() => d.endEpoch(validationLoss === undefined ? undefined : async () => validationLoss));
      d.checkStop();
    } catch (e) {
      this.noteStop(e);
      throw e;
    }
    this.nextEpoch = this.epoch + 1;
  }

  /** Whether a round is open (callbacks skip the end of a round they could not open). */
  get roundOpen(): boolean {
    return this.open !== null || this.counted !== null;
  }

  /** Training samples the loop said it has (0 when it did not). */
  get plannedSamples(): number {
    return this.plan.samples ?? 0;
  }

  private async beginEpoch(): Promise<void> {
    this.epoch = this.nextEpoch;
    this.batch = 0;
    this.position = 0;
    await this.driver!.beginEpoch(this.epoch);
  }

  /** The driver, started on first use (beforeRun sees the first batch's size). */
  private async started(batchSize: number): Promise<RoundDriver> {
    if (this.driver) return this.driver;
    const o = this.opts;
    const p = this.plan;
    const run: RunContext = Object.freeze({
      anatomy: this.trainer.anatomy,
      epochs: o.epochs ?? p.epochs ?? 0,
      batchSize,
      batchesPerEpoch: o.roundsPerEpoch ?? p.batchesPerEpoch ?? 0,
      samples: p.samples ?? (o.inputs instanceof tf.Tensor ? o.inputs.shape[0] : 0),
      seed: o.seed ?? 0,
      backend: tf.getBackend(),
      initialEpoch: p.initialEpoch ?? 0,
      store: this.trainer.store,
      x: null,
      y: null,
      inputs: this.inputs(),
    });
    const start = { epoch: run.initialEpoch, round: run.initialEpoch * run.batchesPerEpoch };
    const d = this.trainer.driver(run, 'external', start);
    this.driver = d;
    try {
      await d.start(p.optimizer ?? o.optimizer ?? (this.model as unknown as { optimizer?: unknown }).optimizer);
    } catch (e) {
      this.failed = { error: e };
      await this.end();
      throw e;
    }
    return d;
  }

  private inputs(): SampleSource | null {
    const given = this.opts.inputs;
    if (given instanceof tf.Tensor) return tensorSamples(given);
    if (isDatasetLike(given)) return streamSamples(given, { batches: this.plan.batchesPerEpoch });
    if (this.plan.inputs) return this.plan.inputs;
    return this.wrapped ? streamSamples(this.wrapped, { batches: this.plan.batchesPerEpoch }) : null;
  }

  /** Run a phase; a failure that is not a stop ends the run as failed (plugins' afterRun, then rethrown). */
  private async guard<T>(phase: () => Promise<T>): Promise<T> {
    try {
      return await phase();
    } catch (e) {
      if (!(e instanceof StopTraining)) this.failed ??= { error: e };
      throw e;
    }
  }

  private noteStop(e: unknown): void {
    if (e instanceof StopTraining) this.stopped ??= e;
  }

  private throwIfOver(): void {
    if (this.summary) throw new Error('this lens has ended: instrument the model again for another run');
    if (this.stopped) throw this.stopped;
    if (this.failed) throw this.failed.error;
  }
}

/** Instrument `model` for training that runs elsewhere: a hand-written loop, model.fit, model.fitDataset. */
export function instrument(model: LayersModel, opts: InstrumentOptions = {}): Lens {
  return new Lens(model, opts);
}
