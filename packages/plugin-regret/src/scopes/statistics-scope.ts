import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy, ParamLayer } from '@taylorlens/core';
import { flatDense, patches } from '../jacobian/linear.js';
import { selectChannels } from '@taylorlens/core';
import { layerJacobianTensor, neuronJacobianTensors, separableRound } from '../jacobian/jacobian-tensor.js';
import { denseLayerPieces, denseLayerReducer } from '../quadratic/dense-layer-statistics.js';
import { sumsOffThread } from '../quadratic/sums-worker.js';
import { addBlockSymmetric, addUnpackedKron, blockLayout, packedIndices, type BlockLayout } from '../quadratic/packed.js';
import { denseNeuronPieces, denseNeuronReducer, sparseNeuronAccumulator, WIDE_FAN_IN, wideDenseNeuronReducer } from '../quadratic/dense-neuron-statistics.js';
import { jacobianTensorStatistics, sumReducer } from '../quadratic/jacobian-tensor-statistics.js';
import { addUpper, QuadraticStatistics, type QuadraticStatisticsState } from '../quadratic/statistics.js';
import { BlockEigen, supportEigen, supportEigenOffThread, type Eigenbasis } from '../linalg/block-eigen.js';
import type { EigenWorker } from '../linalg/eigen-worker.js';
import { leastNormMinimum, solveTrustRegion } from '../linalg/trust-region.js';
import { scopeParams, scopeParamsColumns, Trajectory, type TrajectoryState } from './params.js';
import { loadRows, loadTensor, saveRows, saveTensor, syncDir } from '../state-files.js';
import { PerRoundReading, type PerRoundState } from './per-round.js';
import type { BallResult, RoundInput, Scope, ScopeCheckpoint, ScopeDescription, SolverReport, UnconstrainedResult } from './scope.js';

export interface StatisticsOptions {
  ballFactor: number;
  unconstrained: boolean;
  rcond: number | null;
  flushEvery?: number;
  /** Also the per-round reading, solved on every `every`-th recorded round (per-round.ts). */
  perRound?: { every: number } | null;
}

/** A dense layer's input as the scope sees it, `x̃ = [x, 1]` `[B, fanIn]`; just `x` for a bias-free layer. */
function inputRows(p: ParamLayer, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const B = x.shape[0];
    const flat = tf.reshape(x, [B, -1]);
    return (p.bias ? tf.concat([flat, tf.ones([B, 1])], 1) : flat) as tf.Tensor2D;
  });
}

/** Below this size a decomposition (~n³ flops) costs less than a round trip to the eigen worker. */
const OFFLOAD_MIN_SIZE = 64;

/**
 * A squared-error scope held as exact running statistics (A, g, c): every checkpoint's optimum
 * over the ball is the exact trust-region solution, and the unconstrained one the least-norm
 * minimiser, from one eigendecomposition per problem.
 */
export class StatisticsScope implements Scope {
  private readonly stats: QuadraticStatistics;
  private readonly trajectory = new Trajectory(true); // columns [P, K]: the statistics' layout
  private lossSum = 0;
  private samples = 0;
  private last: Float64Array[] | null = null;
  private readonly unitIndex: tf.Tensor1D | null;
  private readonly gIdx: { I: tf.Tensor1D; J: tf.Tensor1D; flat: tf.Tensor1D } | null;
  private readonly sharedA: boolean;
  /** A layer scope held as one block per unit (desc.structure 'unit-blocks'): K units of fanIn parameters. */
  private readonly blocks: { K: number; q: number; shared: boolean } | null;
  /** Statistics of the same layout (the running sums, or one round's for the per-round reading). */
  private readonly makeStats: (bufferRounds?: number, flushEvery?: number) => QuadraticStatistics;
  readonly perRound: PerRoundReading | null;

  constructor(readonly desc: ScopeDescription, private readonly anatomy: ModelAnatomy, private readonly opts: StatisticsOptions) {
    const p = anatomy.layers[desc.layerIndex!];
    // Dense on a flat input (one position): the Gram shortcuts; Dense on rank > 2 inputs shares its kernel over positions, as a conv.
    const dense = flatDense(p);
    const q = p.fanIn;
    // An output layer under squared error: J[:, α] is a unit vector (times s'(a_L)), so with a
    // linear output every unit has the same A (its neurons, or its layer scope's unit blocks).
    const L = anatomy.layers.length - 1;
    const sameA = dense && p.index === L && (p.activation === 'linear' || anatomy.absorbedOutputActivation !== null);
    this.blocks = desc.structure === 'unit-blocks' ? { K: p.channels, q, shared: sameA } : null;
    this.gIdx = dense && desc.kind === 'layer' && !this.blocks ? packedIndices(p.channels) : null;
    // Unit blocks are the statistics of every unit as a neuron; the layer's problem joins them at the solve.
    const K = this.blocks ? p.channels : desc.problems;
    let layout: BlockLayout | null = null; // the packed rows of x̃x̃ᵀ, for the narrow dense paths
    const lay = () => (layout ??= blockLayout(q));
    this.makeStats = (buffer, flush) => {
      if (!dense) return new QuadraticStatistics(K, desc.params, sumReducer, undefined, buffer, flush);
      // The running sums (no buffer arguments) form A on a worker thread (the second core): the
      // statistics sums worker where the backend can run there, the sparse kernel for wide inputs.
      const running = buffer === undefined;
      if (desc.kind === 'layer' && !this.blocks) {
        const offThread = running ? sumsOffThread({ kind: 'layer', layout: lay(), p: p.channels }) : null;
        return new QuadraticStatistics(K, desc.params, denseLayerReducer, (a, A) => addUnpackedKron(a, lay(), p.channels, A), buffer, flush, offThread);
      }
      if (q > WIDE_FAN_IN) return new QuadraticStatistics(K, q, wideDenseNeuronReducer, addUpper(K, q), buffer, flush, sparseNeuronAccumulator(K, q, running));
      const offThread = running ? sumsOffThread({ kind: 'neurons', layout: lay(), K }) : null;
      return new QuadraticStatistics(K, q, denseNeuronReducer, (a, A) => addBlockSymmetric(a, K, lay(), A), buffer, flush, offThread);
    };
    this.stats = this.makeStats();
    this.perRound = opts.perRound ? new PerRoundReading(desc.problems, opts.perRound.every) : null;
    this.unitIndex = desc.units ? tf.keep(tf.tensor1d(desc.units, 'int32')) : null;
    this.sharedA = (desc.kind === 'neurons' || this.blocks !== null) && sameA;
  }

  readParams(weights?: readonly tf.Tensor[]): tf.Tensor2D {
    return scopeParams(this.anatomy, this.desc, weights);
  }

  centre(): tf.Tensor2D | null {
    return this.trajectory.centre;
  }

  optima(): Float64Array[] | null {
    return this.last;
  }

  /** The statistics themselves (tests, traces); `c` there excludes Σℓ_n (see `taylorSum`). */
  get statistics(): QuadraticStatistics {
    return this.stats;
  }

  /** `Σℓ_n` over the recorded rounds. */
  get cumulativeLoss(): number {
    return this.lossSum;
  }

  /** `Σ_n τ^n(w₁ + u)` for problem k (after `await statistics.flush()`). */
  taylorSum(k: number, u: ArrayLike<number>): number {
    if (!this.blocks) return this.lossSum + this.stats.value(k, u);
    const { K, q } = this.blocks;
    let s = this.lossSum;
    for (let j = 0; j < K; j++) s += this.stats.value(j, unitColumn(u, K, q, j));
    return s;
  }

  /** Problem k's quadratic `uᵀAu + 2gᵀu + c'` as an eigenbasis, g and c' (after `await statistics.flush()`). */
  problem(k: number): { eig: Eigenbasis; g: Float64Array; c: number } {
    return problemAt(this.stats, this.desc.params, this.blocks, k);
  }

  /** The gradient of `taylorSum` at u, `2(Au + g)` (after `await statistics.flush()`). */
  taylorGradient(k: number, u: ArrayLike<number>): Float64Array {
    const grad = (j: number, v: ArrayLike<number>) => {
      const A = this.stats.matrix(j);
      const g = this.stats.vector(j);
      const n = g.length;
      return Float64Array.from({ length: n }, (_, i) => { let s = g[i]; for (let m = 0; m < n; m++) s += A[i * n + m] * v[m]; return 2 * s; });
    };
    if (!this.blocks) return grad(k, u);
    const { K, q } = this.blocks;
    const out = new Float64Array(K * q);
    for (let j = 0; j < K; j++) grad(j, unitColumn(u, K, q, j)).forEach((v, i) => { out[i * K + j] = v; });
    return out;
  }

  usage() {
    return { memoryBytes: this.stats.bytes, diskBytes: 0 };
  }

  async record(r: RoundInput): Promise<void> {
    if (r.gamma === null) throw new Error(`scope ${this.desc.key}: statistics need a squared-error loss`);
    const { capture, jac } = r;
    const l = this.desc.layerIndex!;
    const p = this.anatomy.layers[l];
    const B = capture.batchSize;
    const kappa = r.gamma / B;
    const w = scopeParamsColumns(this.anatomy, this.desc);
    const dW = this.trajectory.update(w); // [P, K]
    w.dispose();
    const input = capture.layers[l].input;
    if (!input) throw new Error(`scope ${this.desc.key}: layer inputs were not captured`);
    const pieces = tf.tidy(() => {
      if (flatDense(p)) {
        const xt = inputRows(p, input);
        const delta = capture.layers[l].preActivationGrad as tf.Tensor2D;
        if (this.blocks) {
          const n = this.sharedA ? tf.ones([B, 1]) as tf.Tensor2D : jac.gramDiagonal(l);
          return denseNeuronPieces(xt, n, delta, tf.reshape(dW, [p.fanIn, p.channels]) as tf.Tensor2D, kappa);
        }
        if (this.desc.kind === 'layer') {
          return denseLayerPieces(xt, jac.gram(l), delta, tf.reshape(dW, [p.fanIn, p.channels]) as tf.Tensor2D, kappa, this.gIdx!);
        }
        const all = this.desc.units!.length === p.channels;
        const pick = (t: tf.Tensor) => (all ? t : selectChannels(t, this.unitIndex!, p.channels)) as tf.Tensor2D;
        const n = this.sharedA ? tf.ones([B, 1]) as tf.Tensor2D : pick(jac.gramDiagonal(l));
        return denseNeuronPieces(xt, n, pick(delta), dW, kappa);
      }
      const J = jac.jacobian(l, Infinity);
      const rows = patches(p, input);
      const G = this.desc.kind === 'layer' ? layerJacobianTensor(p, J, rows, p.depthwise ? separableRound(capture, p) : undefined) : neuronJacobianTensors(p, J, rows, this.unitIndex!);
      const { A, g, c } = jacobianTensorStatistics(G, r.residual(), tf.transpose(dW) as tf.Tensor2D, kappa);
      return [A, g, c];
    });
    const single = this.perRound?.due() ? pieces.map((t) => t.clone()) : null;
    await this.stats.add(pieces);
    this.lossSum += r.loss;
    this.samples += B;
    if (single) await this.solvePerRound(single, r.loss);
  }

  /** `min_{K_n} τ^n` per problem from this round's pieces alone (the same exact solve as the hindsight one). */
  private async solvePerRound(pieces: tf.Tensor[], loss: number): Promise<void> {
    const one = this.makeStats(1, 1);
    try {
      await one.add(pieces);
      await one.flush();
      const K = this.desc.problems;
      const radii = Array.from(await this.trajectory.farthestDistance(K), (d) => d * this.opts.ballFactor);
      const { regret, solver } = solveBall(one, radii, this.desc.params, this.blocks, null);
      this.perRound!.add(new Array(K).fill(loss), regret.map((r) => loss - r), solver);
    } finally {
      one.dispose();
    }
  }

  async flush(): Promise<void> {
    await this.stats.flush();
  }

  /**
   * The checkpoint's decompositions (one per problem, or per unit block) that prepare() handed to
   * the eigen worker; null entries are decomposed on this thread.
   */
  private decomposing: (Promise<Eigenbasis> | null)[] | null = null;

  /** The matrices a checkpoint decomposes: one per problem, or one per unit block (one if shared), each n×n. */
  private get decompositions(): { count: number; n: number } {
    if (!this.blocks) return { count: this.stats.K, n: this.desc.params };
    return { count: this.blocks.shared ? 1 : this.blocks.K, n: this.blocks.q };
  }

  prepare(worker: EigenWorker, half: boolean): void {
    const { count, n } = this.decompositions;
    if (n < OFFLOAD_MIN_SIZE) return;
    this.decomposing = Array.from({ length: count }, (_, j) => (half && j % 2 === 0 ? null : supportEigenOffThread(this.stats.shared(j) ?? this.stats.matrix(j), n, worker)));
    for (const d of this.decomposing) d?.catch(() => undefined); // surfaced by checkpoint()
  }

  /** prepare()'s decompositions: this thread's share first, while the worker does its own. */
  private async prepared(): Promise<Eigenbasis[] | null> {
    const jobs = this.decomposing;
    this.decomposing = null;
    if (!jobs) return null;
    const { n } = this.decompositions;
    const here = jobs.map((job, j) => (job ? null : supportEigen(this.stats.matrix(j), n)));
    return Promise.all(jobs.map((job, j) => job ?? here[j]!));
  }

  async checkpoint(epoch: number, round: number): Promise<ScopeCheckpoint> {
    await this.stats.flush();
    const t0 = performance.now();
    const prepared = await this.prepared();
    const K = this.desc.problems;
    const P = this.desc.params;
    const radii = Array.from(await this.trajectory.farthestDistance(K), (d) => d * this.opts.ballFactor);
    const ball: BallResult = { phi: [], regret: [], radius: radii, solver: [] };
    const unc: UnconstrainedResult | null = this.opts.unconstrained
      ? { phi: [], regret: [], solver: [], rank: [], cutoff: [], residual: [], rcond: NaN }
      : null;
    // The unconstrained minimum reuses each problem's eigendecomposition before it is dropped.
    const solved = solveBall(this.stats, radii, P, this.blocks, prepared, unc ? (k, eig, g, cPrime) => {
      {
        const ln = leastNormMinimum(eig, g, this.opts.rcond ?? undefined);
        const uregret = 0 - (cPrime + ln.value);
        unc.phi.push(this.lossSum - uregret);
        unc.regret.push(uregret);
        unc.rank.push(ln.rank);
        unc.cutoff.push(ln.cutoff);
        unc.residual.push(ln.residual);
        unc.rcond = ln.rcond;
        unc.solver.push({ method: 'least-norm (eigendecomposition, spectral cut-off)', converged: !ln.unbounded, residual: ln.residual });
      }
    } : undefined);
    ball.regret = solved.regret;
    ball.phi = solved.regret.map((r) => this.lossSum - r);
    ball.solver = solved.solver;
    this.last = solved.optima;
    return {
      epoch, round, recordedRounds: this.stats.rounds, samples: this.samples, cumulativeLoss: this.lossSum,
      ball, unconstrained: unc, perRound: this.perRound?.result() ?? null, solveMs: performance.now() - t0,
    };
  }

  /** Checkpoint: running sums (float64 totals, device partial sums, buffered rounds), trajectory, Σℓ_n, last optima. */
  async saveState(dir: string): Promise<StatisticsScopeState> {
    fs.mkdirSync(dir, { recursive: true });
    const stats = await this.stats.saveState(dir);
    const trajectory = await this.trajectory.saveState((name, t) => saveTensor(path.join(dir, `trajectory-${name}.npy`), t));
    if (this.last) saveRows(path.join(dir, 'last.npy'), this.last);
    syncDir(dir);
    return { stats, trajectory, lossSum: this.lossSum, samples: this.samples, last: this.last !== null, perRound: this.perRound?.saveState() };
  }

  async loadState(dir: string, state: unknown): Promise<void> {
    const s = state as StatisticsScopeState;
    this.stats.loadState(dir, s.stats);
    this.trajectory.loadState(s.trajectory, (name) => loadTensor(path.join(dir, `trajectory-${name}.npy`)));
    this.lossSum = s.lossSum;
    this.samples = s.samples;
    if (this.perRound && s.perRound) this.perRound.loadState(s.perRound);
    this.last = s.last ? loadRows(path.join(dir, 'last.npy')) : null;
  }

  dispose(): void {
    this.unitIndex?.dispose();
    if (this.gIdx) tf.dispose([this.gIdx.I, this.gIdx.J, this.gIdx.flat]);
    this.stats.dispose();
    this.trajectory.dispose();
  }
}

/** The JSON part of a StatisticsScope checkpoint. */
export interface StatisticsScopeState {
  stats: QuadraticStatisticsState;
  trajectory: TrajectoryState;
  /** Σℓ_n over the recorded rounds (a double; JSON keeps it exactly). */
  lossSum: number;
  samples: number;
  last: boolean;
  perRound?: PerRoundState;
}

/**
 * The exact ball optimum of every problem of a statistics object: `Σ_n τ^n(w₁ + u) = Σℓ_n + c' +
 * uᵀAu + 2gᵀu`, so regret is `−(c' + min)` with no difference of large sums. One
 * eigendecomposition per problem, handed to `each` (the unconstrained minimum) before it is dropped.
 */
function solveBall(stats: QuadraticStatistics, radii: number[], P: number, blocks: { K: number; q: number; shared: boolean } | null,
  prepared: Eigenbasis[] | null, each?: (k: number, eig: Eigenbasis, g: Float64Array, cPrime: number) => void): { regret: number[]; solver: SolverReport[]; optima: Float64Array[] } {
  const regret: number[] = [];
  const solver: SolverReport[] = [];
  const optima: Float64Array[] = [];
  for (const [k, { eig, g, c }] of problemsOf(stats, P, blocks, prepared)) {
    if (radii[k] === 0) {
      // The ball is one point (a first round): u = 0 is the optimum, with no multiplier to certify.
      regret.push(0 - c);
      solver.push({ method: 'trust-region (eigendecomposition + secular equation)', converged: true, residual: 0, onBoundary: true, iterations: 0 });
      optima.push(new Float64Array(P));
    } else {
      const trs = solveTrustRegion(eig, g, radii[k]);
      regret.push(0 - (c + trs.value));
      solver.push({
        method: 'trust-region (eigendecomposition + secular equation)', converged: trs.residual < 1e-6 && trs.boundaryError < 1e-9,
        residual: trs.residual, lambda: trs.lambda, hardCase: trs.hardCase, onBoundary: trs.onBoundary, iterations: trs.iterations,
      });
      optima.push(trs.u);
    }
    each?.(k, eig, g, c);
  }
  return { regret, solver, optima };
}

/** Unit j's entries of a layer vector `vec(Θ)`, Θ `[q, K]` row-major: Θ's column j. */
function unitColumn(u: ArrayLike<number>, K: number, q: number, j: number): Float64Array {
  return Float64Array.from({ length: q }, (_, i) => u[i * K + j]);
}

/** Problems one at a time (a decomposition is dropped after its problem), from `prepared` decompositions where given. */
function* problemsOf(stats: QuadraticStatistics, P: number, blocks: { K: number; q: number; shared: boolean } | null,
  prepared: Eigenbasis[] | null): Generator<[number, { eig: Eigenbasis; g: Float64Array; c: number }]> {
  const count = blocks ? 1 : stats.K;
  const decompose = prepared ? (j: number) => prepared[j] : undefined;
  for (let k = 0; k < count; k++) yield [k, problemAt(stats, P, blocks, k, decompose)];
}

/**
 * Problem k's eigenbasis, linear term and constant `c'`. Unit blocks make one problem of K blocks:
 * the union of their spectra (one decomposition when every block is the same matrix), g in the
 * layer's order, the constants summed.
 */
function problemAt(stats: QuadraticStatistics, P: number, blocks: { K: number; q: number; shared: boolean } | null, k: number,
  decompose = (j: number, n: number) => supportEigen(stats.matrix(j), n)): { eig: Eigenbasis; g: Float64Array; c: number } {
  if (!blocks) return { eig: decompose(k, P), g: stats.vector(k), c: stats.c[k] };
  const { K, q, shared } = blocks;
  // A shared block (a linear output: every unit's A is the same) is decomposed once.
  const first = decompose(0, q);
  const eigs = Array.from({ length: K }, (_, j) => (j === 0 || shared ? first : decompose(j, q)));
  const g = new Float64Array(K * q);
  let c = 0;
  for (let j = 0; j < K; j++) {
    const gj = stats.vector(j);
    for (let i = 0; i < q; i++) g[i * K + j] = gj[i];
    c += stats.c[j];
  }
  return { eig: new BlockEigen(eigs, q), g, c };
}
