/**
 * The round pipeline, one per run: what the Trainer's `fit`, the hand-written-loop API and the
 * tfjs callbacks all call, so that every plugin sees the same hooks with the same tensors
 * wherever the training runs. A round is
 *
 *   beforeBatch → pass → afterForward → afterBackward → (divergence check)
 *     → [trainer: transformGradients → beforeStep → step]  |  [external: beforeStep → the user's step]
 *     → afterStep → afterBatch
 *
 * 'trainer' rounds get their captures from the pass that trains; 'external' rounds (the step is
 * the user's) from taylorlens's own pass at the same W_n (see capture-pass.ts), run only when a
 * plugin looks at the round's pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchCapture, anyNeed } from '../capture.js';
import { RoundJacobians, type JacobianPlan } from '../derived/round-jacobians.js';
import type { BatchContext, CancelInfo, EpochContext, RunContext, RunSummary } from '../hooks.js';
import { StopTraining } from '../stop.js';
import type { Trainer } from '../trainer.js';
import { isInstrumentedOptimizer, type NamedTensors, type StepReport } from '../types.js';
import { observingPass, trainingPass } from './capture-pass.js';
import { disposeReport, StepWatch } from './step-watch.js';

/** Who applies each round's update. */
export type StepOwner = 'trainer' | 'external';

/** What a trainer shares with the drivers of its runs (the rest of its state stays private). */
export interface DriverControl {
  stop: StopTraining | null;
  running: boolean;
  /** Epoch and round at the last epoch boundary (what `trainer.state()` saves). */
  position: { epoch: number; round: number };
}

/** Where a round sits: its epoch, its batch within the epoch and its samples. */
export interface RoundPlace {
  epoch: number;
  batch: number;
  /** Sample indices of the batch (into the training tensors; positions in the pass for a stream). */
  indices: Int32Array;
}

/** A round between `openRound` and `closeRound`. */
export interface OpenRound {
  readonly ctx: BatchContext;
  /** Run once the round is over (after afterStep), however it ends. */
  readonly disposers: (() => void)[];
  /** Whether the batch tensors are the driver's to dispose. */
  readonly ownsBatch: boolean;
  closed: boolean;
}

/**
 * Whether rounds need a pass of their own. The trainer's pass is its training step, so always;
 * beside an external step only when a plugin needs captures or taps the forward/backward hooks.
 */
export function observesRounds(trainer: Trainer, owner: StepOwner): boolean {
  const n = trainer.captureNeeds;
  const h = trainer.hooks;
  return owner === 'trainer' || anyNeed(n) || Boolean(n.variableGrads) || h.afterForward.isUsed() || h.afterBackward.isUsed();
}

/** The hooks that are handed a round (its batch, its captures, its step). */
export function roundHooks(trainer: Trainer) {
  const h = trainer.hooks;
  return [h.beforeBatch, h.afterForward, h.afterBackward, h.transformGradients, h.beforeStep, h.step, h.afterStep, h.afterBatch];
}

/** The plugins that look at every round (tap a round hook), for messages. */
export function roundWatchers(trainer: Trainer): string[] {
  const names = new Set<string>();
  for (const hook of roundHooks(trainer)) for (const t of hook.taps) names.add(t.name);
  return [...names];
}

/**
 * Whether rounds are opened with their batch beside an external step: when a plugin needs
 * captures or taps any round hook. Else a round is only counted (nothing to hand anyone), which
 * is what makes an instrumented loop without such plugins cost nothing.
 */
export function opensRounds(trainer: Trainer): boolean {
  return observesRounds(trainer, 'external') || roundHooks(trainer).some((hook) => hook.isUsed());
}

export class RoundDriver {
  readonly summary: RunSummary;
  private epoch: EpochContext | null = null;
  private lossSum = 0;
  private lossCount = 0;
  private watch: StepWatch | null = null;

  constructor(private readonly trainer: Trainer, private readonly control: DriverControl, readonly run: RunContext,
    readonly owner: StepOwner, start = { epoch: 0, round: 0 }) {
    this.summary = { status: 'running', epochsCompleted: start.epoch, rounds: start.round, lastLoss: NaN, epochLoss: [], valLoss: [] };
  }

  get observes(): boolean {
    return observesRounds(this.trainer, this.owner);
  }

  /** beforeRun. `optimizer`: the one an external step uses, when known (for its step reports). */
  async start(optimizer?: unknown): Promise<void> {
    const h = this.trainer.hooks;
    if (this.owner === 'external') {
      const taps = [h.transformGradients, h.step].flatMap((hook) => hook.taps.map((t) => t.name));
      if (taps.length > 0) {
        throw new Error(`${[...new Set(taps)].join(', ')} tap transformGradients or step, which only the Trainer's own step honours; here the step is yours`);
      }
      this.watch = new StepWatch(this.trainer.anatomy.variables, optimizer, h.afterStep.isUsed());
    }
    this.control.running = true;
    this.control.stop = null;
    await h.beforeRun.promise(this.run);
    this.sayFallbacks();
  }

  /** Say which layers the clamped machinery pushes through the autodiff fallback (exact, slower), once a plugin has asked for it. */
  private sayFallbacks(): void {
    const needs = this.trainer.captureNeeds;
    if (!needs.preActivations && !needs.preActivationGrads) return;
    const slow = this.trainer.anatomy.graph.filter((n) => n.via === 'autodiff');
    if (slow.length === 0) return;
    this.trainer.events.emit('warning', {
      source: 'core',
      message: `${slow.map((n) => `layer "${n.layer.name}" (${n.className})`).join(', ')}: no derivatives module, so the Taylor machinery goes through the autodiff fallback (exact, two backward passes per direction); registerDerivatives("${slow[0].className}", …) makes it fast`,
    });
  }

  /** Throws the pending stop request (checked at round and epoch boundaries). */
  checkStop(): void {
    if (this.control.stop) throw this.control.stop;
  }

  get currentEpoch(): EpochContext | null {
    return this.epoch;
  }

  async beginEpoch(epoch: number): Promise<EpochContext> {
    this.epoch = { run: this.run, epoch, roundsBefore: this.summary.rounds, row: {} };
    this.lossSum = 0;
    this.lossCount = 0;
    await this.trainer.hooks.beforeEpoch.promise(this.epoch);
    return this.epoch;
  }

  /**
   * beforeBatch, the pass (captures at W_n), afterForward, afterBackward and the divergence check.
   * `ownsBatch`: dispose `x`, `y` when the round ends.
   */
  async openRound(x: tf.Tensor, y: tf.Tensor, place: RoundPlace, ownsBatch: boolean): Promise<OpenRound> {
    const capture = new BatchCapture(this.trainer.anatomy, x, y);
    const ctx: BatchContext = { run: this.run, epoch: place.epoch, batch: place.batch, round: this.summary.rounds + 1, indices: place.indices, capture, derived: null, loss: NaN, row: {} };
    const round: OpenRound = { ctx, disposers: [], ownsBatch, closed: false };
    try {
      const h = this.trainer.hooks;
      if (h.beforeBatch.isUsed()) await h.beforeBatch.promise(ctx);
      if (this.observes) {
        const { anatomy, loss, captureNeeds } = this.trainer;
        (this.owner === 'trainer' ? trainingPass : observingPass)(anatomy, loss, captureNeeds, capture);
        ctx.loss = (await capture.loss.data())[0];
        // Lazy: each quantity is computed on first use, so rounds where nobody reads cost nothing.
        ctx.derived = new RoundJacobians(anatomy, capture, this.trainer.derivedPlan as JacobianPlan);
        if (h.afterForward.isUsed()) await h.afterForward.promise(ctx);
        if (h.afterBackward.isUsed()) await h.afterBackward.promise(ctx);
        if (!Number.isFinite(ctx.loss)) throw new StopTraining(`loss became ${ctx.loss} at round ${ctx.round}`, 'diverged');
      }
      return round;
    } catch (e) {
      this.release(round);
      throw e;
    }
  }

  /** A round nobody looks at (see `opensRounds`): counted, with its events; ℓ_n unknown (NaN). */
  countRound(place: RoundPlace): void {
    const round = this.summary.rounds + 1;
    const events = this.trainer.events;
    events.emit('round', { round, epoch: place.epoch + 1, loss: NaN });
    events.emit('progress', { epoch: place.epoch + 1, epochs: this.run.epochs, batch: place.batch + 1, batches: this.run.batchesPerEpoch, round, loss: NaN });
    this.summary.rounds = round;
    this.summary.lastLoss = NaN;
    this.lossSum = NaN;
    this.lossCount += place.indices.length;
  }

  /** The trainer's own step: transformGradients, beforeStep, then the step hook or the optimizer. */
  async trainerStep(round: OpenRound): Promise<StepReport> {
    const { ctx } = round;
    const { capture } = ctx;
    const h = this.trainer.hooks;
    const grads = h.transformGradients.isUsed() ? tf.tidy(() => h.transformGradients.call(capture.grads, ctx)) : capture.grads;
    // Replaced gradients live until afterStep has run.
    if (grads !== capture.grads) round.disposers.push(() => { for (const [k, g] of Object.entries(grads)) if (capture.grads[k] !== g) g.dispose(); });
    if (h.beforeStep.isUsed()) await h.beforeStep.promise(ctx);
    return this.applyStep(grads, ctx);
  }

  private applyStep(grads: NamedTensors, ctx: BatchContext): StepReport {
    const variables = this.trainer.anatomy.variables;
    const provided = this.trainer.hooks.step.isUsed() ? this.trainer.hooks.step.call({ grads, variables }, ctx) : undefined;
    if (provided) return provided;
    const optimizer = this.trainer.optimizer;
    if (isInstrumentedOptimizer(optimizer)) return optimizer.applyGradientsReported(grads, { round: ctx.round, loss: ctx.loss });
    optimizer.applyGradients(grads);
    return {};
  }

  /** beforeStep of an external step, then W_n is noted; the caller's step comes next. */
  async beforeExternalStep(round: OpenRound): Promise<void> {
    const h = this.trainer.hooks;
    if (h.beforeStep.isUsed()) await h.beforeStep.promise(round.ctx);
    this.watch!.beforeStep();
  }

  /** What the external step did (read after it). */
  afterExternalStep(): StepReport {
    return this.watch!.afterStep();
  }

  /** afterStep (with `report`, disposed after it), afterBatch and the round's events. Returns ℓ_n. */
  async closeRound(round: OpenRound, report: StepReport): Promise<number> {
    const { ctx } = round;
    const h = this.trainer.hooks;
    try {
      try {
        if (h.afterStep.isUsed()) await h.afterStep.promise({ ...report, weights: this.trainer.anatomy.variables }, ctx);
      } finally {
        disposeReport(report);
        for (const d of round.disposers.splice(0)) d();
      }
      ctx.row.round = ctx.round;
      ctx.row.epoch = ctx.epoch + 1;
      ctx.row.loss = ctx.loss;
      if (h.afterBatch.isUsed()) await h.afterBatch.promise(ctx);
      const events = this.trainer.events;
      events.emit('round', ctx.row);
      events.emit('progress', { epoch: ctx.epoch + 1, epochs: this.run.epochs, batch: ctx.batch + 1, batches: this.run.batchesPerEpoch, round: ctx.round, loss: ctx.loss });
      this.summary.rounds += 1;
      this.summary.lastLoss = ctx.loss;
      this.lossSum += ctx.loss * ctx.indices.length;
      this.lossCount += ctx.indices.length;
      return ctx.loss;
    } finally {
      this.release(round);
    }
  }

  /** Dispose what the round holds (its captures, its batch when owned); safe to call twice. */
  release(round: OpenRound): void {
    if (round.closed) return;
    round.closed = true;
    for (const d of round.disposers.splice(0)) d();
    round.ctx.derived?.dispose();
    const { capture } = round.ctx;
    capture.dispose();
    if (round.ownsBatch) tf.dispose([capture.x, capture.y]);
    if (this.owner === 'external') this.watch?.discard();
  }

  /** The epoch's row (loss, validation), afterEpoch and the `epoch` event. */
  async endEpoch(validation?: () => Promise<number | undefined>): Promise<void> {
    const e = this.epoch;
    if (!e) throw new Error('endEpoch without beginEpoch');
    const row = e.row;
    row.epoch = e.epoch + 1;
    row.round = this.summary.rounds;
    row.loss = this.lossSum / this.lossCount;
    this.summary.epochLoss.push(row.loss);
    const v = validation ? await validation() : undefined;
    if (v !== undefined) {
      row.val_loss = v;
      this.summary.valLoss.push(v);
    }
    this.control.position = { epoch: e.epoch + 1, round: this.summary.rounds };
    await this.trainer.hooks.afterEpoch.promise(e);
    this.trainer.events.emit('epoch', row);
    this.epoch = null;
    this.summary.epochsCompleted = e.epoch + 1;
  }

  /**
   * The end of the run, however it went: `error` undefined for a run that completed, a
   * StopTraining for one cancelled (afterCancel, then afterRun), anything else for a failure
   * (afterRun, then rethrown).
   */
  async finish(outcome: { error: unknown } | null): Promise<RunSummary> {
    const s = this.summary;
    const h = this.trainer.hooks;
    this.watch?.close();
    if (!outcome) {
      s.status = 'completed';
    } else if (outcome.error instanceof StopTraining) {
      const e = outcome.error;
      s.status = e.status;
      s.reason = e.reason;
      const info: CancelInfo = { status: e.status, reason: e.reason, epoch: s.epochsCompleted, round: s.rounds };
      try {
        await h.afterCancel.promise(info);
      } finally {
        this.control.running = false;
      }
    } else {
      s.status = 'failed';
      s.reason = (outcome.error as Error)?.message ?? String(outcome.error);
      this.control.running = false;
      await h.afterRun.promise(this.run, s);
      throw outcome.error;
    }
    this.control.running = false;
    await h.afterRun.promise(this.run, s);
    return s;
  }
}
