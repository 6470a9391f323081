import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  incurredLoss, JsonlWriter, lossReduction, Plugin, STAGE_ANALYZE, STAGE_RECORD, writeFileAtomic, writeJsonAtomic, writeNpyAtomic,
  type BatchContext, type EpochContext, type RunContext, type RunStoreLike, type RunSummary, type StateFiles, type StepOutcome, type Trainer,
  type ModelAnatomy, type PluginProblem, type RunPlan,
} from '@taylorlens/core';
import { PLUGIN_NAME, REGRET_SCHEMA, type RegretOptions, type RegretOptionsInput } from './options.js';
import { squaredErrorScale } from './quadratic/squared-error.js';
import { resolveScopes } from './scopes/resolve.js';
import { admitScopes, type CostReport } from './scopes/admit.js';
import { scheduled } from './scopes/schedule.js';
import { StatisticsScope } from './scopes/statistics-scope.js';
import { EigenWorker } from './linalg/eigen-worker.js';
import { LocalRoundsScope } from './rounds/local-scope.js';
import { NetworkScope } from './rounds/network-scope.js';
import { MemoryBudget } from './rounds/round-store.js';
import { networkStorage } from './rounds/replayable.js';
import { taylorAtNext } from './trace/taylor-next.js';
import { flatDense } from './jacobian/linear.js';
import { meanStd } from './stats-helpers.js';
import type { RoundInput, Scope, ScopeCheckpoint, ScopeDescription } from './scopes/scope.js';
import { loadFloat64, saveFloat64, syncDir } from './state-files.js';
import { preflightRegret } from './scopes/preflight.js';

export const REGRET_FORMAT = 'taylorlens.regret/1';
/** Format of the regret state in a run checkpoint (`checkpoint/epoch-NNNNNN/plugins/regret/`). */
export const REGRET_STATE_FORMAT = 'taylorlens.regret-state/1';
export const REGRET_STATE_FILE = 'regret-state.json';

/** `regret-state.json` of a checkpoint (the README's "Checkpoints and resume" has the layout). */
export interface RegretState {
  format: string;
  /** The checkpoint's epoch and round (losses.npy holds ℓ_n of rounds `results.firstRound ?? 1` … `round`). */
  epoch: number;
  round: number;
  /** Round of the last regret checkpoint (solve) at or before `round`; -1 before the first. */
  lastCheckpointRound: number;
  /** Statistics bytes the cost check charged (the stored rounds' memory budget is what is left). */
  memoryBytes: number;
  /** The active scopes in order, each with its folder under `scopes/` and its JSON state. */
  scopes: { desc: ScopeDescription; folder: string; state: unknown }[];
  /** regret.json as it stood at the checkpoint. */
  results: RegretFile;
}

interface Restored {
  dir: string;
  state: RegretState;
  losses: Float64Array;
}

/** A checkpoint as stored in regret.json: the solve plus the curves normalised by √N. */
export interface CheckpointRecord extends ScopeCheckpoint {
  normalized: { cumulativeLoss: number; phi: number[]; regret: number[] };
  /** Mean and standard deviation over the problems (neurons) of the normalised ball regret. */
  summary: { mean: number; std: number };
}

export interface ScopeRecord extends ScopeDescription {
  /** How the parameter vector of a problem is laid out. */
  parameterOrder: string;
  checkpoints: CheckpointRecord[];
}

export interface RegretFile {
  format: string;
  loss: string;
  /** γ of a squared-error loss `(γ/B)Σ‖f_b − y_b‖²` (statistics scopes), or null (stored rounds). */
  squaredErrorScale: number | null;
  options: RegretOptions;
  cost: CostReport | null;
  status: string;
  /** Rounds trained, and the per-round incurred loss ℓ_n file (float64, one per round). */
  rounds: number;
  losses: string;
  /** How ℓ_n was reduced: 'float64 on the host' (built-in losses) or 'float32 on the backend' (losses without hostValue). */
  lossReduction?: string;
  scopes: Record<string, ScopeRecord>;
  /** Wall-clock totals; `scopeRecordMs` splits recordMs by scope (after the shared Jacobians; absent in files written before it). */
  timing: { recordMs: number; recordedRounds: number; checkpointMs: number; scopeRecordMs?: Record<string, number> };
  /**
   * Only in a run resumed from a checkpoint without regret state (written before checkpoints held
   * it): the sums start afresh at `firstRound`, and what the earlier sessions wrote is kept in
   * `previousSessions` (file names). A run resumed from a checkpoint with regret state continues
   * the sums exactly and has neither field (unless an earlier resume had already set them).
   */
  firstRound?: number;
  previousSessions?: { regret: string; losses: string }[];
}

const ORDER: Record<string, string> = {
  neurons: 'θ_α = [kernel[..., α] flattened row-major (kh, kw, c_in for conv; input index for dense), bias[α] (only if the layer has a bias)]',
  layer: 'vec(Θ) row-major, Θ = [kernel reshaped to (kernelFanIn, channels); bias (only if the layer has a bias)] of shape (fanIn, channels)',
  network: 'every trainable variable flattened row-major, concatenated in model order (kernel, bias, kernel, bias, …)',
};

/** What "kernel" and the neuron index mean for the scoped kinds beyond Dense/Conv2D (their parameterOrder says so). */
const KERNEL_OF: Record<string, string> = {
  conv1d: 'kernel [k, c_in, filters]: rows in (k, c_in) order',
  depthwiseConv2d: 'depthwise_kernel [kh, kw, C, M] as (kh·kw, C·M): channel c·M + m is the layer\'s output channel, its row index (kh, kw)',
  batchNormalization: 'γ [C] as one row (1, C) and β as the bias row: channel c\'s parameters [γ_c, β_c] (round n\'s batch statistics held fixed)',
  prelu: 'α flattened row-major as one row (1, α.size): each entry of α is a neuron, no bias',
  conv2dTranspose: 'kernel [kh, kw, filters, c_in] with its last two axes swapped, (kh, kw, c_in) rows',
  embedding: 'embeddings [V, D]: one row per vocabulary entry, a neuron is one embedding dimension (its V entries)',
  separableConv2d: 'pointwise_kernel [1, 1, C·M, filters] as (C·M, filters) rows, on the depthwise output at W_n: a neuron is one output channel\'s pointwise column and bias, the depthwise kernel held at W_n; '
    + 'the layer scope appends depthwise_kernel [kh, kw, C, M] flattened row-major after vec(Θ) (first-order Taylor model in both kernels and the bias)',
  layerNormalization: 'γ (the normalised trailing axes) flattened as one row (1, γ.size) and β as the bias row: each entry\'s [γ_i, β_i] (per-sample statistics, exact)',
};

function parameterOrder(anatomy: ModelAnatomy, d: ScopeDescription): string {
  const kind = d.layerIndex !== null ? anatomy.layers[d.layerIndex].kind : null;
  return kind && KERNEL_OF[kind] ? `${ORDER[d.kind]}; ${KERNEL_OF[kind]}` : ORDER[d.kind];
}

function safe(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** JSON with sorted keys (to compare scope descriptions). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}

/**
 * Neural Taylor approximations (taylor-math.md): per round, the incurred loss and what each scope
 * (network, layers, sampled neurons) needs to evaluate its Taylor loss; at checkpoints, the hindsight
 * Taylor optimum `Φ_S(N)` over a ball (and, for squared error, unconstrained) and the regret
 * `R_S(N) = Σℓ_n − Φ_S(N)`, with the solver's convergence.
 */
export class RegretPlugin extends Plugin<RegretOptions> {
  readonly name = PLUGIN_NAME;
  /** Active scopes (after the cost check at beforeRun). */
  scopes: Scope[] = [];
  /** Everything regret.json holds, kept in memory too. */
  results!: RegretFile;
  /** ℓ_n of every round. */
  readonly losses: number[] = [];
  /** Keep scopes (statistics, stored rounds) after the run instead of disposing them (tests, notebooks). */
  retain = false;
  private trainer!: Trainer;
  private candidates: (ScopeDescription & { explicit: boolean })[] = [];
  private gamma: number | null = null;
  private store: RunStoreLike | null = null;
  private tmpDir: string | null = null;
  private traceBefore: tf.Tensor[] | null = null;
  private traceRows: JsonlWriter | null = null;
  private lastCheckpointRound = -1;
  /** Decomposes the statistics scopes' matrices at checkpoints while this thread solves the others. */
  private eigenWorker: EigenWorker | null = null;
  private epochs = 0;
  private batchesPerEpoch = 0;
  /** Statistics bytes admitted (saved with checkpoints). */
  private memoryBytes = 0;
  /** Between beforeRun and dispose: scopes exist and can be checkpointed. */
  private live = false;
  /** Regret state read from the checkpoint a resumed run starts from, applied in beforeRun. */
  private restored: Restored | null = null;

  /** `options` are validated against REGRET_SCHEMA (JSON from a config file is checked the same way). */
  constructor(options: RegretOptionsInput = {}) {
    super(REGRET_SCHEMA, options, PLUGIN_NAME);
  }

  apply(trainer: Trainer): void {
    this.trainer = trainer;
    const anatomy = trainer.anatomy;
    // Which scopes keep statistics depends on γ, measured in beforeRun (reading a tensor is async
    // on some backends); until then a loss declared quadratic is taken at its word, which can only
    // ask for more captures than needed.
    this.candidates = resolveScopes(anatomy, this.options, trainer.loss.quadratic ? 1 : null);
    if (this.candidates.length === 0) return;
    // Only what the candidate scopes read: ∂ℓ/∂a_l for dense statistics, layer inputs for layer and
    // neuron scopes and a network scope that stores them (rounds/replayable.ts), pre-activations
    // (masks, pool choices) for all.
    const local = this.candidates.filter((d) => d.kind !== 'network');
    const storedNetwork = local.length < this.candidates.length && networkStorage(anatomy) === 'stored';
    trainer.require({
      inputs: local.length > 0 || storedNetwork,
      preActivations: true,
      preActivationGrads: local.some((d) => d.method === 'statistics' && flatDense(anatomy.layers[d.layerIndex!])),
    });
    const name = PLUGIN_NAME;
    trainer.hooks.beforeRun.tapPromise({ name, stage: STAGE_RECORD }, (run) => this.beforeRun(run));
    trainer.hooks.afterBackward.tapPromise({ name, stage: STAGE_RECORD }, (ctx) => this.afterBackward(ctx));
    trainer.hooks.beforeStep.tapPromise({ name, stage: STAGE_RECORD }, async (ctx) => this.beforeStep(ctx));
    trainer.hooks.afterStep.tapPromise({ name, stage: STAGE_RECORD }, (outcome, ctx) => this.afterStep(outcome, ctx));
    trainer.hooks.afterEpoch.tapPromise({ name, stage: STAGE_ANALYZE }, (e) => this.afterEpoch(e));
    trainer.hooks.afterRun.tapPromise({ name, stage: STAGE_ANALYZE }, (run, summary) => this.afterRun(run, summary));
    trainer.hooks.saveStateFiles.tapPromise(name, (files) => this.saveState(files));
    trainer.hooks.loadStateFiles.tapPromise(name, async (files) => this.loadState(files));
  }

  /** Before any work (the core calls it before a run folder exists): layer selections and the budget, against the model. */
  override preflight(anatomy: ModelAnatomy, plan: RunPlan): Promise<PluginProblem[]> {
    return preflightRegret(this.options, anatomy, plan);
  }

  /** The folder results go to, or null without a run store. */
  get dir(): string | null {
    return this.store ? this.store.pluginDir(PLUGIN_NAME) : null;
  }

  private spillDir(key: string): string {
    if (this.dir) return path.join(this.dir, 'rounds', safe(key));
    this.tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-regret-'));
    return path.join(this.tmpDir, safe(key));
  }

  private warn(message: string): void {
    this.trainer.events.emit('warning', { source: PLUGIN_NAME, message });
  }

  private async beforeRun(run: RunContext): Promise<void> {
    this.store = run.store;
    this.epochs = run.epochs;
    this.batchesPerEpoch = run.batchesPerEpoch;
    this.losses.length = 0;
    this.lastCheckpointRound = -1;
    if (this.scopes.length > 0) this.dispose(); // a second fit starts afresh
    const anatomy = run.anatomy;
    const o = this.options;
    this.gamma = await squaredErrorScale(this.trainer.loss, anatomy.outputSize);
    if (this.gamma === null && this.trainer.loss.quadratic) this.candidates = resolveScopes(anatomy, o, null);
    const rounds = (run.epochs - run.initialEpoch) * run.batchesPerEpoch;
    // Resumed from a checkpoint holding regret state: continue it exactly (same scopes, cost
    // estimate and memory budget as when it was taken). Without one: start the sums afresh.
    const restored = this.takeRestored(run);
    const previousSessions = run.initialEpoch > 0 && !restored ? this.keepEarlierSessions() : [];
    if (run.initialEpoch > 0 && !restored) {
      this.warn('resumed run: regret accounting starts at the resumed round (the checkpoint holds no regret state)'
        + (previousSessions.length > 0 ? `; the earlier session's results are kept in ${previousSessions.at(-1)!.regret}` : ''));
    }
    const { chosen, cost, memoryBytes } = restored
      ? { chosen: restored.state.scopes.map((s) => s.desc), cost: restored.state.results.cost!, memoryBytes: restored.state.memoryBytes }
      : admitScopes(anatomy, this.candidates, o, run.batchSize, rounds, await measureThroughput());
    this.memoryBytes = memoryBytes;
    if (!restored) for (const s of cost.skipped) this.warn(`skipping scope ${s.key}: ${s.reason}`);
    this.trainer.events.emit('regret:cost', cost);
    const slow = cost.scopes.filter((c) => c.lastSolveSeconds > 600);
    if (slow.length > 0) {
      this.warn(`the last checkpoint's solve may take long (upper estimates at solver.maxIterations = ${o.solver.maxIterations}): `
        + slow.map((c) => `${c.key} ≈ ${Math.round(c.lastSolveSeconds / 60)} min`).join(', ')
        + '; record fewer rounds or samples (every, reservoir, subBatch), fewer scopes, or checkpoint less often (checkpoint.everyEpochs)');
    }
    const budget = new MemoryBudget(Math.max(o.budget.memoryMB * 2 ** 20 - memoryBytes, 0));
    const solver = { maxIterations: o.solver.maxIterations, gapTolerance: o.solver.gapTolerance, memory: o.solver.memory, tolerance: o.solver.tolerance, krylovIterations: o.solver.krylovIterations };
    const perRound = o.readings.includes('perRound') ? o.perRound : null;
    if (perRound && chosen.some((d) => d.kind === 'network')) {
      this.warn('readings: the per-round reading is computed for layer and neuron scopes; the network scope reports the hindsight reading only');
    }
    this.scopes = chosen.map((d, i) => {
      const common = { ballFactor: o.feasible.ballFactor, solver, seed: o.neurons.seed + 31 * i };
      if (d.kind === 'network') return new NetworkScope(d, anatomy, this.trainer.loss, budget, this.spillDir(d.key), { ...common, gamma: this.gamma });
      if (d.method === 'statistics') return new StatisticsScope(d, anatomy, { ballFactor: o.feasible.ballFactor, unconstrained: o.feasible.unconstrained, rcond: o.feasible.rcond, perRound });
      return new LocalRoundsScope(d, anatomy, this.trainer.loss, budget, this.spillDir(d.key), { ...common, perRound });
    });
    // What the scopes read each round, asked of core: computed once per round for every plugin.
    for (const s of this.scopes) {
      const d = s.desc;
      if (d.kind === 'network') continue;
      const p = anatomy.layers[d.layerIndex!];
      if (d.method === 'statistics' && flatDense(p)) {
        // Unit blocks read the Gram's diagonal (an output layer's Gram is diagonal), as neurons do.
        this.trainer.requireDerived(d.kind === 'neurons' || d.structure === 'unit-blocks' ? { gramDiagonals: [p.index] } : { grams: [p.index] });
      } else {
        this.trainer.requireDerived({ jacobians: [{ layer: p.index, subBatch: d.subBatch }] });
      }
    }
    this.results = {
      format: REGRET_FORMAT,
      loss: this.trainer.loss.name,
      squaredErrorScale: this.gamma,
      options: this.options,
      cost,
      status: 'running',
      rounds: 0,
      losses: 'losses.npy',
      lossReduction: lossReduction(this.trainer.loss),
      scopes: Object.fromEntries(this.scopes.map((s) => {
        return [s.desc.key, { ...s.desc, parameterOrder: parameterOrder(anatomy, s.desc), checkpoints: [] }];
      })),
      timing: { recordMs: 0, recordedRounds: 0, checkpointMs: 0 },
      ...(run.initialEpoch > 0 ? { firstRound: run.initialEpoch * run.batchesPerEpoch + 1, previousSessions } : {}),
    };
    if (restored) await this.restore(restored);
    if (this.store?.traceDir) {
      this.traceRows = new JsonlWriter(path.join(this.store.traceDir, PLUGIN_NAME, 'rounds.jsonl'));
    }
    this.live = true;
    this.write();
  }

  /**
   * The regret state loaded with the checkpoint this run resumes from, if it fits this run (saved at
   * the epoch it resumes at, the same scopes); else null, with a warning when there was one.
   */
  private takeRestored(run: RunContext): Restored | null {
    const r = this.restored;
    this.restored = null;
    if (!r || run.initialEpoch === 0) return null;
    const candidates = new Map(this.candidates.map(({ explicit: _explicit, ...d }) => [d.key, d]));
    const problem = r.state.epoch !== run.initialEpoch
      ? `it was saved at epoch ${r.state.epoch} but the run resumes at epoch ${run.initialEpoch}`
      : r.state.round !== run.initialEpoch * run.batchesPerEpoch
        ? `it holds ${r.state.round} rounds but the run resumes after ${run.initialEpoch * run.batchesPerEpoch}`
        : r.state.scopes.find((s) => !candidates.has(s.desc.key) || canonical(candidates.get(s.desc.key)) !== canonical(s.desc))
          ? 'its scopes differ from the ones these options select'
          : null;
    if (problem) {
      this.warn(`ignoring the checkpoint's regret state: ${problem}; was the config changed?`);
      return null;
    }
    return r;
  }

  /** Put a checkpoint's regret state back: every scope's sums and rounds, ℓ_n, regret.json, the trace. */
  private async restore(r: Restored): Promise<void> {
    for (const [i, s] of this.scopes.entries()) {
      const saved = r.state.scopes[i];
      if (!s.loadState) throw new Error(`regret: scope ${s.desc.key} cannot restore a checkpoint`);
      await s.loadState(path.join(r.dir, 'scopes', saved.folder), saved.state);
    }
    this.losses.length = 0;
    for (const v of r.losses) this.losses.push(v);
    this.results = { ...r.state.results, status: 'running' };
    this.lastCheckpointRound = r.state.lastCheckpointRound;
    this.dropTraceAfter(r.state.epoch, r.state.round);
  }

  /** The trace a resumed run redoes: rows and round folders after `round`, checkpoint folders after `epoch`. */
  private dropTraceAfter(epoch: number, round: number): void {
    const dir = this.store?.traceDir ? path.join(this.store.traceDir, PLUGIN_NAME) : null;
    if (!dir || !fs.existsSync(dir)) return;
    const rows = path.join(dir, 'rounds.jsonl');
    if (fs.existsSync(rows)) {
      const lines = fs.readFileSync(rows, 'utf8').split('\n').filter((line) => {
        try {
          return Number((JSON.parse(line) as { round: number }).round) <= round;
        } catch {
          return false; // a torn last line
        }
      });
      writeFileAtomic(rows, lines.map((l) => l + '\n').join(''));
    }
    for (const e of fs.readdirSync(dir)) {
      const m = /^(round|checkpoint-round|checkpoint-epoch)-(\d+)$/.exec(e);
      if (m && Number(m[2]) > (m[1] === 'checkpoint-epoch' ? epoch : round)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
    }
  }

  /**
   * saveStateFiles: everything a resumed run needs to continue the regret accounting bit for bit,
   * written into the checkpoint (README, "Checkpoints and resume").
   */
  private async saveState(files: StateFiles): Promise<void> {
    if (!this.live) return;
    const missing = this.scopes.filter((s) => !s.saveState).map((s) => s.desc.key);
    // ℓ_n of every round since the sums began (round 1, or firstRound after a resume without regret state).
    const expected = files.round - ((this.results.firstRound ?? 1) - 1);
    if (missing.length > 0 || this.losses.length !== expected) {
      this.warn(`the checkpoint at epoch ${files.epoch} holds no regret state (${missing.length > 0 ? `scopes ${missing.join(', ')} cannot save theirs`
        : `${this.losses.length} rounds recorded, ${expected} expected`}): a run resumed from it restarts the regret accounting`);
      return;
    }
    const dir = files.dir(PLUGIN_NAME);
    this.traceRows?.flushSync(); // the rows traced so far go with the checkpoint; a resume keeps them
    saveFloat64(path.join(dir, 'losses.npy'), Float64Array.from(this.losses), [this.losses.length]);
    const scopes: RegretState['scopes'] = [];
    for (const [i, s] of this.scopes.entries()) {
      const folder = `${String(i).padStart(2, '0')}-${safe(s.desc.key)}`;
      scopes.push({ desc: s.desc, folder, state: await s.saveState!(path.join(dir, 'scopes', folder)) });
    }
    if (scopes.length > 0) syncDir(path.join(dir, 'scopes'));
    const state: RegretState = {
      format: REGRET_STATE_FORMAT, epoch: files.epoch, round: files.round, lastCheckpointRound: this.lastCheckpointRound,
      memoryBytes: this.memoryBytes, scopes, results: { ...this.results, rounds: this.losses.length },
    };
    writeJsonAtomic(path.join(dir, REGRET_STATE_FILE), state);
    files.state[PLUGIN_NAME] = { format: REGRET_STATE_FORMAT, file: REGRET_STATE_FILE, rounds: this.losses.length };
  }

  /** loadStateFiles: read the checkpoint's regret state (applied in beforeRun, once the scopes exist). */
  private loadState(files: StateFiles): void {
    this.restored = null;
    const entry = files.state[PLUGIN_NAME] as { format?: string; file?: string } | undefined;
    if (!entry) return;
    const dir = files.dir(PLUGIN_NAME);
    if (entry.format !== REGRET_STATE_FORMAT) throw new Error(`${dir}: regret state of format ${String(entry.format)}, expected ${REGRET_STATE_FORMAT}`);
    const file = path.join(dir, entry.file ?? REGRET_STATE_FILE);
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as RegretState;
    if (state.format !== REGRET_STATE_FORMAT) throw new Error(`${file}: format ${state.format}, expected ${REGRET_STATE_FORMAT}`);
    this.restored = { dir, state, losses: loadFloat64(path.join(dir, 'losses.npy'), state.results.rounds) };
  }

  private async afterBackward(ctx: BatchContext): Promise<void> {
    // A non-finite loss ends the run (diverged) before this round's step: it is no round of the sums.
    if (!Number.isFinite(ctx.loss)) return;
    const capture = ctx.capture;
    // ℓ_n as published: reduced in float64 (the trainer's float32 mean is ~1e-4 relative low on 50,000 terms).
    const loss = this.scopes.length > 0 ? await incurredLoss(this.trainer.loss, capture.output, capture.y) : ctx.loss;
    this.losses.push(loss);
    const due = this.scopes.filter((s) => scheduled(s.desc, ctx.round));
    if (due.length === 0) return;
    const t0 = performance.now();
    const jac = ctx.derived!;
    const memo: { residual?: tf.Tensor2D } = {};
    const input: RoundInput = {
      round: ctx.round, loss, capture, jac, gamma: this.gamma,
      residual: () => (memo.residual ??= tf.keep(tf.sub(capture.output, capture.y)) as tf.Tensor2D),
    };
    try {
      await jac.prepare();
      const byScope = (this.results.timing.scopeRecordMs ??= {});
      for (const s of due) {
        const ts = performance.now();
        await s.record(input);
        byScope[s.desc.key] = (byScope[s.desc.key] ?? 0) + performance.now() - ts;
      }
    } finally {
      memo.residual?.dispose();
    }
    this.results.timing.recordMs += performance.now() - t0;
    this.results.timing.recordedRounds += 1;
  }

  private tracing(round: number): boolean {
    return Boolean(this.options.trace && this.store?.traceDir && this.store.traces(round));
  }

  private beforeStep(ctx: BatchContext): void {
    if (!this.tracing(ctx.round)) return;
    this.traceBefore = this.trainer.anatomy.variables.map((v) => v.clone());
  }

  private async afterStep(outcome: StepOutcome, ctx: BatchContext): Promise<void> {
    const before = this.traceBefore;
    if (!before) return;
    this.traceBefore = null;
    try {
      const anatomy = this.trainer.anatomy;
      const after = outcome.weights as readonly tf.Tensor[];
      const taylorNext: Record<string, number[]> = {};
      for (const s of this.scopes) {
        const t = taylorAtNext(anatomy, ctx.capture, this.trainer.loss, s.desc, before, after);
        taylorNext[s.desc.key] = Array.from(await t.data());
        t.dispose();
      }
      const dir = path.join(this.store!.traceDir!, PLUGIN_NAME, `round-${String(ctx.round).padStart(6, '0')}`);
      const save = async (name: string, t: tf.Tensor) => {
        const raw = await t.data();
        const data = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>); // int32 class labels
        return writeNpyAtomic(path.join(dir, `${name}.npy`), { dtype: 'float32', shape: t.shape, data });
      };
      await save('x', ctx.capture.x);
      await save('y', ctx.capture.y);
      await save('f', ctx.capture.output);
      const flat = (ws: readonly tf.Tensor[]) => tf.tidy(() => tf.concat(ws.map((w) => tf.reshape(w, [-1]))));
      const wn = flat(before);
      const wn1 = flat(after);
      await save('w_n', wn);
      await save('w_next', wn1);
      tf.dispose([wn, wn1]);
      this.traceRows!.append({
        round: ctx.round, loss: ctx.loss, recorded: this.scopes.filter((s) => scheduled(s.desc, ctx.round)).map((s) => s.desc.key), taylorNext,
      });
    } finally {
      tf.dispose(before);
    }
  }

  private async afterEpoch(e: EpochContext): Promise<void> {
    const epoch = e.epoch + 1;
    const last = epoch === this.epochs;
    if (epoch % this.options.checkpoint.everyEpochs !== 0 && !last) return;
    await this.checkpoint(epoch, Number(e.row.round), e.row);
  }

  /** Solve every scope now (also callable directly, e.g. from a notebook after `fit`). */
  async checkpoint(epoch: number, round: number, row?: Record<string, unknown>): Promise<Record<string, CheckpointRecord>> {
    // Say what runs, scope by scope (`phase` events; the CLI shows them instead of a frozen estimate).
    const total = this.scopes.length;
    const phase = (done: number, detail: string) => total > 0 && this.trainer.events.emit('phase', { phase: `regret: solving checkpoint (epoch ${epoch})`, detail, done, total });
    phase(0, 'finishing the recorded rounds');
    // Buffered recording work belongs to the rounds, not to the solve.
    const tf0 = performance.now();
    for (const s of this.scopes) await s.flush?.();
    this.results.timing.recordMs += performance.now() - tf0;
    const t0 = performance.now();
    // Scopes that need the model (the network's replays, stored rounds) solve on this thread; the
    // statistics scopes' decompositions meanwhile run on the eigen worker (the second core), or
    // half of them when this thread has nothing else to do (measured on the input layer's 50
    // neurons: all on the worker 3.1 s, half 2.3 s, a third or a quarter here 2.4–2.5 s).
    const onThread = this.scopes.filter((s) => !s.prepare);
    const prepared = this.scopes.filter((s) => s.prepare);
    if (prepared.length > 0) {
      this.eigenWorker ??= new EigenWorker();
      for (const s of prepared) s.prepare!(this.eigenWorker, onThread.length === 0);
    }
    const solved = new Map<Scope, ScopeCheckpoint>();
    for (const s of [...onThread, ...prepared]) {
      phase(solved.size, `scope ${solved.size + 1}/${total} ${s.desc.key}`);
      solved.set(s, await s.checkpoint(epoch, round));
    }
    const out: Record<string, CheckpointRecord> = {};
    for (const s of this.scopes) {
      const c = solved.get(s)!;
      const n = Math.sqrt(Math.max(c.recordedRounds, 1));
      const normalized = { cumulativeLoss: c.cumulativeLoss / n, phi: c.ball.phi.map((v) => v / n), regret: c.ball.regret.map((v) => v / n) };
      const rec: CheckpointRecord = { ...c, normalized, summary: meanStd(normalized.regret) };
      out[s.desc.key] = rec;
      this.results.scopes[s.desc.key].checkpoints.push(rec);
      if (row) {
        const d = s.desc;
        const pr = c.perRound;
        if (d.kind === 'network') {
          row['regret.network.normalized'] = normalized.regret[0];
          row['regret.network.regret'] = c.ball.regret[0];
        } else if (d.kind === 'layer') {
          row[`regret.layer.${d.layer}.normalized`] = normalized.regret[0];
          row[`regret.layer.${d.layer}.regret`] = c.ball.regret[0];
          if (pr) row[`regret.layer.${d.layer}.perRound.normalized`] = pr.normalized[0];
        } else {
          row[`regret.neurons.${d.layer}.mean`] = rec.summary.mean;
          row[`regret.neurons.${d.layer}.std`] = rec.summary.std;
          if (pr) {
            const m = meanStd(pr.normalized);
            row[`regret.neurons.${d.layer}.perRound.mean`] = m.mean;
            row[`regret.neurons.${d.layer}.perRound.std`] = m.std;
          }
        }
      }
    }
    phase(total, `${total} scope${total === 1 ? '' : 's'} solved`);
    this.lastCheckpointRound = round;
    this.results.rounds = this.losses.length;
    this.results.timing.checkpointMs += performance.now() - t0;
    this.trainer.events.emit('regret:checkpoint', { epoch, round, scopes: out });
    this.write();
    await this.traceCheckpoint(epoch, round, out);
    return out;
  }

  private async traceCheckpoint(epoch: number, round: number, out: Record<string, CheckpointRecord>): Promise<void> {
    if (!this.options.trace || !this.store?.traceDir) return;
    // A solve inside an epoch (a run stopped mid-epoch) is named by its round, not to overwrite that epoch's.
    const name = this.batchesPerEpoch > 0 && round !== epoch * this.batchesPerEpoch
      ? `checkpoint-round-${String(round).padStart(6, '0')}` : `checkpoint-epoch-${String(epoch).padStart(4, '0')}`;
    const dir = path.join(this.store.traceDir, PLUGIN_NAME, name);
    const files: Record<string, string> = {};
    for (const s of this.scopes) {
      const u = s.optima();
      const c = s.centre();
      if (!u || !c) continue;
      const P = s.desc.params;
      const centre = await c.data();
      const v = new Float64Array(u.length * P);
      u.forEach((row, k) => { for (let i = 0; i < P; i++) v[k * P + i] = centre[k * P + i] + row[i]; });
      const file = `${safe(s.desc.key)}.optimum.npy`;
      writeNpyAtomic(path.join(dir, file), { dtype: 'float64', shape: [u.length, P], data: v });
      writeNpyAtomic(path.join(dir, `${safe(s.desc.key)}.centre.npy`), { dtype: 'float32', shape: [u.length, P], data: centre as Float32Array });
      files[s.desc.key] = file;
    }
    writeJsonAtomic(path.join(dir, 'checkpoint.json'), { epoch, optima: files, scopes: out });
  }

  private async afterRun(_run: RunContext, summary: RunSummary): Promise<void> {
    if (!this.results) return;
    try {
      if (summary.rounds > 0 && this.lastCheckpointRound !== summary.rounds && this.scopes.length > 0) {
        await this.checkpoint(summary.epochsCompleted, summary.rounds);
      }
    } finally {
      this.results.status = summary.status;
      this.write();
      this.traceRows?.close();
      this.traceRows = null;
      if (!this.retain) this.dispose();
    }
  }

  /**
   * Before a resumed run writes its own regret.json: rename the files of the sessions before it to
   * `regret.session-<k>.json` / `losses.session-<k>.npy`, so that nothing they recorded is lost.
   */
  private keepEarlierSessions(): { regret: string; losses: string }[] {
    const dir = this.dir;
    if (!dir) return [];
    const current = path.join(dir, 'regret.json');
    let kept: { regret: string; losses: string }[] = [];
    if (fs.existsSync(current)) {
      kept = (JSON.parse(fs.readFileSync(current, 'utf8')) as RegretFile).previousSessions ?? [];
      const k = kept.length + 1;
      const names = { regret: `regret.session-${k}.json`, losses: `losses.session-${k}.npy` };
      fs.renameSync(current, path.join(dir, names.regret));
      if (fs.existsSync(path.join(dir, 'losses.npy'))) fs.renameSync(path.join(dir, 'losses.npy'), path.join(dir, names.losses));
      kept = [...kept, names];
    }
    return kept;
  }

  private write(): void {
    const dir = this.dir;
    if (!dir) return;
    this.results.rounds = this.losses.length;
    writeNpyAtomic(path.join(dir, 'losses.npy'), { dtype: 'float64', shape: [this.losses.length], data: Float64Array.from(this.losses) });
    writeJsonAtomic(path.join(dir, 'regret.json'), this.results);
  }

  /** Free statistics, stored rounds and temporary files. */
  dispose(): void {
    this.live = false;
    for (const s of this.scopes) s.dispose();
    this.eigenWorker?.dispose();
    this.eigenWorker = null;
    this.traceBefore && tf.dispose(this.traceBefore);
    this.traceBefore = null;
    if (this.tmpDir) fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.tmpDir = null;
  }
}

/** Multiply-adds per millisecond of a 256×256 matmul on the active backend (for the time estimate). */
async function measureThroughput(): Promise<number> {
  const a = tf.randomNormal([256, 256]);
  const run = async () => { const c = tf.matMul(a, a); await c.data(); c.dispose(); };
  await run();
  const t0 = performance.now();
  for (let i = 0; i < 4; i++) await run();
  const ms = (performance.now() - t0) / 4;
  a.dispose();
  return (256 * 256 * 256) / Math.max(ms, 1e-3);
}
