import { AsyncSeriesHook, SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type * as tf from '@tensorflow/tfjs-core';
import type { BatchCapture } from './capture.js';
import type { RoundJacobians } from './derived/round-jacobians.js';
import type { ModelAnatomy } from './anatomy.js';
import type { NamedTensors, RunStoreLike, StepReport } from './types.js';
import type { MetricsRow } from './events.js';
import type { SampleSource } from './stream/samples.js';

/** Named tap stages (lower runs first), so plugins order themselves without magic numbers. */
export const STAGE_PREPARE = -100;
export const STAGE_RECORD = 0;
export const STAGE_ANALYZE = 100;
export const STAGE_REPORT = 200;

export type RunStatus = 'running' | 'completed' | 'stopped' | 'diverged' | 'interrupted' | 'failed';

export interface RunContext {
  readonly anatomy: ModelAnatomy;
  /** Epochs planned; 0 when the training loop does not say (a hand-written loop, see `instrument`). */
  readonly epochs: number;
  /** Samples per batch (a stream's or a loop's: the first batch's). */
  readonly batchSize: number;
  /** Rounds per epoch; 0 when not known (a stream of unknown size, a loop that did not say). */
  readonly batchesPerEpoch: number;
  /** Training samples; 0 when not known without reading (a stream, a loop). */
  readonly samples: number;
  readonly seed: number;
  readonly backend: string;
  /** First epoch of this call (non-zero when resuming). */
  readonly initialEpoch: number;
  /** The run folder, when the run has one (CLI runs do; plain `trainer.fit` may not). */
  readonly store: RunStoreLike | null;
  /** The training inputs and targets given to `fit` (read-only; owned by the caller); null when the data is a stream or the user's loop. */
  readonly x: tf.Tensor | null;
  readonly y: tf.Tensor | null;
  /**
   * Where to draw samples from (the activation probe set): the training tensors, passes of their
   * own over a stream, or what `instrument(model, { inputs })` was given; null when nothing was.
   */
  readonly inputs: SampleSource | null;
}

export interface EpochContext {
  readonly run: RunContext;
  readonly epoch: number;
  /** Rounds completed before this epoch began. */
  readonly roundsBefore: number;
  /** Filled by the trainer at the end of the epoch; plugins may add plain numbers. */
  readonly row: MetricsRow;
}

export interface BatchContext {
  readonly run: RunContext;
  readonly epoch: number;
  /** Batch index within the epoch. */
  readonly batch: number;
  /** Round number `n`, 1-based over the whole run (the math's `n`). */
  readonly round: number;
  /** Sample indices (into the training set) of this batch. */
  readonly indices: Int32Array;
  readonly capture: BatchCapture;
  /**
   * This round's derived quantities (per-layer output Jacobians, Grams), computed once for every
   * plugin that asked with `trainer.requireDerived` (the plan sizes what is computed together);
   * null only in rounds nobody observes.
   */
  derived: RoundJacobians | null;
  /** The incurred loss `ℓ_n` as a number, once the backward pass has run. */
  loss: number;
  /** This round's metrics row: record plain numbers with `row[name] = value`. */
  readonly row: MetricsRow;
}

export interface StepArgs {
  readonly grads: NamedTensors;
  readonly variables: readonly tf.Variable[];
}

export interface StepOutcome extends StepReport {
  /** The new weights `W_{n+1}` (the model's variables, read-only). */
  readonly weights: readonly tf.Variable[];
}

export interface RunSummary {
  status: RunStatus;
  reason?: string;
  epochsCompleted: number;
  rounds: number;
  lastLoss: number;
  /** Mean training loss per completed epoch. */
  epochLoss: number[];
  /** Validation loss per completed epoch (when validation data was given). */
  valLoss: number[];
}

/**
 * One checkpoint as the `saveStateFiles` / `loadStateFiles` hooks see it: a folder per plugin
 * inside the checkpoint for state too large for JSON (statistics, stored rounds), next to the JSON
 * state the `saveState` / `loadState` hooks exchange.
 */
export interface StateFiles {
  /** Epoch and round the checkpoint holds (an epoch boundary). */
  readonly epoch: number;
  readonly round: number;
  /** The checkpoint's own folder (absolute). */
  readonly root: string;
  /**
   * Plugin `name`'s folder in the checkpoint (absolute): `<root>/plugins/<name>`, created (empty)
   * when saving. Files written there become part of the checkpoint, committed with it atomically.
   */
  dir(name: string): string;
  /** The checkpoint's JSON plugin state (`state[pluginName]`), the object `saveState` filled. */
  readonly state: Record<string, unknown>;
}

export interface CancelInfo {
  status: RunStatus;
  reason: string;
  epoch: number;
  round: number;
}

/**
 * Every extension point of the trainer, in the order a round runs. Taps receive a context;
 * tensors handed to a hook belong to the trainer and are disposed after the round.
 */
export function createHooks() {
  return Object.freeze({
    /** Once before training: the run context (anatomy, sizes, seed, backend). */
    beforeRun: new AsyncSeriesHook<[RunContext]>(['run']),
    /** At the start of each epoch. */
    beforeEpoch: new AsyncSeriesHook<[EpochContext]>(['epoch']),
    /** Before each round's forward pass; the batch is on `capture.x`/`capture.y`. */
    beforeBatch: new AsyncSeriesHook<[BatchContext]>(['batch']),
    /** After the forward pass: the requested inputs, pre-activations, activations and the output `f`. */
    afterForward: new AsyncSeriesHook<[BatchContext]>(['batch']),
    /**
     * After the backward pass: `ctx.loss`, `capture.grads` (every variable; beside a step that is
     * not ours only when required as `variableGrads`) and, if requested, `∂ℓ/∂a_l`.
     */
    afterBackward: new AsyncSeriesHook<[BatchContext]>(['batch']),
    /** Waterfall over the gradients about to be applied; return new tensors to replace them (run inside a tidy). */
    transformGradients: new SyncWaterfallHook<[NamedTensors, BatchContext]>(['grads', 'batch']),
    /** Just before the optimizer step. */
    beforeStep: new AsyncSeriesHook<[BatchContext]>(['batch']),
    /** The step itself: the first tap that returns a StepReport has applied the update; else the optimizer's. */
    step: new SyncBailHook<[StepArgs, BatchContext], StepReport | undefined>(['step', 'batch']),
    /** After the step: the new weights and what the step reported (direction, step size, learning rate). */
    afterStep: new AsyncSeriesHook<[StepOutcome, BatchContext]>(['outcome', 'batch']),
    /** End of the round: record plain numbers on `ctx.row`. */
    afterBatch: new AsyncSeriesHook<[BatchContext]>(['batch']),
    /** End of each epoch (after validation): checkpoints, analyses; add numbers to `ctx.row`. */
    afterEpoch: new AsyncSeriesHook<[EpochContext]>(['epoch']),
    /** When training is cancelled (a plugin threw StopTraining, `stop()` was called, or the loss diverged). */
    afterCancel: new AsyncSeriesHook<[CancelInfo]>(['cancel']),
    /** Once after training, however it ended. */
    afterRun: new AsyncSeriesHook<[RunContext, RunSummary]>(['run', 'summary']),
    /** Collect plugin state for a checkpoint: taps add `state[pluginName] = JSON-able`. */
    saveState: new SyncHook<[Record<string, unknown>]>(['state']),
    /** Restore plugin state from a checkpoint before a resumed run starts. */
    loadState: new SyncHook<[Record<string, unknown>]>(['state']),
    /**
     * While a checkpoint is written, before it is committed: write state too large for JSON under
     * `files.dir(pluginName)` (and, optionally, JSON into `files.state[pluginName]`). A crash before
     * the commit leaves the previous checkpoint in force, so these files and the weights are one set.
     */
    saveStateFiles: new AsyncSeriesHook<[StateFiles]>(['files']),
    /**
     * When a run is restored from a checkpoint (before `loadState` and `beforeRun`): read back what
     * `saveStateFiles` wrote. The folder stays until the resumed run writes its next checkpoint.
     */
    loadStateFiles: new AsyncSeriesHook<[StateFiles]>(['files']),
  });
}

export type TrainerHooks = ReturnType<typeof createHooks>;
export type HookName = keyof TrainerHooks;
