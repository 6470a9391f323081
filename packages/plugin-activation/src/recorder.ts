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
 *
 * A model with no piecewise-linear unit (only smooth activations) records nothing and does not
 * fail: activation.json says why, and the measures are absent.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isSampleSource, type MetricsRow, type ModelAnatomy, type SampleSource } from '@taylorlens/core';
import {
  NoveltyTracker, singularValueLogProducts, switches, type NoveltyPoint, type SingularValueLogProducts, type Switches,
} from './measures/index.js';
import { ConfigurationTensor, rowBytes } from './bits.js';
import { Configurations } from './configurations.js';
import { FieldLayout } from './fields.js';
import {
  ACTIVATION_FORMAT, CONFIGURATIONS_NPY, PIECES_NPY, numpyRecipe, piecesNumpyRecipe, writeOutputs, type ActivationFile, type SnapshotPosition,
} from './files.js';
import type { ResolvedOptions } from './options.js';
import { checkProbeShape, gatherProbe, probeIndices, type ProbeSpec } from './probe.js';
import { configurationSnapshot } from './snapshot.js';
import { configurationsFromState, packedToBase64, STATE_VERSION, type SavedState } from './state.js';
import { selectUnits, selectionFromJson, selectionToJson, type UnitSelection } from './units.js';
import path from 'node:path';

/** What `activation:snapshot` carries (also the return value of `snapshot`). */
export interface SnapshotEvent extends SnapshotPosition {
  /** 0-based snapshot index `n`. */
  index: number;
  /** Entries whose piece differs from the nearest earlier snapshot (null for the first). */
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
  /** The core's anatomy when there is one (unused: units are found on the model's own graph). */
  anatomy?: ModelAnatomy;
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

  /** The growing configurations, both files (null before training starts, and without units). */
  get configurations(): Configurations | null {
    return this.tracker?.configurations ?? null;
  }

  /** The 2-piece units' packed bit tensor (null before training, and when there are none). */
  get tensor(): ConfigurationTensor | null {
    return this.tracker?.configurations.bits ?? null;
  }

  /** Why nothing is recorded ("no piecewise-linear unit: …"), or null. */
  get none(): string | null {
    return this.selection?.none ?? null;
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
    const restored = this.restored;
    this.restored = null;
    let configurations: Configurations | null = null;
    if (restored) {
      this.selection = selectionFromJson(ctx.model, restored.layers, restored.skipped ?? []);
      this.probeSpec = restored.probe;
      configurations = configurationsFromState(restored);
      this.positions = restored.positions.map((p) => ({ ...p }));
      this.written = 0; // this run's folder may differ from the checkpoint's: write before the next state
    } else {
      this.selection = selectUnits(ctx.model, { layers: o.layers, choices: o.choices, maxUnitsPerLayer: o.maxUnitsPerLayer, seed: o.seed + 1 });
      this.probeSpec = null;
      this.positions = [];
      this.written = 0;
    }
    this.tracker = null;
    const selection = this.selection;
    if (selection.units === 0) {
      // Smooth activations only: nothing to record, and nothing fails. The files say why.
      ctx.warn?.(`activation: ${selection.none}`);
      this.write();
      return;
    }
    this.probe = await this.resolveProbe(ctx.model);
    const D = this.probe.shape[0];
    if (configurations && (configurations.probes !== D || configurations.units !== selection.units)) {
      throw new Error(`activation: the checkpoint has ${configurations.probes} probe inputs × ${configurations.units} units, this run ${D} × ${selection.units}`);
    }
    const layout = selection.pieceUnits > 0 ? FieldLayout.fromLayers(selection.pieceRowBits, selection.layers) : null;
    this.tracker = new NoveltyTracker(configurations ?? new Configurations(D, selection.bitUnits, layout));
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
    const packed = await configurationSnapshot(ctx.model, probe, selection, this.options.chunkSize);
    const point = tracker.push(packed);
    this.positions.push({ ...position });
    const c = tracker.configurations;
    const event: SnapshotEvent = {
      index: c.snapshots - 1, ...position, novelty: point.raw, novelty_normalized: point.normalized,
      nearest: point.nearest, probes: c.probes, units: c.units,
    };
    this.latestThisEpoch = event;
    ctx.onSnapshot?.(event);
    return event;
  }

  /** After round `round` (1-based, counted over the whole run) has updated the weights. */
  async afterRound(round: number): Promise<void> {
    const every = this.options.every;
    if (!('rounds' in every) || round % every.rounds !== 0 || !this.tracker) return;
    const bpe = this.ctx?.batchesPerEpoch ?? null;
    await this.snapshot({ epoch: bpe ? round / bpe : null, round });
  }

  /** At the end of epoch `epoch` (0-based) after `rounds` rounds in all: snapshot if due, fill `row`, write the files. */
  async afterEpoch(epoch: number, rounds: number, row?: MetricsRow): Promise<void> {
    const every = this.options.every;
    if (this.tracker && 'epochs' in every && (epoch + 1) % every.epochs === 0) await this.snapshot({ epoch: epoch + 1, round: rounds });
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
    if (!this.ctx) return null;
    this.status = status;
    this.result = this.tracker && this.tracker.configurations.snapshots > 0 ? this.measures() : null;
    this.write();
    this.releaseProbe();
    return this.result;
  }

  /** The three measures on the snapshots so far (switches and singular values cost a pass over all bits). */
  measures(): ActivationMeasures {
    const c = this.configurations;
    if (!c || c.snapshots === 0) throw new Error(`activation: no snapshot yet${this.none ? ` (${this.none})` : ''}`);
    return {
      novelty: [...this.novelty],
      switches: switches(c),
      singularValues: singularValueLogProducts(c, { floor: this.options.floor, count: this.options.singularValues }),
    };
  }

  /** The measures computed when training ended (null before). */
  get final(): ActivationMeasures | null {
    return this.result;
  }

  /** What `activation.json` holds now. */
  toJson(): ActivationFile {
    const selection = this.selection;
    if (!selection) throw new Error('activation: nothing recorded yet');
    const c = this.configurations;
    const N = c?.snapshots ?? 0;
    const D = c?.probes ?? this.probe?.shape[0] ?? 0;
    const M2 = selection.bitUnits;
    const r = this.result;
    const history = this.novelty;
    return {
      format: ACTIVATION_FORMAT,
      status: this.status,
      probes: D,
      units: selection.units,
      snapshots: N,
      none: selection.none,
      bits: M2 > 0
        ? {
          file: CONFIGURATIONS_NPY, dtype: 'uint8', shape: [N, D, rowBytes(M2)], bitOrder: 'little',
          numpy: numpyRecipe(M2), active: 'piece 1 of a 2-piece unit (layers[].rule; ReLU, LeakyReLU, PReLU: pre-activation > 0)', units: M2,
        }
        : null,
      pieces: selection.pieceUnits > 0
        ? {
          file: PIECES_NPY, dtype: 'uint8', shape: [N, D, selection.pieceRowBits / 8], bitOrder: 'little',
          rowBits: selection.pieceRowBits, units: selection.pieceUnits, numpy: piecesNumpyRecipe(),
        }
        : null,
      probe: { source: this.probeSpec?.source ?? 'drawn', seed: this.options.seed, indices: this.probeSpec?.indices ?? null },
      layers: selectionToJson(selection),
      skipped: selection.skipped,
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

  /** Checkpoint state (JSON-able), or undefined before anything was recorded. Writes the `.npy` files first when there is a folder. */
  saveState(): SavedState | undefined {
    const c = this.configurations;
    if (!c || !this.selection || !this.probeSpec) return undefined;
    const dir = this.outDir;
    if (dir && this.written !== c.snapshots) this.write();
    return {
      version: STATE_VERSION, probes: c.probes, units: c.units, snapshots: c.snapshots,
      positions: this.positions.map((p) => ({ ...p })), probe: this.probeSpec, layers: selectionToJson(this.selection),
      file: dir && c.bits ? path.resolve(dir, CONFIGURATIONS_NPY) : null, packed: !dir && c.bits ? packedToBase64(c.bits) : null,
      pieceRowBits: this.selection.pieceRowBits,
      piecesFile: dir && c.pieces ? path.resolve(dir, PIECES_NPY) : null, piecesPacked: !dir && c.pieces ? packedToBase64(c.pieces) : null,
      skipped: this.selection.skipped,
    };
  }

  /** Restores a checkpoint's state; the next `begin` continues its tensor instead of starting over. */
  loadState(state: unknown): void {
    if (state === undefined || state === null) return;
    const s = state as SavedState;
    configurationsFromState(s); // fail now, with the checkpoint at hand, rather than at the start of training
    this.restored = s;
  }

  /** Disposes the probe set the recorder drew (a probe passed in stays the caller's). */
  dispose(): void {
    this.releaseProbe();
  }

  private write(): void {
    const dir = this.outDir;
    if (!dir || !this.selection) return;
    const c = this.configurations;
    writeOutputs(dir, this.toJson(), c);
    this.written = c?.snapshots ?? 0;
  }

  private isSchedulePoint(p: SnapshotPosition): boolean {
    const every = this.options.every;
    if ('rounds' in every) return p.round > 0 && p.round % every.rounds === 0;
    return p.epoch !== null && p.epoch > 0 && Number.isInteger(p.epoch) && p.epoch % every.epochs === 0;
  }

  private async resolveProbe(model: LayersModel): Promise<tf.Tensor> {
    const inputShape = (model.inputs[0].shape as number[]).slice(1);
    if (this.givenProbe) {
      checkProbeShape(this.givenProbe, inputShape);
      this.probeSpec ??= { source: 'given', indices: null };
      this.ownsProbe = false;
      return this.givenProbe;
    }
    const x = this.trainingX ?? this.fitX;
    if (!x) {
      throw new Error('activation: no probe set: pass `probe: tensor` in the options, or call setTrainingData(x) with the training inputs before training starts');
    }
    if (isSampleSource(x)) return this.drawProbe(x, inputShape);
    checkProbeShape(x, inputShape);
    this.probeSpec ??= probeIndices(x.shape[0], this.options);
    if (!this.probeSpec.indices) throw new Error('activation: the checkpoint used a probe tensor passed in: pass the same `probe` again');
    this.ownsProbe = true;
    return gatherProbe(x, this.probeSpec.indices);
  }

  /** The same seeded draw from a source: a stream is counted in one pass and read in another, keeping only the probe inputs. */
  private async drawProbe(source: SampleSource, inputShape: number[]): Promise<tf.Tensor> {
    this.probeSpec ??= probeIndices(await source.count(), this.options);
    if (!this.probeSpec.indices) throw new Error('activation: the checkpoint used a probe tensor passed in: pass the same `probe` again');
    const probe = await source.gather(this.probeSpec.indices);
    try {
      checkProbeShape(probe, inputShape);
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
