import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { incurredLoss, type ModelAnatomy, type TaylorLoss } from '@taylorlens/core';
import { layerJacobianTensor, neuronJacobianTensors, separableRound } from '../jacobian/jacobian-tensor.js';
import { patches, positions } from '../jacobian/linear.js';
import { selectChannels } from '@taylorlens/core';
import { minimizeOverBalls, type BallSolverOptions } from '../convex/projected-lbfgs.js';
import { perSampleLoss } from '../convex/per-sample-loss.js';
import { scopeParams, Trajectory } from '../scopes/params.js';
import type { BallResult, RoundInput, Scope, ScopeCheckpoint, ScopeDescription } from '../scopes/scope.js';
import { Reservoir } from '../scopes/schedule.js';
import { type MemoryBudget, type RoundArrays, RoundStore } from './round-store.js';
import { taylorOutputs, type LocalRoundTensors } from './local-taylor.js';
import { loadRoundsScope, saveRoundsScope, type RoundsScopeState } from './scope-state.js';
import { loadFloat64, saveFloat64 } from '../state-files.js';
import { PerRoundReading, type PerRoundState } from '../scopes/per-round.js';

async function f32(t: tf.Tensor): Promise<{ dtype: 'float32'; shape: number[]; data: Float32Array }> {
  const raw = await t.data();
  const data = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>); // int32 class labels
  return { dtype: 'float32', shape: t.shape, data };
}

/**
 * A layer or neuron scope under a loss that is not squared error: each recorded round keeps what
 * its Taylor loss needs (taylor-math.md) — the per-sample base outputs `f_b − M_b(w_n − w₁)`, the
 * targets, and either the layer input with the scope's Jacobian columns (a dense neuron: `J[:, α]`
 * and x̃) or the Jacobian tensors `G_α` themselves, whichever is smaller — and each checkpoint
 * minimises `Σ_n τ^n` over the ball with projected L-BFGS, warm-started from the previous one.
 */
export class LocalRoundsScope implements Scope {
  private readonly trajectory = new Trajectory();
  private readonly store: RoundStore;
  private readonly reservoir: Reservoir | null;
  private readonly lossOf: (f: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor1D;
  private last: Float64Array[] | null = null;
  private incurred: Float64Array | null = null;
  readonly perRound: PerRoundReading | null;

  constructor(readonly desc: ScopeDescription, private readonly anatomy: ModelAnatomy, private readonly loss: TaylorLoss, budget: MemoryBudget,
    spillDir: string, private readonly opts: { ballFactor: number; solver: BallSolverOptions; seed: number; perRound?: { every: number } | null }) {
    this.reservoir = desc.reservoir !== null ? new Reservoir(desc.reservoir, opts.seed) : null;
    this.perRound = opts.perRound ? new PerRoundReading(desc.kind === 'layer' ? 1 : desc.problems, opts.perRound.every) : null;
    this.store = new RoundStore(spillDir, budget, 8 << 20, this.reservoir !== null);
    this.lossOf = perSampleLoss(loss);
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

  usage() {
    return { memoryBytes: this.store.memoryBytes, diskBytes: this.store.diskBytes };
  }

  private get layer() {
    return this.anatomy.layers[this.desc.layerIndex!];
  }

  /** The Jacobian data of the first `s` samples in this scope's representation. */
  private jacobianData(r: RoundInput, s: number): LocalRoundTensors {
    const p = this.layer;
    const l = p.index;
    const J = r.jac.jacobian(l, this.desc.subBatch ?? Infinity); // [s, pL, ...]
    const x = tf.slice(r.capture.layers[l].input!, 0, s);
    const pL = this.anatomy.outputSize;
    if (this.desc.representation === 'direct') {
      const rows = patches(p, x);
      if (this.desc.kind === 'layer') return { G: tf.transpose(layerJacobianTensor(p, J, rows, p.depthwise ? separableRound(r.capture, p, s) : undefined), [1, 0, 2, 3]) };
      return { G: tf.transpose(neuronJacobianTensors(p, J, rows, tf.tensor1d(this.desc.units!, 'int32')), [1, 0, 2, 3]) };
    }
    const Jp = tf.reshape(J, [s, pL, positions(p), p.channels]);
    if (this.desc.kind === 'layer') return { x, J: Jp };
    return { x, J: selectChannels(Jp, tf.tensor1d(this.desc.units!, 'int32'), p.channels) };
  }

  async record(r: RoundInput): Promise<void> {
    const slot = this.reservoir ? this.reservoir.admit() : -1;
    if (slot === null) return;
    const B = r.capture.batchSize;
    const s = Math.min(this.desc.subBatch ?? B, B);
    const w = this.readParams();
    const dW = this.trajectory.update(w);
    w.dispose();
    const solveNow = this.perRound?.due() ?? false;
    const start = solveNow ? rowsOf(await dW.data(), dW.shape[0], dW.shape[1]) : null; // W_n − w₁: feasible, a warm start
    const kept = tf.tidy(() => {
      const t = this.jacobianData(r, s);
      const f = tf.slice(r.capture.output, 0, s) as tf.Tensor2D;
      const y = tf.slice(r.capture.y, 0, s);
      // base_b = f_b − M_b(w_n − w₁): the Taylor output at u = v − w₁ is base_b + M_b u.
      const base = tf.sub(tf.expandDims(f, 1), taylorOutputs(this.layer, this.desc.kind as 'layer' | 'neurons', t, dW));
      return { ...t, base, f, y, weight: tf.fill([s], 1 / s) };
    });
    const arrays: RoundArrays = {};
    for (const name of ['x', 'J', 'G', 'base', 'f', 'y', 'weight'] as const) {
      const t = kept[name as keyof typeof kept] as tf.Tensor | undefined;
      if (t) arrays[name] = await f32(t);
    }
    const loss = await incurredLoss(this.loss, kept.f, kept.y);
    tf.dispose(Object.values(kept) as tf.Tensor[]);
    if (start) await this.solvePerRound(arrays, start);
    const meta = { round: r.round, samples: s, loss };
    if (slot >= 0 && slot < this.store.rounds.length) this.store.replace(slot, arrays, meta);
    else this.store.add(arrays, meta);
  }

  /**
   * `Σ_n τ^n(w₁ + u_k)` for every problem k, its gradient, and — in the same pass, with the same
   * reductions — the incurred `Σ_n ℓ_n` on the stored samples, so that regret is computed from
   * matching sums (exactly 0 where the scope's Jacobian vanishes). Float64 totals over chunks.
   */
  async evaluate(points: readonly Float64Array[]): Promise<{ values: Float64Array; grads: Float64Array[]; incurred: Float64Array }> {
    const out = await this.evaluateRounds(this.store.read(), points);
    this.incurred = out.incurred;
    return out;
  }

  /** `evaluate` over the given rounds (all stored rounds, or one round for the per-round reading). */
  private async evaluateRounds(rounds: Iterable<{ arrays: RoundArrays }>, points: readonly Float64Array[]): Promise<{ values: Float64Array; grads: Float64Array[]; incurred: Float64Array }> {
    const Kp = points.length;
    const P = this.desc.params;
    const flat = new Float32Array(Kp * P);
    points.forEach((u, k) => flat.set(u, k * P));
    const U = tf.tensor2d(flat, [Kp, P]);
    const values = new Float64Array(Kp);
    const incurred = new Float64Array(Kp);
    const grad = new Float64Array(Kp * P);
    for (const { arrays } of rounds) {
      const res = tf.tidy(() => {
        const t: LocalRoundTensors = {};
        const mk = (name: string) => (arrays[name] ? tf.tensor(arrays[name].data as Float32Array, arrays[name].shape) : undefined);
        t.x = mk('x');
        t.J = mk('J');
        t.G = mk('G');
        const base = mk('base')!;
        const f = mk('f')!;
        const y = mk('y')!;
        const weight = mk('weight')!;
        const [S, , pL] = base.shape;
        // Targets in the loss's layout ([S, pL], or [S] / [S, 1] class indices), once per problem.
        const yRest = y.shape.slice(1);
        const yy = tf.reshape<tf.Rank>(tf.tile(tf.expandDims(y, 1), [1, Kp, ...yRest.map(() => 1)]), [S * Kp, ...yRest] as number[]) as tf.Tensor2D;
        const total = (T: tf.Tensor) => tf.sum(tf.mul(tf.reshape(this.lossOf(tf.reshape(T, [S * Kp, pL]) as tf.Tensor2D, yy), [S, Kp]), tf.expandDims(weight, 1)), 0);
        const inc = total(tf.tile(tf.expandDims(f, 1), [1, Kp, 1]));
        let vals: tf.Tensor | null = null;
        const g = tf.grad((u: tf.Tensor) => {
          const v = total(tf.add(base, taylorOutputs(this.layer, this.desc.kind as 'layer' | 'neurons', t, u as tf.Tensor2D)));
          vals = tf.keep(v);
          return tf.sum(v) as tf.Scalar;
        })(U);
        return { g, v: vals! as tf.Tensor, inc };
      });
      const [gv, vv, iv] = await Promise.all([res.g.data(), res.v.data(), res.inc.data()]);
      tf.dispose([res.g, res.v, res.inc]);
      for (let i = 0; i < grad.length; i++) grad[i] += gv[i];
      for (let k = 0; k < Kp; k++) { values[k] += vv[k]; incurred[k] += iv[k]; }
    }
    U.dispose();
    return { values, grads: points.map((_, k) => grad.slice(k * P, (k + 1) * P)), incurred };
  }

  /** `min_{K_n} τ^n` per problem over this round's stored samples, by the same solver as the hindsight optimum. */
  private async solvePerRound(arrays: RoundArrays, start: Float64Array[]): Promise<void> {
    const radii = Array.from(await this.trajectory.farthestDistance(start.length), (d) => d * this.opts.ballFactor);
    let incurred: Float64Array | null = null;
    const sols = await minimizeOverBalls(start, radii, async (xs) => {
      const e = await this.evaluateRounds([{ arrays }], xs);
      incurred ??= e.incurred;
      return e;
    }, this.opts.solver);
    this.perRound!.add(incurred!, sols.map((x) => x.value), sols.map((x) => ({ method: 'projected L-BFGS', converged: x.converged, gap: x.gap })));
  }

  async checkpoint(epoch: number, round: number): Promise<ScopeCheckpoint> {
    const t0 = performance.now();
    const K = this.desc.problems;
    const P = this.desc.params;
    const Kp = this.desc.kind === 'layer' ? 1 : K;
    const radii = Array.from(await this.trajectory.farthestDistance(Kp), (d) => d * this.opts.ballFactor);
    const metas = this.store.rounds;
    const cumulativeLoss = metas.reduce((s, m) => s + m.loss, 0);
    const start = this.last ?? Array.from({ length: Kp }, () => new Float64Array(P));
    const sols = metas.length === 0
      ? start.map((u) => ({ u, value: 0, gap: 0, gradientNorm: 0, iterations: 0, converged: true, onBoundary: false, stop: 'converged' as const, projectedGradientNorm: 0 }))
      : await minimizeOverBalls(start, radii, (xs) => this.evaluate(xs), this.opts.solver);
    this.last = sols.map((s) => s.u);
    const incurred = this.incurred ?? new Float64Array(Kp).fill(cumulativeLoss);
    const ball: BallResult = {
      phi: sols.map((s) => s.value),
      regret: sols.map((s, k) => incurred[k] - s.value),
      radius: radii,
      solver: sols.map((s) => ({
        method: 'projected L-BFGS', converged: s.converged, gap: s.gap, gradientNorm: s.projectedGradientNorm,
        iterations: s.iterations, onBoundary: s.onBoundary,
      })),
    };
    return {
      epoch, round, recordedRounds: metas.length, samples: metas.reduce((s, m) => s + m.samples, 0),
      cumulativeLoss: metas.length > 0 ? incurred[0] : 0, ball,
      unconstrained: null, perRound: this.perRound?.result() ?? null, solveMs: performance.now() - t0,
    };
  }

  /** Checkpoint: trajectory, stored rounds, reservoir, warm start and the last incurred sums. */
  async saveState(dir: string): Promise<RoundsScopeState & { incurred: boolean; perRound?: PerRoundState }> {
    const s = await saveRoundsScope(dir, { trajectory: this.trajectory, store: this.store, reservoir: this.reservoir, last: this.last });
    if (this.incurred) saveFloat64(path.join(dir, 'incurred.npy'), this.incurred, [this.incurred.length]);
    return { ...s, incurred: this.incurred !== null, perRound: this.perRound?.saveState() };
  }

  async loadState(dir: string, state: unknown): Promise<void> {
    const s = state as RoundsScopeState & { incurred: boolean; perRound?: PerRoundState };
    this.last = loadRoundsScope(dir, s, { trajectory: this.trajectory, store: this.store, reservoir: this.reservoir });
    this.incurred = s.incurred ? loadFloat64(path.join(dir, 'incurred.npy')) : null;
    if (this.perRound && s.perRound) this.perRound.loadState(s.perRound);
  }

  dispose(): void {
    this.trajectory.dispose();
    this.store.release();
  }
}

function rowsOf(data: ArrayLike<number>, rows: number, cols: number): Float64Array[] {
  return Array.from({ length: rows }, (_, k) => Float64Array.from({ length: cols }, (_, i) => data[k * cols + i]));
}
