/**
 * The activation recorder, independent of how training runs: `begin` at the start of training,
 * `afterRound` / `afterEpoch` as training goes, `end` when it stops. The trainer plugin and the
 * `model.fit` callback both drive one of these.
 *
 * Snapshot 0 is taken in `begin`, at the initial weights before any update (unless `atStart` is
 * false or the run resumes from a checkpoint). Then one snapshot per schedule point: after the
 * optimizer step of every k-th round (`every: { rounds: k }`) or at every k-th epoch end
 * (`every: { epochs: k }`, the default with k = 1). Novelty is scored as each snapshot arrives;
 * switches and singular values are computed at the end.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isSampleSource, type MetricsRow, type ModelAnatomy, type SampleSource } from '@taylorlens/core';
import {
  NoveltyTracker, singularValueLogProducts, switches, type NoveltyPoint, type SingularValueLogProducts, type Switches,
} from './measures/index.js';
import { rowBytes } from './bits.js';
import { ACTIVATION_FORMAT, CONFIGURATIONS_NPY, numpyRecipe, writeOutputs, type ActivationFile, type SnapshotPosition } from './files.js';
import type { ResolvedOptions } from './options.js';
import { checkProbeShape, gatherProbe, probeIndices, type ProbeSpec } from './probe.js';
import { configurationSnapshot } from './snapshot.js';
import { packedToBase64, STATE_VERSION, tensorFromState, type SavedState } from './state.js';
import { selectUnits, selectionFromJson, selectionToJson, type UnitSelection } from './units.js';
import path from 'node:path';

/** What `activation:snapshot` carries (also the return value of `snapshot`). */
export interface SnapshotEvent extends SnapshotPosition {
  /** 0-based snapshot index `n`. */
  index: number;
  /** Differing bits to the nearest earlier snapshot (null for the first). */
  novelty: number | null;
  /** `novelty / (D·M)`. */
  novelty_normalized: number | null;
  /** Index of that nearest earlier snapshot. */
  nearest: number | null;
  probes: number;
  units: number;
}

export interface ActivationMeasures {
  novelty: NoveltyPoint[];
  switches: Switches;
  singularValues: SingularValueLogProducts;
}

export interface BeginContext {
  model: LayersModel;
  anatomy: ModelAnatomy;
  /** Rounds per epoch when known (turns round positions into fractional epochs). */
  batchesPerEpoch: number | null;
  /** Where training starts: 0/0, or the checkpoint's position when resuming. */
  start: SnapshotPosition;
  /** Folder for the outputs, or null to keep everything in memory. */
  outDir: string | null;
  onSnapshot?: (e: SnapshotEvent) => void;
  warn?: (message: string) => void;
}

/** Row fields the recorder fills at epoch ends that had a snapshot. */
export const ROW_NOVELTY = 'activation.novelty';
export const ROW_NOVELTY_NORMALIZED = 'activation.novelty_normalized';

const nullIfNaN = (v: number): number | null => (Number.isNaN(v) ? null : v);

export class ActivationRecorder {
  private trainingX: tf.Tensor | null = null;
  private fitX: tf.Tensor | SampleSource | null = null;
  private probe: tf.Tensor | null = null;
  private ownsProbe = false;
  private ctx: BeginContext | null = null;
  private restored: SavedState | null = null;
  private tracker: NoveltyTracker | null = null;
  private written = 0;
  private latestThisEpoch: SnapshotEvent | null = null;
  private result: ActivationMeasures | null = null;
  private status = 'running';
  /** Probe indices and source, once known. */
  probeSpec: ProbeSpec | null = null;
  /** The observed units, once known. */
  selection: UnitSelection | null = null;
  /** Where each snapshot was taken. */
  positions: SnapshotPosition[] = [];

  constructor(readonly options: ResolvedOptions, private readonly givenProbe?: tf.Tensor) {}

  /** The training inputs to draw the probe set from (referenced, not copied; the caller keeps ownership). */
  setTrainingData(x: tf.Tensor): void {
    this.trainingX = x;
  }

  /**
   * The inputs a training call was given (tensors, or a source that reads a stream): used when
   * `setTrainingData` was not called.
   */
  offerTrainingData(x: tf.Tensor | SampleSource | null): void {
    this.fitX = x;
  }

  /** The growing `N × D × M` tensor (null before training starts). */
  get tensor() {
    return this.tracker?.tensor ?? null;
  }

  /** Novelty per snapshot so far. */
  get novelty(): readonly NoveltyPoint[] {
    return this.tracker?.history ?? [];
  }

  /** The probe set in use (null outside training). */
  get probeSet(): tf.Tensor | null {
    return this.probe;
  }

  /** Folder the outputs go to (null: memory only). */
  get outDir(): string | null {
    return this.ctx?.outDir ?? null;
  }

  async begin(ctx: BeginContext): Promise<void> {
    this.releaseProbe();
    this.ctx = ctx;
    this.result = null;
    this.status = 'running';
    this.latestThisEpoch = null;
    const o = this.options;
    if (ctx.anatomy.layers.some((p) => p.after.some((s) => s.kind === 'dropout')) || ctx.anatomy.before.some((s) => s.kind === 'dropout')) {
      ctx.warn?.('activation: the model has Dropout, which the probe forward pass applies in training mode: snapshots are then random');
    }
    const restored = this.restored;
    this.restored = null;
    if (restored) {
      this.selection = selectionFromJson(ctx.anatomy, restored.layers);
      this.probeSpec = restored.probe;
      this.tracker = new NoveltyTracker(tensorFromState(restored));
      this.positions = restored.positions.map((p) => ({ ...p }));
      this.written = 0; // this run's folder may differ from the checkpoint's: write before the next state
    } else {
      this.selection = selectUnits(ctx.anatomy, { layers: o.layers, maxUnitsPerLayer: o.maxUnitsPerLayer, seed: o.seed + 1 });
      this.probeSpec = null;
      this.tracker = null;
      this.positions = [];
      this.written = 0;
    }
    this.probe = await this.resolveProbe(ctx.anatomy);
    const D = this.probe.shape[0];
    if (this.tracker && (this.tracker.tensor.probes !== D || this.tracker.tensor.units !== this.selection.units)) {
      const t = this.tracker.tensor;
      throw new Error(`activation: the checkpoint has ${t.probes} probe inputs × ${t.units} units, this run ${D} × ${this.selection.units}`);
    }
    this.tracker ??= new NoveltyTracker({ probes: D, units: this.selection.units });
    if (!restored) {
      if (o.atStart) await this.snapshot(ctx.start);
    } else if (this.isSchedulePoint(ctx.start) && (this.positions.at(-1)?.round ?? -1) < ctx.start.round) {
      // The checkpoint was saved before this schedule point's snapshot: the weights are the same, take it now.
      await this.snapshot(ctx.start);
    }
    // A snapshot taken here belongs to no epoch's row.
    this.latestThisEpoch = null;
  }

  /** Takes one snapshot at the current weights, scores its novelty and reports it. */
  async snapshot(position: SnapshotPosition): Promise<SnapshotEvent> {
    const { ctx, tracker, probe, selection } = this.requireRunning();
    const packed = await configurationSnapshot(ctx.anatomy, probe, selection, this.options.chunkSize);
    const point = tracker.push(packed);
    this.positions.push({ ...position });
    const event: SnapshotEvent = {
      index: tracker.tensor.snapshots - 1, ...position, novelty: point.raw, novelty_normalized: point.normalized,
      nearest: point.nearest, probes: tracker.tensor.probes, units: tracker.tensor.units,
    };
    this.latestThisEpoch = event;
    ctx.onSnapshot?.(event);
    return event;
  }

  /** After round `round` (1-based, counted over the whole run) has updated the weights. */
  async afterRound(round: number): Promise<void> {
    const every = this.options.every;
    if (!('rounds' in every) || round % every.rounds !== 0) return;
    const bpe = this.ctx?.batchesPerEpoch ?? null;
    await this.snapshot({ epoch: bpe ? round / bpe : null, round });
  }

  /** At the end of epoch `epoch` (0-based) after `rounds` rounds in all: snapshot if due, fill `row`, write the files. */
  async afterEpoch(epoch: number, rounds: number, row?: MetricsRow): Promise<void> {
    const every = this.options.every;
    if ('epochs' in every && (epoch + 1) % every.epochs === 0) await this.snapshot({ epoch: epoch + 1, round: rounds });
    const latest = this.latestThisEpoch;
    this.latestThisEpoch = null;
    if (latest && row) {
      row[ROW_NOVELTY] = latest.novelty;
      row[ROW_NOVELTY_NORMALIZED] = latest.novelty_normalized;
    }
    this.write();
  }

  /** Training is over (`status` as the trainer reports it): final measures and files. */
  async end(status = 'completed'): Promise<ActivationMeasures | null> {
    if (!this.ctx || !this.tracker) return null;
    this.status = status;
    this.result = this.tracker.tensor.snapshots > 0 ? this.measures() : null;
    this.write();
    this.releaseProbe();
    return this.result;
  }

  /** The three measures on the snapshots so far (switches and singular values cost a pass over all bits). */
  measures(): ActivationMeasures {
    const tensor = this.tensor;
    if (!tensor || tensor.snapshots === 0) throw new Error('activation: no snapshot yet');
    return {
      novelty: [...this.novelty],
      switches: switches(tensor),
      singularValues: singularValueLogProducts(tensor, { floor: this.options.floor, count: this.options.singularValues }),
    };
  }

  /** The measures computed when training ended (null before). */
  get final(): ActivationMeasures | null {
    return this.result;
  }

  /** What `activation.json` holds now. */
  toJson(): ActivationFile {
    const tensor = this.tensor;
    const selection = this.selection;
    if (!tensor || !selection || !this.probeSpec) throw new Error('activation: nothing recorded yet');
    const N = tensor.snapshots;
    const D = tensor.probes;
    const M = tensor.units;
    const r = this.result;
    const history = this.novelty;
    return {
      format: ACTIVATION_FORMAT,
      status: this.status,
      probes: D,
      units: M,
      snapshots: N,
      bits: {
        file: CONFIGURATIONS_NPY, dtype: 'uint8', shape: [N, D, rowBytes(M)], bitOrder: 'little',
        numpy: numpyRecipe(M), active: 'pre-activation > 0',
      },
      probe: { source: this.probeSpec.source, seed: this.options.seed, indices: this.probeSpec.indices },
      layers: selectionToJson(selection),
      schedule: { every: this.options.every, atStart: this.options.atStart },
      positions: this.positions,
      novelty: { raw: history.map((p) => p.raw), normalized: history.map((p) => p.normalized), nearest: history.map((p) => p.nearest) },
      switches: r ? { perPoint: Array.from(r.switches.perPoint, nullIfNaN), sorted: Array.from(r.switches.sorted, nullIfNaN), possible: r.switches.possible } : null,
      singularValues: r
        ? {
          floor: r.singularValues.floor, count: this.options.singularValues, k: r.singularValues.k,
          perUnit: Array.from(r.singularValues.perUnit), sorted: Array.from(r.singularValues.sorted), distinct: Array.from(r.singularValues.distinct),
        }
        : null,
    };
  }

  /** Checkpoint state (JSON-able), or undefined before anything was recorded. Writes the `.npy` first when there is a folder. */
  saveState(): SavedState | undefined {
    const tensor = this.tensor;
    if (!tensor || !this.selection || !this.probeSpec) return undefined;
    const dir = this.outDir;
    if (dir && this.written !== tensor.snapshots) this.write();
    return {
      version: STATE_VERSION, probes: tensor.probes, units: tensor.units, snapshots: tensor.snapshots,
      positions: this.positions.map((p) => ({ ...p })), probe: this.probeSpec, layers: selectionToJson(this.selection),
      file: dir ? path.resolve(dir, CONFIGURATIONS_NPY) : null, packed: dir ? null : packedToBase64(tensor),
    };
  }

  /** Restores a checkpoint's state; the next `begin` continues its tensor instead of starting over. */
  loadState(state: unknown): void {
    if (state === undefined || state === null) return;
    const s = state as SavedState;
    tensorFromState(s); // fail now, with the checkpoint at hand, rather than at the start of training
    this.restored = s;
  }

  /** Disposes the probe set the recorder drew (a probe passed in stays the caller's). */
  dispose(): void {
    this.releaseProbe();
  }

  private write(): void {
    const dir = this.outDir;
    const tensor = this.tensor;
    if (!dir || !tensor) return;
    writeOutputs(dir, this.toJson(), tensor);
    this.written = tensor.snapshots;
  }

  private isSchedulePoint(p: SnapshotPosition): boolean {
    const every = this.options.every;
    if ('rounds' in every) return p.round > 0 && p.round % every.rounds === 0;
    return p.epoch !== null && p.epoch > 0 && Number.isInteger(p.epoch) && p.epoch % every.epochs === 0;
  }

  private async resolveProbe(anatomy: ModelAnatomy): Promise<tf.Tensor> {
    if (this.givenProbe) {
      checkProbeShape(this.givenProbe, anatomy.inputShape);
      this.probeSpec ??= { source: 'given', indices: null };
      this.ownsProbe = false;
      return this.givenProbe;
    }
    const x = this.trainingX ?? this.fitX;
    if (!x) {
      throw new Error('activation: no probe set: pass `probe: tensor` in the options, or call setTrainingData(x) with the training inputs before training starts');
    }
    if (isSampleSource(x)) return this.drawProbe(x, anatomy);
    checkProbeShape(x, anatomy.inputShape);
    this.probeSpec ??= probeIndices(x.shape[0], this.options);
    if (!this.probeSpec.indices) throw new Error('activation: the checkpoint used a probe tensor passed in: pass the same `probe` again');
    this.ownsProbe = true;
    return gatherProbe(x, this.probeSpec.indices);
  }

  /** The same seeded draw from a source: a stream is counted in one pass and read in another, keeping only the probe inputs. */
  private async drawProbe(source: SampleSource, anatomy: ModelAnatomy): Promise<tf.Tensor> {
    this.probeSpec ??= probeIndices(await source.count(), this.options);
    if (!this.probeSpec.indices) throw new Error('activation: the checkpoint used a probe tensor passed in: pass the same `probe` again');
    const probe = await source.gather(this.probeSpec.indices);
    try {
      checkProbeShape(probe, anatomy.inputShape);
    } catch (e) {
      probe.dispose();
      throw e;
    }
    this.ownsProbe = true;
    return probe;
  }

  private releaseProbe(): void {
    if (this.probe && this.ownsProbe) this.probe.dispose();
    this.probe = null;
    this.ownsProbe = false;
  }

  private requireRunning() {
    const { ctx, tracker, probe, selection } = this;
    if (!ctx || !tracker || !probe || !selection) throw new Error('activation: snapshot outside training (call begin first)');
    return { ctx, tracker, probe, selection };
  }
}
