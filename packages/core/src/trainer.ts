import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelAnatomy, type ModelAnatomy } from './anatomy.js';
import { type CaptureNeeds, NO_NEEDS, forward } from './capture.js';
import { emptyPlan, mergePlan, type DerivedRequest, type JacobianPlan } from './derived/round-jacobians.js';
import { RoundDriver, type DriverControl, type StepOwner } from './driver/round-driver.js';
import { createEventBus, type EventBus } from './events.js';
import { createHooks, type RunContext, type RunStatus, type RunSummary, type TrainerHooks } from './hooks.js';
import { resolveLoss, type TaylorLoss } from './losses.js';
import type { Plugin } from './plugin.js';
import { SeededRandom } from './random.js';
import { StopTraining } from './stop.js';
import { batchTensors, knownSize, type DatasetLike } from './stream/dataset.js';
import { streamSamples, tensorSamples } from './stream/samples.js';
import { batchTaker, epochOrder, rowsOf } from './stream/tensor-batches.js';
import type { RunStoreLike } from './types.js';

export { StopTraining } from './stop.js';

export interface TrainerOptions {
  /** Loss; defaults to the model's compiled loss. */
  loss?: TaylorLoss | string;
  /** Optimizer; defaults to the model's compiled optimizer. */
  optimizer?: tf.Optimizer;
  plugins?: Plugin[];
  /** Run folder plugins write their results into (see RunStoreLike). */
  store?: RunStoreLike;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  /** Seeds the data order (and is handed to plugins). Same seed, same backend: same weights bit for bit. */
  seed?: number;
  validationData?: [tf.Tensor, tf.Tensor];
  /** Resume: the state from `trainer.state()` saved at an epoch end. */
  resume?: TrainerState;
}

/** `fitDataset`: the data is a stream of `{ xs, ys }` batches (a `tf.data.Dataset`), read batch by batch. */
export interface DatasetFitOptions extends Omit<FitOptions, 'batchSize' | 'shuffle'> {
  /**
   * Batches per epoch. Given: one iterator runs across epochs (as tfjs's fitDataset does with
   * `batchesPerEpoch`; an endless stream needs it). Else each epoch is one pass of a fresh iterator.
   */
  batchesPerEpoch?: number;
}

/** What a checkpoint needs to continue exactly: position and the random generator's state. */
export interface TrainerState {
  epoch: number;
  round: number;
  rngState: number;
  plugins: Record<string, unknown>;
}

/**
 * Trains any single-input, single-output `tf.LayersModel` (Sequential or functional) with its own loop and exposes every phase through `hooks`.
 * Plugins declare what they need with `require`; the trainer captures each thing once, only
 * when someone needs it, so a run with no plugins pays nothing for them.
 */
export class Trainer {
  readonly hooks: TrainerHooks = createHooks();
  readonly events: EventBus = createEventBus();
  readonly anatomy: ModelAnatomy;
  readonly loss: TaylorLoss;
  readonly optimizer: tf.Optimizer;
  private readonly needs: CaptureNeeds = { ...NO_NEEDS };
  private readonly plan: JacobianPlan = emptyPlan();
  private readonly control: DriverControl = { stop: null, running: false, position: { epoch: 0, round: 0 } };
  private rng = new SeededRandom(0);
  readonly store: RunStoreLike | null;

  constructor(readonly model: LayersModel, opts: TrainerOptions = {}) {
    this.loss = resolveLoss(model, opts.loss);
    const optimizer = opts.optimizer ?? (model as unknown as { optimizer?: tf.Optimizer }).optimizer;
    if (!optimizer) throw new Error('no optimizer: compile the model with one or pass `optimizer` to the Trainer');
    this.optimizer = optimizer;
    this.anatomy = modelAnatomy(model, { lossAbsorbs: this.loss.absorbs });
    this.store = opts.store ?? null;
    for (const p of opts.plugins ?? []) this.use(p);
  }

  use(plugin: Plugin): this {
    plugin.apply(this);
    return this;
  }

  /** Declare what a plugin needs captured each round (merged across plugins). */
  require(needs: Partial<CaptureNeeds>): void {
    if (this.control.running) throw new Error('require() must be called before fit()');
    for (const k of Object.keys(needs) as (keyof CaptureNeeds)[]) this.needs[k] ||= Boolean(needs[k]);
  }

  /**
   * Ask for derived per-round quantities (per-layer output Jacobians on a sub-batch, Grams, Gram
   * diagonals): each is computed once per round for every plugin that asked and handed to all of
   * them as `ctx.derived` from afterForward on. May be called until the first round (in beforeRun,
   * once a plugin knows what it records). Implies the clamp captures.
   */
  requireDerived(request: DerivedRequest): void {
    this.needs.preActivations = true;
    mergePlan(this.plan, request);
  }

  /** The merged plan of derived quantities (read by the round driver). */
  get derivedPlan(): Readonly<JacobianPlan> {
    return this.plan;
  }

  get captureNeeds(): Readonly<CaptureNeeds> {
    return this.needs;
  }

  /** Ask the loop to stop at the next round boundary. */
  stop(reason: string, status: RunStatus = 'stopped'): void {
    this.control.stop ??= new StopTraining(reason, status);
  }

  /** Position and generator state at the last epoch boundary, plus plugin state, for checkpoints. */
  state(): TrainerState {
    const plugins: Record<string, unknown> = {};
    this.hooks.saveState.call(plugins);
    const { epoch, round } = this.control.position;
    return { epoch, round, rngState: this.rng.state, plugins };
  }

  /** Which plugin taps which hook (like fastai's callback listing). */
  describeTaps(): string {
    return Object.entries(this.hooks)
      .filter(([, h]) => h.taps.length > 0)
      .map(([name, h]) => `${name}: ${h.taps.map((t: { name: string }) => t.name).join(', ')}`)
      .join('\n');
  }

  async fit(x: tf.Tensor, y: tf.Tensor, opts: FitOptions = {}): Promise<RunSummary> {
    const epochs = opts.epochs ?? 1;
    const batchSize = opts.batchSize ?? 32;
    const shuffle = opts.shuffle ?? true;
    const seed = opts.seed ?? 0;
    const samples = x.shape[0];
    if (y.shape[0] !== samples) throw new Error(`x has ${samples} samples but y has ${y.shape[0]}`);
    const resume = this.resumeFrom(seed, opts.resume);
    const run: RunContext = Object.freeze({
      anatomy: this.anatomy, epochs, batchSize, batchesPerEpoch: Math.ceil(samples / batchSize), samples, seed,
      backend: tf.getBackend(), initialEpoch: resume.epoch, store: this.store, x, y, inputs: tensorSamples(x),
    });
    const validation = this.validation(opts.validationData, batchSize);
    const take = batchTaker(x, y);
    return this.drive(run, resume, async (d, epoch) => {
      const order = epochOrder(this.rng, samples, shuffle);
      await d.beginEpoch(epoch);
      for (let b = 0; b < run.batchesPerEpoch; b++) {
        d.checkStop();
        const indices = order.subarray(b * batchSize, Math.min(samples, (b + 1) * batchSize));
        const [xb, yb] = take(indices, shuffle);
        await this.trainRound(d, xb, yb, { epoch, batch: b, indices });
      }
      return validation;
    });
  }

  /**
   * Trains on a stream of `{ xs, ys }` batches (a `tf.data.Dataset`, or anything with the same
   * `iterator()`), reading one batch at a time. The stream's order is its own (shuffle it in the
   * pipeline); `seed` goes to the plugins. `ctx.indices` are positions in the epoch's pass. The
   * batch size the plugins plan with is the first batch's. Plugins that draw samples (the
   * activation probe set) read them from passes of their own over the stream (run.inputs).
   */
  async fitDataset(dataset: DatasetLike, opts: DatasetFitOptions = {}): Promise<RunSummary> {
    const epochs = opts.epochs ?? 1;
    const seed = opts.seed ?? 0;
    const perEpoch = opts.batchesPerEpoch ?? null;
    const resume = this.resumeFrom(seed, opts.resume);
    let iterator = await dataset.iterator();
    // The first batch is read before the run starts: its size is the one plugins plan with.
    let pending: IteratorResult<unknown> | null = await iterator.next();
    if (pending.done) throw new Error('fitDataset: the stream yielded no batch');
    const batchSize = batchTensors(pending.value).x.shape[0];
    const read = async () => {
      const r = pending ?? await iterator.next();
      pending = null;
      return r;
    };
    const run: RunContext = Object.freeze({
      anatomy: this.anatomy, epochs, batchSize, batchesPerEpoch: perEpoch ?? knownSize(dataset) ?? 0, samples: 0, seed,
      backend: tf.getBackend(), initialEpoch: resume.epoch, store: this.store, x: null, y: null,
      inputs: streamSamples(dataset, { batches: perEpoch }),
    });
    const validation = this.validation(opts.validationData, batchSize);
    try {
      return await this.drive(run, resume, async (d, epoch) => {
        // A fresh pass per epoch unless epochs are counted in batches (the first one is open already).
        if (perEpoch === null && epoch > resume.epoch) iterator = await dataset.iterator();
        await d.beginEpoch(epoch);
        let position = 0;
        for (let b = 0; perEpoch === null || b < perEpoch; b++) {
          d.checkStop();
          const next = await read();
          if (next.done) {
            if (perEpoch !== null) throw new Error(`fitDataset: the stream ended after ${b} of the ${perEpoch} batches of epoch ${epoch + 1} (repeat() it, or lower batchesPerEpoch)`);
            break;
          }
          const { x: xb, y: yb } = batchTensors(next.value);
          const indices = Int32Array.from({ length: xb.shape[0] }, (_, i) => position + i);
          position += xb.shape[0];
          await this.trainRound(d, xb, yb, { epoch, batch: b, indices });
        }
        return validation;
      });
    } finally {
      const left = pending as IteratorResult<unknown> | null;
      if (left && !left.done) tf.dispose(Object.values(batchTensors(left.value)));
    }
  }

  /**
   * A driver for this trainer's rounds (the Trainer's own fit, `instrument()`, the tfjs
   * callbacks): every integration goes through one, so plugins see the same pipeline.
   */
  driver(run: RunContext, owner: StepOwner, start?: { epoch: number; round: number }): RoundDriver {
    if (this.control.running) throw new Error('this trainer is already training');
    return new RoundDriver(this, this.control, run, owner, start);
  }

  private resumeFrom(seed: number, resume?: TrainerState): { epoch: number; round: number } {
    this.rng = new SeededRandom(seed);
    if (resume) {
      this.rng.state = resume.rngState;
      this.hooks.loadState.call(resume.plugins);
    }
    this.control.position = { epoch: resume?.epoch ?? 0, round: resume?.round ?? 0 };
    return this.control.position;
  }

  private validation(data: [tf.Tensor, tf.Tensor] | undefined, batchSize: number): (() => Promise<number>) | undefined {
    return data ? () => this.evaluate(data[0], data[1], batchSize) : undefined;
  }

  /** The epochs of a run: `epoch` begins one, trains it (rounds through the driver) and returns its validation. */
  private async drive(run: RunContext, start: { epoch: number; round: number },
    epoch: (d: RoundDriver, epoch: number) => Promise<(() => Promise<number>) | undefined>): Promise<RunSummary> {
    const d = this.driver(run, 'trainer', start);
    let outcome: { error: unknown } | null = null;
    try {
      await d.start();
      for (let e = start.epoch; e < run.epochs; e++) {
        const validation = await epoch(d, e);
        await d.endEpoch(validation);
        d.checkStop();
      }
    } catch (error) {
      outcome = { error };
    }
    return d.finish(outcome);
  }

  /** One round with the trainer's own step; the batch tensors are the round's. */
  private async trainRound(d: RoundDriver, xb: tf.Tensor, yb: tf.Tensor, place: { epoch: number; batch: number; indices: Int32Array }): Promise<void> {
    const round = await d.openRound(xb, yb, place, true);
    try {
      await d.closeRound(round, await d.trainerStep(round));
    } finally {
      d.release(round);
    }
  }

  /** Mean loss over a dataset, without training. Async: webgpu in Node can only read asynchronously. */
  async evaluate(x: tf.Tensor, y: tf.Tensor, batchSize = 256): Promise<number> {
    let total = 0;
    const n = x.shape[0];
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      const l = tf.tidy(() => {
        const xb = rowsOf(x, s, size);
        const yb = y === x ? xb : rowsOf(y, s, size);
        return this.loss.compute(forward(this.anatomy, xb, NO_NEEDS), yb);
      });
      total += (await l.data())[0] * size;
      l.dispose();
    }
    return total / n;
  }
}
