import * as tf from '@tensorflow/tfjs-core';
import { matMulT } from './matmul.js';
import type { ModelAnatomy } from '../anatomy.js';
import type { BatchCapture } from '../capture.js';
import { type ClampFactors, SubBatchFactors } from '../derivatives/push.js';
import { denseGrams, denseTail } from './dense-gram.js';
import { outputJacobians } from './output-jacobians.js';

/** What the recorded scopes need from a round, declared once so each thing is computed once. */
export interface JacobianPlan {
  /** Dense layers whose per-sample Gram `J_lᵀJ_l` is needed (full batch), for layer scopes or neuron diagonals. */
  grams: Set<number>;
  /** Dense layers whose Gram diagonal `‖J_l[:, α]‖²` is needed (neuron scopes). */
  diagonals: Set<number>;
  /** Layers whose per-sample Jacobian is needed, by sub-batch size (Infinity = full batch). */
  jacobians: Map<number, Set<number>>;
}

export function emptyPlan(): JacobianPlan {
  return { grams: new Set(), diagonals: new Set(), jacobians: new Map() };
}

/** What a plugin asks core to compute each round (layer indices among Dense/Conv2D layers). */
export interface DerivedRequest {
  /** Per-sample Grams `J_lᵀJ_l` of these layers (full batch). */
  grams?: readonly number[];
  /** Gram diagonals `‖J_l[:, α]‖²` of these layers. */
  gramDiagonals?: readonly number[];
  /** Per-sample output Jacobians `J_l` of these layers, on the first `subBatch` samples (null: the whole batch). */
  jacobians?: readonly { layer: number; subBatch: number | null }[];
}

/** Add a request to a plan (each quantity is then computed once per round for everyone who asked). */
export function mergePlan(plan: JacobianPlan, r: DerivedRequest): JacobianPlan {
  for (const l of r.grams ?? []) plan.grams.add(l);
  for (const l of r.gramDiagonals ?? []) plan.diagonals.add(l);
  for (const { layer, subBatch } of r.jacobians ?? []) {
    const key = subBatch ?? Infinity;
    if (!plan.jacobians.has(key)) plan.jacobians.set(key, new Set());
    plan.jacobians.get(key)!.add(layer);
  }
  return plan;
}

/** Whether a plan asks for anything. */
export function planIsEmpty(plan: JacobianPlan): boolean {
  return plan.grams.size === 0 && plan.diagonals.size === 0 && plan.jacobians.size === 0;
}

/**
 * One round's derived quantities (Jacobians and Grams), computed on first use (kept out of callers' tidy scopes) and shared by every scope, disposed at the end
 * of the round. Grams of dense layers with a dense tail come from the backward recursion; other
 * Grams and all Jacobians from one reverse pass through the clamped network per sub-batch size.
 */
export class RoundJacobians {
  private readonly grams = new Map<number, tf.Tensor3D>();
  private readonly jacs = new Map<string, tf.Tensor>();
  private readonly subFactors = new Map<number, SubBatchFactors>();
  private prepared = false;

  constructor(readonly anatomy: ModelAnatomy, readonly capture: BatchCapture, private readonly plan: JacobianPlan) {}

  /**
   * Work shared by the round's scopes before they record: the Gram diagonals of dense-tail layers
   * in one recursion. (A square-root-factor recursion does half the matmul flops but needs a
   * Cholesky read-back each round; measured slower on wasm.)
   */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    this.prepared = true;
    // Diagonals of dense-tail layers: one recursion; the bottom layer's diagonal alone when no
    // scope needs its full Gram (saves a matmul, a transpose and the B·p² masking there).
    const L = this.anatomy.layers.length - 1;
    const diag = [...this.plan.diagonals].filter((l) => l < L && denseTail(this.anatomy, l));
    if (diag.length === 0) return;
    const full = [...this.plan.grams].filter((l) => l < L && denseTail(this.anatomy, l));
    const lowest = Math.min(...diag, ...full);
    const bottomOnly = !full.includes(lowest);
    const grams = denseGrams(this.anatomy, this.capture, lowest, this.batchSize,
      bottomOnly ? (d) => this.jacs.set(`diag${lowest}`, d) : undefined);
    for (const [m, g] of grams) this.grams.set(m, g);
  }

  get batchSize(): number {
    return this.capture.batchSize;
  }

  /** Clamp factors of the first `size` samples. */
  factors(size: number): ClampFactors {
    const B = this.batchSize;
    if (size >= B) return this.capture;
    let f = this.subFactors.get(size);
    if (!f) { f = new SubBatchFactors(this.capture, size, B); this.subFactors.set(size, f); }
    return f;
  }

  /** `J_lᵀJ_l` `[B, p_l, p_l]`. */
  gram(l: number): tf.Tensor3D {
    if (!this.grams.has(l)) {
      const wanted = [...this.plan.grams].filter((m) => denseTail(this.anatomy, m));
      if (denseTail(this.anatomy, l)) {
        // The output layer's Gram (p_L² per sample) only when it is itself asked for.
        const L = this.anatomy.layers.length - 1;
        const lowest = l === L ? L : Math.min(l, ...wanted.filter((m) => m < L));
        for (const [m, g] of denseGrams(this.anatomy, this.capture, lowest, this.batchSize)) {
          if (this.grams.has(m)) g.dispose(); else this.grams.set(m, tf.keep(g));
        }
      } else {
        const J = this.jacobian(l, Infinity);
        const B = this.batchSize;
        const pL = this.anatomy.outputSize;
        this.grams.set(l, tf.keep(tf.tidy(() => {
          const Jf = tf.reshape(J, [B, pL, -1]);
          return matMulT(Jf, Jf, true) as tf.Tensor3D;
        })));
      }
    }
    return this.grams.get(l)!;
  }

  /**
   * The Gram's diagonal `‖J_l[:, α]‖²` `[B, p_l]` (all a neuron scope needs). For the output
   * layer it is `s'(a_L)²` (ones when linear), without forming the `p_L × p_L` Gram.
   */
  gramDiagonal(l: number): tf.Tensor2D {
    const key = `diag${l}`;
    if (!this.jacs.has(key)) {
      const L = this.anatomy.layers.length - 1;
      const B = this.batchSize;
      const p = this.anatomy.layers[l];
      this.jacs.set(key, tf.keep(tf.tidy(() => {
        if (l === L && denseTail(this.anatomy, l)) {
          const d = this.capture.derivative(L);
          return d ? tf.square(tf.reshape(d, [B, -1])) : tf.ones([B, p.units]);
        }
        const idx = tf.tensor1d(Int32Array.from({ length: p.units }, (_, i) => i * p.units + i), 'int32');
        return tf.gather(tf.reshape(this.gram(l), [B, p.units * p.units]), idx, 1);
      })));
    }
    return this.jacs.get(key)! as tf.Tensor2D;
  }

  /** `J_l` `[size, p_L, ...outputShape_l]` for the first `size` samples. */
  jacobian(l: number, subBatch: number): tf.Tensor {
    const size = Math.min(subBatch, this.batchSize);
    const key = `${l}@${size}`;
    if (!this.jacs.has(key)) {
      const planned = [...(this.plan.jacobians.get(subBatch) ?? [])];
      const layers = [...new Set([l, ...planned])];
      for (const [m, J] of outputJacobians(this.anatomy, this.factors(size), layers, size)) {
        const k = `${m}@${size}`;
        if (this.jacs.has(k)) J.dispose(); else this.jacs.set(k, tf.keep(J));
      }
    }
    return this.jacs.get(key)!;
  }

  dispose(): void {
    for (const t of this.grams.values()) t.dispose();
    for (const t of this.jacs.values()) t.dispose();
    for (const f of this.subFactors.values()) f.dispose();

    this.grams.clear();
    this.jacs.clear();
    this.subFactors.clear();
  }
}
