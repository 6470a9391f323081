/**
 * The network-scope objective `F(u) = Σ_n τ^n(c + u)` over the stored rounds, with what the
 * certified solvers need: values and gradients (summed in float64 on the host) and exact Hessian
 * products `Σ_n J_nᵀ S_n J_n v` (`S_n` the loss's output curvature, `output-curvature.ts`).
 *
 * Every round's Taylor output is affine in u: `T_n(c + u) = b_n + J_n u` with `b_n = f_n − J_n(W_n − c)`
 * (computed once per solve) and `J_n u` one clamped pass with every layer's displacement injected.
 * A gradient is that pass and its backward; a Hessian product is the same with the quadratic form
 * `½ zᵀ S_n z` in place of the loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostView, separableDepthwiseMap, type ModelAnatomy, type TaylorLoss } from '@taylorlens/core';
import { clampedPush, type ClampFactors } from '../jacobian/clamped-push.js';
import { linearWith } from '../jacobian/linear.js';
import { squaredErrorFormGradient, type OutputCurvature } from '../convex/output-curvature.js';
import { denseBackwardWith, denseChainPlan, denseForwardWith, isDenseChain, prepareDense, splitHostVector, type DenseChainPlan, type DenseRound } from './dense-chain.js';
import { NetworkProductsWorker } from './network-products.js';

/** One stored network round as tensors (what `NetworkScope.replay` builds). */
export interface ReplayedRound {
  factors: ClampFactors;
  inputs: tf.Tensor[];
  /** A SeparableConv2D's own input (its depthwise term), by layer; absent for other kinds. */
  rawInputs?: (tf.Tensor | undefined)[];
  kernels: tf.Tensor[];
  f: tf.Tensor2D;
  y: tf.Tensor2D;
  /** `W_n − c` `[1, P]`. */
  offset: tf.Tensor;
  all: tf.Tensor[];
}

/** Split a flat `[1, P]` parameter vector into tensors shaped like `anatomy.variables` (differentiable). */
export function splitVariables(anatomy: ModelAnatomy, flat: tf.Tensor): tf.Tensor[] {
  const sizes = anatomy.variables.map((v) => v.size);
  return tf.tidy(() => tf.split(tf.reshape(flat, [-1]), sizes).map((t, i) => tf.reshape(t, anatomy.variables[i].shape)));
}

/** `J_n v` `[s, p_L]` for a displacement v `[1, P]` of every parameter (linear in v, differentiable). */
export function networkPush(anatomy: ModelAnatomy, rep: ReplayedRound, v: tf.Tensor): tf.Tensor2D {
  const s = rep.f.shape[0];
  const delta = splitVariables(anatomy, v);
  const z = clampedPush(anatomy, rep.factors, {
    from: 0, B: s, K: 1, kernel: (l) => rep.kernels[l],
    inject: (l) => {
      const p = anatomy.layers[l];
      const dk = delta[anatomy.variables.indexOf(p.kernel)];
      const db = p.bias ? delta[anatomy.variables.indexOf(p.bias)] : null;
      const a = linearWith(p, rep.inputs[l], dk, db);
      if (!p.depthwise) return tf.expandDims(a, 1);
      // A SeparableConv2D's depthwise change, first order: through the pointwise kernel at W_n (as trace/taylor-next.ts).
      const ddw = delta[anatomy.variables.indexOf(p.depthwise)];
      return tf.expandDims(tf.add(a, separableDepthwiseMap(p.conv!, rep.rawInputs![l]!, ddw, rep.kernels[l])), 1);
    },
  });
  return tf.reshape(z, [s, -1]) as tf.Tensor2D;
}

/** Where the rounds come from: replays kept on the device, or rebuilt (and released) per pass. */
export interface RoundSource {
  /** The same replay objects on every pass (so per-round tensors may be kept). */
  readonly cached: boolean;
  rounds(): Iterable<ReplayedRound>;
  release(rep: ReplayedRound): void;
}

export class NetworkProblem {
  /** `b_n` per round (by position), computed on the first pass. */
  private readonly base: tf.Tensor2D[] = [];
  /** The Taylor outputs at the point of the last `gradient(…, true)` (curvature of non-quadratic losses). */
  private readonly point: (tf.Tensor2D | null)[] = [];
  /** Transposes of dense chains, per round (kept when the source keeps its replays). */
  private readonly dense = new Map<number, DenseRound>();
  private readonly plan: DenseChainPlan | null;
  private readonly shapes: number[][];
  /** The first rounds' Hessian products on a worker thread (network-products.ts), once tried. */
  private remote: NetworkProductsWorker | null | undefined;
  /** Passes over the rounds so far (gradients and Hessian products). */
  passes = 0;
  products = 0;
  /** Products whose worker half failed and was summed here instead. */
  workerFailures = 0;

  /** `offThread`: may hand half the rounds' Hessian products to a worker thread (network-products.ts). */
  constructor(private readonly anatomy: ModelAnatomy, private readonly loss: TaylorLoss, readonly curvature: OutputCurvature,
    private readonly source: RoundSource, readonly P: number, offThread = true) {
    if (!offThread) this.remote = null;
    this.plan = isDenseChain(anatomy) ? denseChainPlan(anatomy) : null;
    this.shapes = anatomy.variables.map((v) => v.shape);
  }

  /**
   * Per-round values and gradients summed in float64 on the host, in round order. With `prefix`
   * its first `rounds` are summed elsewhere (the products worker): this thread keeps its rounds'
   * vectors and continues that sum with them. Should the worker fail (its sum null), those rounds
   * are summed here after all, and the later ones added after them as before.
   */
  private async sweep(one: (rep: ReplayedRound, n: number, dense: DenseRound | null) => { value?: tf.Scalar; grad: tf.Tensor },
    prefix?: { rounds: number; sum: Promise<Float64Array | null> }): Promise<{ value: number; grad: Float64Array<ArrayBufferLike> }> {
    this.passes++;
    const first = prefix?.rounds ?? 0;
    let value = 0;
    // A round's gradient stays a tensor until it is added (read in place where the backend allows).
    const term = async (rep: ReplayedRound, n: number): Promise<tf.Tensor> => {
      let dr: DenseRound | null = null;
      try {
        if (!this.base[n]) this.base[n] = tf.tidy(() => tf.keep(tf.sub(rep.f, networkPush(this.anatomy, rep, rep.offset))));
        if (this.plan) {
          dr = this.dense.get(n) ?? prepareDense(this.anatomy, rep);
          if (this.source.cached) this.dense.set(n, dr);
        }
        const out = one(rep, n, dr);
        try {
          if (out.value) value += (await out.value.data())[0];
        } catch (e) {
          out.grad.dispose();
          throw e;
        } finally {
          out.value?.dispose();
        }
        return out.grad;
      } finally {
        if (dr && !this.source.cached) tf.dispose([...dr.inputsT, ...dr.kernelsT]);
        this.source.release(rep);
      }
    };
    const add = async (sum: Float64Array, g: tf.Tensor) => {
      try {
        const gv = hostView(g) ?? await g.data();
        for (let k = 0; k < this.P; k++) sum[k] += gv[k];
      } finally {
        g.dispose();
      }
    };
    const later: tf.Tensor[] = [];
    let grad: Float64Array<ArrayBufferLike> = new Float64Array(this.P);
    let n = 0;
    try {
      for (const rep of this.source.rounds()) {
        if (n < first) this.source.release(rep);
        else if (prefix) later.push(await term(rep, n));
        else await add(grad, await term(rep, n));
        n++;
      }
      if (prefix) {
        const sum = await prefix.sum;
        if (sum) grad = sum;
        else {
          n = 0;
          for (const rep of this.source.rounds()) {
            if (n < first) await add(grad, await term(rep, n));
            else this.source.release(rep);
            n++;
          }
        }
        while (later.length > 0) await add(grad, later.shift()!);
      }
    } finally {
      tf.dispose(later);
    }
    return { value, grad };
  }

  /**
   * The products worker for squared error on a dense chain whose rounds stay on the device: the
   * first half of the rounds (the worker may share its core with the eigen worker at a checkpoint).
   */
  productsWorker(): NetworkProductsWorker | null {
    if (this.remote !== undefined) return this.remote;
    this.remote = null;
    const gamma = this.curvature.gamma;
    if (!this.plan || gamma === null || !this.source.cached) return null;
    const reps = [...this.source.rounds()];
    const half = reps.slice(0, Math.floor(reps.length / 2));
    if (half.length === 0) return null;
    const rounds = half.map((rep, n) => {
      const dr = this.dense.get(n) ?? prepareDense(this.anatomy, rep);
      this.dense.set(n, dr);
      return dr;
    });
    this.remote = NetworkProductsWorker.start(this.plan, gamma, this.anatomy.variables.map((v) => v.shape), rounds);
    return this.remote;
  }

  /** `F(u)` and `∇F(u)`; with `curvatureHere` later Hessian products use the curvature at u. */
  async gradient(u: Float64Array, curvatureHere = false): Promise<{ value: number; grad: Float64Array }> {
    const u32 = Float32Array.from(u);
    const U = this.plan ? null : tf.tensor2d(u32, [1, this.P]);
    const parts = this.plan ? splitHostVector(tf, this.shapes, u32) : [];
    const keepPoint = (n: number, T: tf.Tensor2D) => {
      if (!curvatureHere || this.curvature.quadratic) return;
      this.point[n]?.dispose();
      this.point[n] = tf.keep(tf.clone(T));
    };
    try {
      return await this.sweep((rep, n, dr) => tf.tidy(() => {
        if (dr) {
          const T = tf.add(this.base[n], denseForwardWith(tf, this.plan!, dr, parts)) as tf.Tensor2D;
          keepPoint(n, T);
          const vg = tf.valueAndGrad((t: tf.Tensor) => this.loss.compute(t, rep.y))(T);
          return { value: vg.value, grad: denseBackwardWith(tf, this.plan!, dr, vg.grad as tf.Tensor2D) };
        }
        const vg = tf.valueAndGrad((v: tf.Tensor) => {
          const T = tf.add(this.base[n], networkPush(this.anatomy, rep, v)) as tf.Tensor2D;
          keepPoint(n, T); // the tape frees T afterwards
          return this.loss.compute(T, rep.y);
        })(U!);
        return { value: vg.value, grad: vg.grad };
      }));
    } finally {
      tf.dispose([...(U ? [U] : []), ...parts]);
    }
  }

  /** `∇²F v` at the curvature point (any point for a quadratic loss). */
  async hessian(v: Float64Array): Promise<Float64Array> {
    this.products++;
    const v32 = Float32Array.from(v);
    const V = this.plan ? null : tf.tensor2d(v32, [1, this.P]);
    const parts = this.plan ? splitHostVector(tf, this.shapes, v32) : [];
    const { form, gamma } = this.curvature;
    const remote = this.productsWorker();
    // A failed worker is dropped: its rounds come back to this thread (the same bits either way).
    const prefix = remote ? { rounds: remote.rounds, sum: remote.product(v32).catch(() => this.dropWorker(remote)) } : undefined;
    try {
      const { grad } = await this.sweep((rep, n, dr) => tf.tidy(() => {
        const at = this.curvature.quadratic ? this.base[n] : this.point[n]!;
        if (dr) {
          const z = denseForwardWith(tf, this.plan!, dr, parts);
          const w = gamma !== null ? squaredErrorFormGradient(tf, gamma, z) : tf.grad((t: tf.Tensor) => form(t as tf.Tensor2D, at, rep.y))(z);
          return { grad: denseBackwardWith(tf, this.plan!, dr, w as tf.Tensor2D) };
        }
        return { grad: tf.grad((w: tf.Tensor) => form(networkPush(this.anatomy, rep, w), at, rep.y))(V!) };
      }), prefix);
      return grad;
    } finally {
      tf.dispose([...(V ? [V] : []), ...parts]);
    }
  }

  private dropWorker(remote: NetworkProductsWorker): null {
    if (this.remote === remote) this.remote = null;
    remote.dispose();
    this.workerFailures++;
    return null;
  }

  dispose(): void {
    tf.dispose(this.base);
    tf.dispose(this.point.filter((t): t is tf.Tensor2D => t !== null));
    for (const dr of this.dense.values()) tf.dispose([...dr.inputsT, ...dr.kernelsT]);
    this.remote?.dispose();
    this.remote = null;
    this.dense.clear();
    this.base.length = 0;
    this.point.length = 0;
  }
}
