import * as tf from '@tensorflow/tfjs-core';
import { activate, type GraphNode, type ModelAnatomy, type NodeState, type ParamLayer, type TaylorLoss } from '@taylorlens/core';
import { separableRound } from '../jacobian/jacobian-tensor.js';
import { linearWith } from '../jacobian/linear.js';
import { minimizeOverBalls, type BallSolverOptions } from '../convex/projected-lbfgs.js';
import { newtonOverBall, solveQuadraticOverBall, type CertifiedSolution } from '../convex/certified-ball.js';
import { outputCurvature } from '../convex/output-curvature.js';
import { scopeParams, Trajectory } from '../scopes/params.js';
import type { RoundInput, Scope, ScopeCheckpoint, ScopeDescription, SolverReport } from '../scopes/scope.js';
import { Reservoir } from '../scopes/schedule.js';
import { packRows, unpackRows } from './bits.js';
import { networkStorage, packedState, replaysMask, sharedKey, stateKey, storesState } from './replayable.js';
import { splitHostVector } from './dense-chain.js';
import { NetworkProblem, networkPush, splitVariables, type ReplayedRound, type RoundSource } from './network-problem.js';
import { type MemoryBudget, type RoundArrays, RoundStore } from './round-store.js';
import { loadRoundsScope, saveRoundsScope, type RoundsScopeState } from './scope-state.js';

export { splitVariables };

/** How the derivative of each layer is stored: ReLU masks as bits, other activations as floats, none where linear. */
function derivativeKind(anatomy: ModelAnatomy, l: number): 'none' | 'bits' | 'float' {
  const p = anatomy.layers[l];
  const isOutput = p.node === anatomy.outputNode; // (a chain's last layer)
  const name = isOutput && anatomy.absorbedOutputActivation ? 'linear' : p.activation;
  return name === 'linear' ? 'none' : name === 'relu' ? 'bits' : 'float';
}

/** One stored network round as tensors: clamp factors from the stored masks, replayed layer inputs. */
type Replay = ReplayedRound;

/** Solver settings of the network scope (options.ts `solver`). */
export interface NetworkSolverOptions extends BallSolverOptions {
  /** KKT residual tolerance (relative to ‖∇F(0)‖) of the certified solvers. */
  tolerance: number;
  gapTolerance: number;
  /** Lanczos steps (Hessian products) per trust-region solve. */
  krylovIterations: number;
  maxIterations: number;
}

/**
 * The network scope: every parameter may move. Too big for statistics, so rounds are stored on a
 * schedule (every 100th by default) with what `τ^n_net` needs at any V: the inputs, targets and
 * outputs, the weights `W_n`, the ReLU masks and max-pool choices as packed bits (derivatives of
 * other activations, LeakyReLU slopes and dropout masks as floats: replayable.ts). At a checkpoint
 * each stored round is replayed over the graph — the layer inputs recomputed from x and W_n, the
 * masks taken from the store — and the linear term `J_n(V − W_n)`
 * is one clamped pass with every layer's displacement injected. The minimum over the ball is
 * certified (`convex/certified-ball.ts`): for squared error Φ is a quadratic and one matrix-free
 * GLTR solve finds it; for softmax cross-entropy a regularised Newton method with exact Hessian
 * products does, warm-started; either way the KKT residual and the Frank–Wolfe gap come from an
 * explicit gradient at the answer. Other losses fall back to projected L-BFGS (Frank–Wolfe gap).
 */
export class NetworkScope implements Scope {
  private readonly trajectory = new Trajectory();
  private readonly store: RoundStore;
  private readonly reservoir: Reservoir | null;
  private last: Float64Array[] | null = null;
  /** What a stored round holds (replayable.ts `networkStorage`). */
  readonly storage: 'replay' | 'stored';

  constructor(readonly desc: ScopeDescription, private readonly anatomy: ModelAnatomy, private readonly loss: TaylorLoss,
    budget: MemoryBudget, spillDir: string,
    private readonly opts: { ballFactor: number; solver: NetworkSolverOptions; seed: number; gamma?: number | null }) {
    this.storage = networkStorage(anatomy);
    this.reservoir = desc.reservoir !== null ? new Reservoir(desc.reservoir, opts.seed) : null;
    this.store = new RoundStore(spillDir, budget, 0, true);
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

  /** Bytes of the last stored round (for benches and the cost report). */
  lastRoundBytes = 0;

  async record(r: RoundInput): Promise<void> {
    const slot = this.reservoir ? this.reservoir.admit() : -1;
    if (slot === null) return;
    const cap = r.capture;
    const B = cap.batchSize;
    const s = Math.min(this.desc.subBatch ?? B, B);
    const w = this.readParams();
    this.trajectory.update(w); // the displacement itself is not needed here
    const take = (t: tf.Tensor) => (s === B ? t : tf.slice(t, 0, s));
    const arrays: RoundArrays = {};
    const put = async (name: string, t: tf.Tensor) => {
      const raw = await t.data();
      arrays[name] = { dtype: 'float32', shape: t.shape, data: raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>) }; // int32 class labels
    };
    const x = take(cap.x);
    const y = take(cap.y);
    const f = take(cap.output);
    const loss = tf.tidy(() => this.loss.compute(f, y));
    await Promise.all([this.storage === 'replay' ? put('x', x) : null, put('y', y), put('f', f), put('w', w)]);
    for (const p of this.anatomy.layers) {
      const kind = derivativeKind(this.anatomy, p.index);
      if (kind !== 'none') {
        const d = take(cap.derivative(p.index)!);
        if (kind === 'float') await put(`d${p.index}`, d);
        else arrays[`d${p.index}`] = { dtype: 'uint8', shape: [s, Math.ceil(p.units / 8)], data: packRows((await d.data()) as Float32Array, s, p.units) };
        if (d !== cap.derivative(p.index)) d.dispose();
      }
      if (this.storage === 'stored') {
        // The layer's scope input (x̂ for BatchNormalization), and a SeparableConv2D's own input (its depthwise term).
        const input = take(cap.layers[p.index].input!);
        await put(`i${p.index}`, input);
        if (input !== cap.layers[p.index].input) input.dispose();
        if (p.depthwise) {
          const raw = separableRound(cap, p, s).x;
          await put(`r${p.index}`, raw);
          if (s !== B) raw.dispose();
        }
      }
    }
    // The round state of the other nodes (replayable.ts): max-pool choices as bits, the rest as
    // floats; stored models keep every node's state, per-round ("shared") entries included.
    for (const n of this.anatomy.graph) {
      if (this.storage === 'replay' ? !storesState(n) : n.role !== 'param' && n.role !== 'derivatives') continue;
      const state = cap.nodeState(n.id);
      if (!state) continue;
      for (const [entry, full] of Object.entries(state.sample)) {
        const t = take(full);
        const key = stateKey(n, entry);
        if (packedState(n)) {
          const cols = t.size / s;
          arrays[key] = { dtype: 'uint8', shape: [s, Math.ceil(cols / 8)], data: packRows((await t.data()) as Float32Array, s, cols) };
        } else {
          await put(key, t);
        }
        if (t !== full) t.dispose();
      }
      if (this.storage === 'stored') for (const [entry, t] of Object.entries(state.shared ?? {})) await put(sharedKey(n, entry), t);
    }
    const lossValue = (await loss.data())[0];
    tf.dispose([loss, w]);
    if (s !== B) tf.dispose([x, y, f]);
    this.lastRoundBytes = Object.values(arrays).reduce((t, a) => t + a.data.byteLength, 0);
    const meta = { round: r.round, samples: s, loss: lossValue };
    if (slot >= 0 && slot < this.store.rounds.length) this.store.replace(slot, arrays, meta);
    else this.store.add(arrays, meta);
  }

  /** Tensors of one stored round (kept; dispose `all`). */
  replay(arrays: RoundArrays): Replay {
    return this.storage === 'replay' ? this.replayForward(arrays) : this.replayStored(arrays);
  }

  /** The stored derivative of layer p's activation `[s, ...outputShape]` (inside a tidy; kept), or null where linear. */
  private storedDerivative(p: ParamLayer, arrays: RoundArrays, s: number): tf.Tensor | null {
    const kind = derivativeKind(this.anatomy, p.index);
    if (kind === 'none') return null;
    const st = arrays[`d${p.index}`];
    return tf.keep(tf.reshape(kind === 'bits' ? tf.tensor(unpackRows(st.data as Uint8Array, s, p.units)) : tf.tensor(st.data as Float32Array), [s, ...p.outputShape]));
  }

  /** The weights `W_n` of a stored round: the flat vector and each layer's kernel and bias. */
  private storedWeights(arrays: RoundArrays, keep: <T extends tf.Tensor>(t: T) => T) {
    const anatomy = this.anatomy;
    const w = keep(tf.tensor(arrays.w.data as Float32Array, arrays.w.shape));
    const vars = splitHostVector(tf, anatomy.variables.map((v) => v.shape), arrays.w.data as Float32Array).map(keep);
    const kernels = anatomy.layers.map((p) => vars[anatomy.variables.indexOf(p.kernel)]);
    const biases = anatomy.layers.map((p) => (p.bias ? vars[anatomy.variables.indexOf(p.bias)] : null));
    return { w, kernels, biases };
  }

  /** A stored model's round: everything the clamped pass reads, as recorded. */
  private replayStored(arrays: RoundArrays): Replay {
    const all: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => { all.push(t); return t; };
    const f = keep(tf.tensor2d(arrays.f.data as Float32Array, arrays.f.shape as [number, number]));
    const s = f.shape[0];
    const { w, kernels } = this.storedWeights(arrays, keep);
    const stored = (name: string) => keep(tf.tensor(arrays[name].data as Float32Array, arrays[name].shape));
    const inputs = this.anatomy.layers.map((p) => stored(`i${p.index}`));
    const rawInputs = this.anatomy.layers.map((p) => (p.depthwise ? stored(`r${p.index}`) : undefined));
    const derivs: (tf.Tensor | null)[] = [];
    tf.tidy(() => { for (const p of this.anatomy.layers) derivs.push(this.storedDerivative(p, arrays, s)); });
    derivs.forEach((d) => d && keep(d));
    const states = new Map<number, NodeState>();
    tf.tidy(() => {
      for (const n of this.anatomy.graph) {
        const st = this.storedState(n, arrays, s);
        if (st) states.set(n.id, st);
      }
    });
    for (const st of states.values()) [...Object.values(st.sample), ...Object.values(st.shared ?? {})].forEach(keep);
    return {
      factors: { derivative: (l) => derivs[l], nodeState: (id) => states.get(id) ?? null },
      inputs, rawInputs, kernels, f,
      y: keep(tf.tensor<tf.Rank>(arrays.y.data as Float32Array, arrays.y.shape as number[]) as tf.Tensor2D),
      offset: keep(tf.sub(w, this.trajectory.centre!)), all,
    };
  }

  /** A replayed model's round: the layer inputs recomputed from x and `W_n` over the graph. */
  private replayForward(arrays: RoundArrays): Replay {
    const anatomy = this.anatomy;
    const all: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => { all.push(t); return t; };
    const x = keep(tf.tensor(arrays.x.data as Float32Array, arrays.x.shape));
    const s = x.shape[0];
    const { w, kernels, biases } = this.storedWeights(arrays, keep);
    const derivs = new Map<number, tf.Tensor | null>();
    const states = new Map<number, NodeState>();
    const inputs: tf.Tensor[] = [];
    // The round's forward over the graph at W_n: every layer as in training (the same ops), with
    // the stored state where training drew it (dropout masks); what the clamped pass freezes from
    // the stored bits and floats.
    tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[-1, x]]);
      for (const node of anatomy.graph) {
        const ins = node.inputs.map((i) => values.get(i)!);
        let h: tf.Tensor;
        if (node.role === 'param') {
          const p = anatomy.layers[node.param!];
          inputs[p.index] = tf.keep(ins[0]);
          const a = linearWith(p, ins[0], kernels[p.index], biases[p.index]);
          const absorbed = p.node === anatomy.outputNode && anatomy.absorbedOutputActivation !== null;
          h = absorbed ? a : activate(p, a);
          derivs.set(p.index, this.storedDerivative(p, arrays, s));
        } else if (node.role === 'folded' || node.role === 'absorbed') {
          h = ins[0];
        } else {
          const state = this.storedState(node, arrays, s);
          if (state) states.set(node.id, state);
          h = state && replaysMask(node) ? tf.mul(ins[0], state.sample.mask) : node.layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor;
        }
        values.set(node.id, h);
      }
    });
    inputs.forEach(keep);
    for (const d of derivs.values()) if (d) keep(d);
    for (const st of states.values()) Object.values(st.sample).forEach(keep);
    const centre = this.trajectory.centre!;
    const offset = keep(tf.sub(w, centre));
    return {
      factors: {
        derivative: (l) => derivs.get(l) ?? null,
        // The stored state of max-pools, LeakyReLU, dropout; the linear layers freeze nothing.
        nodeState: (id) => states.get(id) ?? null,
      },
      inputs, kernels,
      f: keep(tf.tensor2d(arrays.f.data as Float32Array, arrays.f.shape as [number, number])),
      y: keep(tf.tensor<tf.Rank>(arrays.y.data as Float32Array, arrays.y.shape as number[]) as tf.Tensor2D), // [B, pL], or class indices [B] / [B, 1]
      offset, all,
    };
  }

  /** A node's stored round state (kept; inside the replay's tidy), shaped as its module froze it; null when none was stored. */
  private storedState(node: GraphNode, arrays: RoundArrays, s: number): NodeState | null {
    const sample: Record<string, tf.Tensor> = {};
    if (packedState(node)) {
      // A max-pool's mask has its input's shape.
      const a = arrays[stateKey(node, 'mask')];
      if (!a) return null;
      const shape = [s, ...node.inputShapes[0]];
      sample.mask = tf.keep(tf.reshape(tf.tensor(unpackRows(a.data as Uint8Array, s, shape.reduce((x, y) => x * y, 1) / s)), shape));
      return { sample };
    }
    const read = (prefix: string) => Object.fromEntries(Object.entries(arrays).filter(([key]) => key.startsWith(prefix))
      .map(([key, a]) => [key.slice(prefix.length), tf.keep(tf.tensor(a.data as Float32Array, a.shape))]));
    Object.assign(sample, read(stateKey(node, '')));
    const shared = read(sharedKey(node, ''));
    if (Object.keys(sample).length === 0 && Object.keys(shared).length === 0) return null;
    return Object.keys(shared).length > 0 ? { sample, shared } : { sample };
  }

  /** `τ^n(w₁ + u)` for a replayed round, as a tensor (differentiable in u `[1, P]`). */
  taylorLoss(rep: Replay, u: tf.Tensor): tf.Scalar {
    return this.loss.compute(tf.add(rep.f, networkPush(this.anatomy, rep, tf.sub(u, rep.offset))), rep.y); // J_n(V − W_n)
  }

  /** Replays kept on the device during a solve (they do not depend on V). */
  private cache: Replay[] | null = null;
  private incurred = 0;

  /**
   * `Σ_n τ^n(w₁ + u)` and its gradient for `points[0]` (one problem), with the incurred `Σ_n ℓ_n`
   * of the stored samples summed in the same pass (regret from matching sums).
   */
  async evaluate(points: readonly Float64Array[]): Promise<{ values: number[]; grads: Float64Array[]; incurred: number }> {
    const P = this.desc.params;
    const U = tf.tensor2d(Float32Array.from(points[0]), [1, P]);
    let value = 0;
    let inc = 0;
    const grad = new Float64Array(P);
    const one = async (rep: Replay) => {
      const { value: v, grad: g, inc: i } = tf.tidy(() => {
        const vg = tf.valueAndGrad((u: tf.Tensor) => this.taylorLoss(rep, u))(U);
        return { value: vg.value, grad: vg.grad, inc: this.loss.compute(rep.f, rep.y) };
      });
      const [vv, gv, iv] = await Promise.all([v.data(), g.data(), i.data()]);
      tf.dispose([v, g, i]);
      value += vv[0];
      inc += iv[0];
      for (let k = 0; k < P; k++) grad[k] += gv[k];
    };
    if (this.cache) for (const rep of this.cache) await one(rep);
    else for (const { arrays } of this.store.read()) { const rep = this.replay(arrays); try { await one(rep); } finally { tf.dispose(rep.all); } }
    U.dispose();
    this.incurred = inc;
    return { values: [value], grads: [grad], incurred: inc };
  }

  /** The stored rounds as the certified solvers read them: the device cache, or replayed from the store per pass. */
  private source(): RoundSource {
    const self = this;
    return {
      cached: this.cache !== null,
      *rounds() {
        if (self.cache) yield* self.cache;
        else for (const { arrays } of self.store.read()) yield self.replay(arrays);
      },
      release: (rep) => { if (!this.cache) tf.dispose(rep.all); },
    };
  }

  /** `min_{‖u‖≤r} Σ_n τ^n(w₁ + u)` with its certificate (see the class comment for which solver). */
  private async solve(start: Float64Array, radius: number): Promise<{ u: Float64Array; value: number; report: SolverReport }> {
    const o = this.opts.solver;
    const curvature = outputCurvature(this.loss, this.opts.gamma ?? null);
    if (curvature) {
      const problem = new NetworkProblem(this.anatomy, this.loss, curvature, this.source(), this.desc.params);
      try {
        const options = { tolerance: o.tolerance, absoluteTolerance: o.absoluteTolerance, krylovIterations: o.krylovIterations, maxIterations: o.maxIterations };
        const sol: CertifiedSolution = curvature.quadratic
          ? await solveQuadraticOverBall(problem, radius, options)
          : await newtonOverBall(problem, radius, start, options);
        const method = curvature.quadratic
          ? 'GLTR trust region (Lanczos, exact quadratic, matrix-free clamped replay)'
          : `regularised Newton, GLTR steps in the ball (exact ${curvature.name} Hessian, matrix-free clamped replay)`;
        return {
          u: sol.u, value: sol.value,
          report: {
            method, converged: sol.converged, certified: sol.certified, tolerance: o.tolerance, residual: sol.residual, gap: sol.gap,
            gradientNorm: sol.gradientNorm, iterations: sol.iterations, products: sol.products, krylovResidual: sol.krylovResidual,
            lambda: sol.lambda, onBoundary: sol.onBoundary, stop: sol.stop,
          },
        };
      } finally {
        problem.dispose();
      }
    }
    const [sol] = await minimizeOverBalls([start], [radius], (xs) => this.evaluate(xs), o);
    // The Frank–Wolfe gap is this solver's only certificate.
    const certified = sol.gap <= o.gapTolerance * Math.max(Math.abs(sol.value), o.absoluteTolerance ?? 1e-12);
    return {
      u: sol.u, value: sol.value,
      report: {
        method: 'projected L-BFGS (matrix-free, clamped replay)', converged: sol.converged, certified, gapTolerance: o.gapTolerance, gap: sol.gap,
        gradientNorm: sol.projectedGradientNorm, iterations: sol.iterations, onBoundary: sol.onBoundary, stop: sol.stop,
      },
    };
  }

  async checkpoint(epoch: number, round: number): Promise<ScopeCheckpoint> {
    const t0 = performance.now();
    const P = this.desc.params;
    const metas = this.store.rounds;
    const radius = (await this.trajectory.farthestDistance(1))[0] * this.opts.ballFactor;
    this.incurred = metas.reduce((s, m) => s + m.loss, 0);
    if (this.store.memoryBytes + this.store.diskBytes < 256 << 20) {
      this.cache = [];
      for (const { arrays } of this.store.read()) this.cache.push(this.replay(arrays));
    }
    try {
      const start = this.last ?? [new Float64Array(P)];
      const { u, value, report } = metas.length === 0
        ? { u: start[0], value: 0, report: { method: 'none (no stored rounds)', converged: true, certified: true, iterations: 0 } }
        : await this.solve(start[0], radius);
      this.last = [u];
      const incurred = this.incurred;
      return {
        epoch, round, recordedRounds: metas.length, samples: metas.reduce((s, m) => s + m.samples, 0), cumulativeLoss: incurred,
        ball: { phi: [value], regret: [incurred - value], radius: [radius], solver: [report] },
        unconstrained: null, solveMs: performance.now() - t0,
      };
    } finally {
      if (this.cache) for (const rep of this.cache) tf.dispose(rep.all);
      this.cache = null;
    }
  }

  /** Checkpoint: trajectory, stored rounds, reservoir and warm start (see rounds/scope-state.ts). */
  saveState(dir: string): Promise<RoundsScopeState> {
    return saveRoundsScope(dir, { trajectory: this.trajectory, store: this.store, reservoir: this.reservoir, last: this.last });
  }

  async loadState(dir: string, state: unknown): Promise<void> {
    this.last = loadRoundsScope(dir, state as RoundsScopeState, { trajectory: this.trajectory, store: this.store, reservoir: this.reservoir });
  }

  dispose(): void {
    this.trajectory.dispose();
    this.store.release();
  }
}
