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
import type { ModelAnatomy, TaylorLoss } from '@taylorlens/core';
import { clampedPush, type ClampFactors } from '../jacobian/clamped-push.js';
import { linearWith } from '../jacobian/linear.js';
import type { OutputCurvature } from '../convex/output-curvature.js';

/** One stored network round as tensors (what `NetworkScope.replay` builds). */
export interface ReplayedRound {
  factors: ClampFactors;
  inputs: tf.Tensor[];
  kernels: tf.Tensor[];
  f: tf.Tensor2D;
  y: tf.Tensor2D;
  /** `W_n − c` `[1, P]`. */
  offset: tf.Tensor;
  all: tf.Tensor[];
}

/** Split a flat `[1, P]` parameter vector into tensors shaped like `anatomy.variables`. */
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
      return tf.expandDims(linearWith(p, rep.inputs[l], dk, db), 1);
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

/**
 * Dense chains (every parameterised layer dense on flat inputs, nothing but activations between):
 * `J_n v` and `J_nᵀ w` written out, with the transposed layer inputs and kernels prepared once per
 * round, so that every matrix product runs untransposed: tfjs's wasm kernels are several times
 * slower on transposed operands (which autodiff's matmul gradients use), and batched matmuls
 * across rounds are slower still, so rounds stay separate.
 */
export function isDenseChain(anatomy: ModelAnatomy): boolean {
  // (A dropout stage's mask is not in the written-out products: such chains take the general path.)
  return anatomy.isChain && anatomy.layers.every((p) => p.kind === 'dense' && p.inputShape.length === 1 && p.outputShape.length === 1
    && p.after.every((st) => st.kind === 'activation'));
}

interface DenseRound {
  inputsT: tf.Tensor2D[];
  kernelsT: tf.Tensor2D[];
}

function prepareDense(anatomy: ModelAnatomy, rep: ReplayedRound): DenseRound {
  return {
    inputsT: anatomy.layers.map((p) => tf.transpose(rep.inputs[p.index] as tf.Tensor2D)),
    kernelsT: anatomy.layers.map((p) => tf.transpose(rep.kernels[p.index] as tf.Tensor2D)),
  };
}

/** `J_n v` `[s, p_L]` of a dense chain, v split like `anatomy.variables` (once per pass, not per round). */
function denseForward(anatomy: ModelAnatomy, rep: ReplayedRound, delta: tf.Tensor[]): tf.Tensor2D {
  let d: tf.Tensor2D | null = null;
  for (const p of anatomy.layers) {
    let a = tf.matMul(rep.inputs[p.index] as tf.Tensor2D, delta[anatomy.variables.indexOf(p.kernel)] as tf.Tensor2D);
    if (p.bias) a = tf.add(a, delta[anatomy.variables.indexOf(p.bias)]);
    if (d) a = tf.add(a, tf.matMul(d, rep.kernels[p.index] as tf.Tensor2D));
    const m = rep.factors.derivative(p.index);
    d = (m ? tf.mul(a, m) : a) as tf.Tensor2D;
  }
  return d!;
}

/** `J_nᵀ w` as a flat `[P]` vector in `anatomy.variables` order. */
function denseBackward(anatomy: ModelAnatomy, rep: ReplayedRound, dr: DenseRound, w: tf.Tensor2D): tf.Tensor1D {
  const parts: tf.Tensor[] = new Array(anatomy.variables.length);
  let delta = w;
  for (let l = anatomy.layers.length - 1; l >= 0; l--) {
    const p = anatomy.layers[l];
    const m = rep.factors.derivative(l);
    if (m) delta = tf.mul(delta, m) as tf.Tensor2D;
    parts[anatomy.variables.indexOf(p.kernel)] = tf.matMul(dr.inputsT[l], delta);
    if (p.bias) parts[anatomy.variables.indexOf(p.bias)] = tf.sum(delta, 0);
    if (l > 0) delta = tf.matMul(delta, dr.kernelsT[l]);
  }
  return tf.concat(parts.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D;
}

export class NetworkProblem {
  /** `b_n` per round (by position), computed on the first pass. */
  private readonly base: tf.Tensor2D[] = [];
  /** The Taylor outputs at the point of the last `gradient(…, true)` (curvature of non-quadratic losses). */
  private readonly point: (tf.Tensor2D | null)[] = [];
  /** Transposes of dense chains, per round (kept when the source keeps its replays). */
  private readonly dense = new Map<number, DenseRound>();
  private readonly isDense: boolean;
  /** Passes over the rounds so far (gradients and Hessian products). */
  passes = 0;
  products = 0;

  constructor(private readonly anatomy: ModelAnatomy, private readonly loss: TaylorLoss, readonly curvature: OutputCurvature,
    private readonly source: RoundSource, readonly P: number) {
    this.isDense = isDenseChain(anatomy);
  }

  /** Per-round values and gradients summed in float64 on the host. */
  private async sweep(one: (rep: ReplayedRound, n: number, dense: DenseRound | null) => { value?: tf.Scalar; grad: tf.Tensor }): Promise<{ value: number; grad: Float64Array }> {
    this.passes++;
    const grad = new Float64Array(this.P);
    let value = 0;
    let n = 0;
    for (const rep of this.source.rounds()) {
      let dr: DenseRound | null = null;
      try {
        if (!this.base[n]) this.base[n] = tf.tidy(() => tf.keep(tf.sub(rep.f, networkPush(this.anatomy, rep, rep.offset))));
        if (this.isDense) {
          dr = this.dense.get(n) ?? prepareDense(this.anatomy, rep);
          if (this.source.cached) this.dense.set(n, dr);
        }
        const out = one(rep, n, dr);
        const [gv, vv] = await Promise.all([out.grad.data(), out.value?.data()]);
        tf.dispose([out.grad, out.value!].filter(Boolean));
        if (vv) value += vv[0];
        for (let k = 0; k < this.P; k++) grad[k] += gv[k];
      } finally {
        if (dr && !this.source.cached) tf.dispose([...dr.inputsT, ...dr.kernelsT]);
        this.source.release(rep);
      }
      n++;
    }
    return { value, grad };
  }

  /** `F(u)` and `∇F(u)`; with `curvatureHere` later Hessian products use the curvature at u. */
  async gradient(u: Float64Array, curvatureHere = false): Promise<{ value: number; grad: Float64Array }> {
    const U = tf.tensor2d(Float32Array.from(u), [1, this.P]);
    const parts = this.isDense ? splitVariables(this.anatomy, U) : [];
    const keepPoint = (n: number, T: tf.Tensor2D) => {
      if (!curvatureHere || this.curvature.quadratic) return;
      this.point[n]?.dispose();
      this.point[n] = tf.keep(tf.clone(T));
    };
    try {
      return await this.sweep((rep, n, dr) => tf.tidy(() => {
        if (dr) {
          const T = tf.add(this.base[n], denseForward(this.anatomy, rep, parts)) as tf.Tensor2D;
          keepPoint(n, T);
          const vg = tf.valueAndGrad((t: tf.Tensor) => this.loss.compute(t, rep.y))(T);
          return { value: vg.value, grad: denseBackward(this.anatomy, rep, dr, vg.grad as tf.Tensor2D) };
        }
        const vg = tf.valueAndGrad((v: tf.Tensor) => {
          const T = tf.add(this.base[n], networkPush(this.anatomy, rep, v)) as tf.Tensor2D;
          keepPoint(n, T); // the tape frees T afterwards
          return this.loss.compute(T, rep.y);
        })(U);
        return { value: vg.value, grad: vg.grad };
      }));
    } finally {
      tf.dispose([U, ...parts]);
    }
  }

  /** `∇²F v` at the curvature point (any point for a quadratic loss). */
  async hessian(v: Float64Array): Promise<Float64Array> {
    this.products++;
    const V = tf.tensor2d(Float32Array.from(v), [1, this.P]);
    const parts = this.isDense ? splitVariables(this.anatomy, V) : [];
    const form = this.curvature.form;
    try {
      const { grad } = await this.sweep((rep, n, dr) => tf.tidy(() => {
        const at = this.curvature.quadratic ? this.base[n] : this.point[n]!;
        if (dr) {
          const w = tf.grad((z: tf.Tensor) => form(z as tf.Tensor2D, at, rep.y))(denseForward(this.anatomy, rep, parts));
          return { grad: denseBackward(this.anatomy, rep, dr, w as tf.Tensor2D) };
        }
        return { grad: tf.grad((w: tf.Tensor) => form(networkPush(this.anatomy, rep, w), at, rep.y))(V) };
      }));
      return grad;
    } finally {
      tf.dispose([V, ...parts]);
    }
  }

  dispose(): void {
    tf.dispose(this.base);
    tf.dispose(this.point.filter((t): t is tf.Tensor2D => t !== null));
    for (const dr of this.dense.values()) tf.dispose([...dr.inputsT, ...dr.kernelsT]);
    this.dense.clear();
    this.base.length = 0;
    this.point.length = 0;
  }
}
