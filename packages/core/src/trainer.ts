import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelAnatomy, type ModelAnatomy } from './anatomy.js';
import { BatchCapture, type CaptureNeeds, NO_NEEDS, forward } from './capture.js';
import { createEventBus, type EventBus, type MetricsRow } from './events.js';
import {
  createHooks, type BatchContext, type CancelInfo, type EpochContext, type RunContext, type RunStatus,
  type RunSummary, type TrainerHooks,
} from './hooks.js';
import { resolveLoss, type TaylorLoss } from './losses.js';
import type { Plugin } from './plugin.js';
import { SeededRandom } from './random.js';
import { isInstrumentedOptimizer, type NamedTensors, type RunStoreLike, type StepReport } from './types.js';

/** Throw from any hook to end training cleanly; `afterCancel` and `afterRun` still run. */
export class StopTraining extends Error {
  constructor(readonly reason: string, readonly status: RunStatus = 'stopped') {
    super(reason);
    this.name = 'StopTraining';
  }
}

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

/** What a checkpoint needs to continue exactly: position and the random generator's state. */
export interface TrainerState {
  epoch: number;
  round: number;
  rngState: number;
  plugins: Record<string, unknown>;
}

/**
 * Trains a chain `tf.LayersModel` with its own loop and exposes every phase through `hooks`.
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
  private stopRequest: StopTraining | null = null;
  private rng = new SeededRandom(0);
  private position = { epoch: 0, round: 0 };
  private running = false;
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
    if (this.running) throw new Error('require() must be called before fit()');
    for (const k of Object.keys(needs) as (keyof CaptureNeeds)[]) this.needs[k] ||= Boolean(needs[k]);
  }

  get captureNeeds(): Readonly<CaptureNeeds> {
    return this.needs;
  }

  /** Ask the loop to stop at the next round boundary. */
  stop(reason: string, status: RunStatus = 'stopped'): void {
    this.stopRequest ??= new StopTraining(reason, status);
  }

  /** Position and generator state at the last epoch boundary, plus plugin state, for checkpoints. */
  state(): TrainerState {
    const plugins: Record<string, unknown> = {};
    this.hooks.saveState.call(plugins);
    return { epoch: this.position.epoch, round: this.position.round, rngState: this.rng.state, plugins };
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
    const batches = Math.ceil(samples / batchSize);
    const resume = opts.resume;
    this.rng = new SeededRandom(seed);
    if (resume) {
      this.rng.state = resume.rngState;
      this.hooks.loadState.call(resume.plugins);
    }
    this.position = { epoch: resume?.epoch ?? 0, round: resume?.round ?? 0 };
    const run: RunContext = Object.freeze({
      anatomy: this.anatomy, epochs, batchSize, batchesPerEpoch: batches, samples, seed,
      backend: tf.getBackend(), initialEpoch: this.position.epoch, store: this.store, x, y,
    });
    const summary: RunSummary = { status: 'running', epochsCompleted: this.position.epoch, rounds: this.position.round, lastLoss: NaN, epochLoss: [], valLoss: [] };
    this.running = true;
    this.stopRequest = null;
    try {
      await this.hooks.beforeRun.promise(run);
      for (let epoch = this.position.epoch; epoch < epochs; epoch++) {
        await this.runEpoch(run, epoch, x, y, shuffle, summary, opts.validationData);
        this.position = { epoch: epoch + 1, round: summary.rounds };
        summary.epochsCompleted = epoch + 1;
        this.throwIfStopped();
      }
      summary.status = 'completed';
    } catch (e) {
      if (!(e instanceof StopTraining)) {
        summary.status = 'failed';
        summary.reason = (e as Error).message;
        this.running = false;
        await this.hooks.afterRun.promise(run, summary);
        throw e;
      }
      summary.status = e.status;
      summary.reason = e.reason;
      const info: CancelInfo = { status: e.status, reason: e.reason, epoch: summary.epochsCompleted, round: summary.rounds };
      await this.hooks.afterCancel.promise(info);
    } finally {
      this.running = false;
    }
    await this.hooks.afterRun.promise(run, summary);
    return summary;
  }

  private throwIfStopped(): void {
    if (this.stopRequest) throw this.stopRequest;
  }

  private async runEpoch(run: RunContext, epoch: number, x: tf.Tensor, y: tf.Tensor, shuffle: boolean,
    summary: RunSummary, validation?: [tf.Tensor, tf.Tensor]): Promise<void> {
    const n = x.shape[0];
    const order = shuffle ? this.rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const epochCtx: EpochContext = { run, epoch, roundsBefore: summary.rounds, row: {} };
    await this.hooks.beforeEpoch.promise(epochCtx);
    let lossSum = 0;
    let lossCount = 0;
    for (let b = 0; b < run.batchesPerEpoch; b++) {
      this.throwIfStopped();
      const indices = order.subarray(b * run.batchSize, Math.min(n, (b + 1) * run.batchSize));
      const loss = await this.runRound(run, epoch, b, summary.rounds + 1, indices, x, y, shuffle);
      summary.rounds += 1;
      summary.lastLoss = loss;
      lossSum += loss * indices.length;
      lossCount += indices.length;
    }
    const row: MetricsRow = epochCtx.row;
    row.epoch = epoch + 1;
    row.round = summary.rounds;
    row.loss = lossSum / lossCount;
    summary.epochLoss.push(row.loss);
    if (validation) {
      const v = await this.evaluate(validation[0], validation[1], run.batchSize);
      row.val_loss = v;
      summary.valLoss.push(v);
    }
    this.position = { epoch: epoch + 1, round: summary.rounds };
    await this.hooks.afterEpoch.promise(epochCtx);
    this.events.emit('epoch', row);
  }

  /** Mean loss over a dataset, without training. Async: webgpu in Node can only read asynchronously. */
  async evaluate(x: tf.Tensor, y: tf.Tensor, batchSize = 256): Promise<number> {
    let total = 0;
    const n = x.shape[0];
    for (let s = 0; s < n; s += batchSize) {
      const size = Math.min(batchSize, n - s);
      const l = tf.tidy(() => {
        const xb = tf.slice(x, s, size);
        const yb = tf.slice(y, s, size);
        return this.loss.compute(forward(this.anatomy, xb, NO_NEEDS), yb);
      });
      total += (await l.data())[0] * size;
      l.dispose();
    }
    return total / n;
  }

  private async runRound(run: RunContext, epoch: number, batch: number, round: number, indices: Int32Array,
    x: tf.Tensor, y: tf.Tensor, shuffled: boolean): Promise<number> {
    const [xb, yb] = tf.tidy(() => {
      if (!shuffled) return [tf.slice(x, indices[0], indices.length), tf.slice(y, indices[0], indices.length)];
      const idx = tf.tensor1d(indices, 'int32');
      return [tf.gather(x, idx), tf.gather(y, idx)];
    });
    const capture = new BatchCapture(this.anatomy, xb, yb);
    const ctx: BatchContext = { run, epoch, batch, round, indices, capture, loss: NaN, row: {} };
    try {
      const h = this.hooks;
      if (h.beforeBatch.isUsed()) await h.beforeBatch.promise(ctx);
      this.forwardBackward(capture);
      ctx.loss = (await capture.loss.data())[0];
      if (h.afterForward.isUsed()) await h.afterForward.promise(ctx);
      if (h.afterBackward.isUsed()) await h.afterBackward.promise(ctx);
      if (!Number.isFinite(ctx.loss)) {
        throw new StopTraining(`loss became ${ctx.loss} at round ${round}`, 'diverged');
      }
      const grads = h.transformGradients.isUsed()
        ? tf.tidy(() => h.transformGradients.call(capture.grads, ctx))
        : capture.grads;
      if (h.beforeStep.isUsed()) await h.beforeStep.promise(ctx);
      const report = this.step(grads, ctx);
      try {
        if (h.afterStep.isUsed()) await h.afterStep.promise({ ...report, weights: this.anatomy.variables }, ctx);
      } finally {
        disposeReport(report);
        if (grads !== capture.grads) for (const [k, g] of Object.entries(grads)) if (capture.grads[k] !== g) g.dispose();
      }
      ctx.row.round = round;
      ctx.row.epoch = epoch + 1;
      ctx.row.loss = ctx.loss;
      if (h.afterBatch.isUsed()) await h.afterBatch.promise(ctx);
      this.events.emit('round', ctx.row);
      this.events.emit('progress', { epoch: epoch + 1, epochs: run.epochs, batch: batch + 1, batches: run.batchesPerEpoch, round, loss: ctx.loss });
      return ctx.loss;
    } finally {
      capture.dispose();
      xb.dispose();
      yb.dispose();
    }
  }

  /** Forward and backward in one tape: loss, every variable's gradient and the requested captures. */
  private forwardBackward(capture: BatchCapture): void {
    const needs = this.needs;
    const vars = this.anatomy.variables;
    tf.tidy(() => {
      // Adding zero probes to the pre-activations makes `∂ℓ/∂a_l` come out of the same backward pass.
      const probes = needs.preActivationGrads
        ? this.anatomy.layers.map((p) => tf.zeros([capture.batchSize, ...p.outputShape]))
        : undefined;
      const xs: tf.Tensor[] = probes ? [...vars, ...probes] : [...vars];
      const { value, grads } = tf.engine().gradients(() => {
        const f = forward(this.anatomy, capture.x, needs, capture, probes);
        capture.output = tf.keep(f);
        return this.loss.compute(f, capture.y);
      }, xs);
      capture.loss = tf.keep(value) as tf.Scalar;
      vars.forEach((v, i) => { capture.grads[v.name] = tf.keep(grads[i]); });
      if (probes) {
        this.anatomy.layers.forEach((p, i) => { capture.layers[p.index].preActivationGrad = tf.keep(grads[vars.length + i]); });
      }
    });
  }

  private step(grads: NamedTensors, ctx: BatchContext): StepReport {
    const provided = this.hooks.step.isUsed() ? this.hooks.step.call({ grads, variables: this.anatomy.variables }, ctx) : undefined;
    if (provided) return provided;
    if (isInstrumentedOptimizer(this.optimizer)) {
      return this.optimizer.applyGradientsReported(grads, { round: ctx.round, loss: ctx.loss });
    }
    this.optimizer.applyGradients(grads);
    return {};
  }
}

function disposeReport(r: StepReport): void {
  for (const m of [r.direction, r.stepSize]) if (m) for (const t of Object.values(m)) t.dispose();
}
