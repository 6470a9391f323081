/**
 * The activation plugin for the taylorlens Trainer; `asCallback()` gives the same recorder as a
 * tfjs callback for plain `model.fit`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Plugin, runFolderPath, STAGE_RECORD, type ModelAnatomy, type PluginProblem, type RunPlan, type Trainer } from '@taylorlens/core';
import { ActivationCallback, type ActivationCallbackOptions } from './callback.js';
import { ACTIVATION_SCHEMA, PLUGIN_NAME, type ActivationPluginOptions, type ResolvedOptions } from './options.js';
import { preflightActivation } from './preflight.js';
import { ActivationRecorder, type ActivationMeasures } from './recorder.js';

export class ActivationPlugin extends Plugin<ResolvedOptions> {
  readonly name = PLUGIN_NAME;
  /** Does the work; the plugin only wires it to the trainer. */
  readonly recorder: ActivationRecorder;

  /** JSON options are checked against {@link ACTIVATION_SCHEMA}; `probe` (a tensor) is kept aside. */
  constructor(options: ActivationPluginOptions = {}) {
    const { probe, ...json } = options;
    super(ACTIVATION_SCHEMA, json, PLUGIN_NAME);
    this.recorder = new ActivationRecorder(this.options, probe);
  }

  /**
   * The training inputs to draw the probe set from (seeded, `probeSize` of them). Needed before
   * `model.fit` unless a `probe` tensor was passed; in the Trainer the inputs given to
   * `trainer.fit` (on the run context) are used when this was not called.
   */
  setTrainingData(x: tf.Tensor): this {
    this.recorder.setTrainingData(x);
    return this;
  }

  apply(trainer: Trainer): void {
    const rec = this.recorder;
    const name = this.name;
    const h = trainer.hooks;
    h.beforeRun.tapPromise({ name, stage: STAGE_RECORD }, async (run) => {
      // The probe set is drawn from the training inputs unless given (setTrainingData or `probe` win);
      // a stream's are read from passes of their own (run.inputs).
      rec.offerTrainingData(run.x ?? run.inputs);
      await rec.begin({
        model: trainer.model,
        anatomy: run.anatomy,
        batchesPerEpoch: run.batchesPerEpoch,
        // Checkpoints sit at epoch boundaries, so the rounds done are whole epochs.
        start: { epoch: run.initialEpoch, round: run.initialEpoch * run.batchesPerEpoch },
        // In a run folder, `outDir` is a folder inside it (never elsewhere); without one, any path.
        outDir: run.store
          ? (this.options.outDir ? runFolderPath(run.store.dir, this.options.outDir, 'activation: outDir') : run.store.pluginDir(name))
          : this.options.outDir ?? null,
        onSnapshot: (e) => trainer.events.emit(`${name}:snapshot`, e),
        warn: (message) => trainer.events.emit('warning', { source: name, message }),
      });
    });
    if ('rounds' in this.options.every) h.afterBatch.tapPromise({ name, stage: STAGE_RECORD }, (ctx) => rec.afterRound(ctx.round));
    // Before checkpointing taps (later stages), so a checkpoint taken at this epoch end includes this epoch's snapshot.
    h.afterEpoch.tapPromise({ name, stage: STAGE_RECORD }, (e) => rec.afterEpoch(e.epoch, Number(e.row.round), e.row));
    h.afterRun.tapPromise(name, async (_run, summary) => { await rec.end(summary.status); });
    h.saveState.tap(name, (state) => {
      const s = rec.saveState();
      if (s) state[name] = s;
    });
    h.loadState.tap(name, (state) => rec.loadState(state[name]));
  }

  /** Before any work: layers the model lacks, probe indices beyond the data, an outDir outside the run folder. */
  override preflight(anatomy: ModelAnatomy, plan: RunPlan): PluginProblem[] {
    return preflightActivation(this.options, anatomy, plan);
  }

  /** The same recorder as a tfjs callback: `model.fit(x, y, { callbacks: [plugin.asCallback()] })`. */
  asCallback(opts: ActivationCallbackOptions = {}): ActivationCallback {
    return new ActivationCallback(this.recorder, opts);
  }

  /** The packed bits of the 2-piece units so far (null before training, and when there are none). */
  get tensor() {
    return this.recorder.tensor;
  }

  /** Every unit's pieces so far, both files (null before training, and without units). */
  get configurations() {
    return this.recorder.configurations;
  }

  /** Why nothing is recorded ("no piecewise-linear unit: …"), or null. */
  get none() {
    return this.recorder.none;
  }

  /** Novelty of each snapshot so far. */
  get novelty() {
    return this.recorder.novelty;
  }

  /** The measures computed when training ended (null before). */
  get final(): ActivationMeasures | null {
    return this.recorder.final;
  }

  /** The three measures on the snapshots so far. */
  measures(): ActivationMeasures {
    return this.recorder.measures();
  }
}

/** A tfjs callback recording activation configurations in plain `model.fit`. */
export function activationCallback(options: ActivationPluginOptions = {}, callbackOptions: ActivationCallbackOptions = {}): ActivationCallback {
  return new ActivationPlugin(options).asCallback(callbackOptions);
}
