import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '@taylorlens/core';
import { thetaOf } from '../jacobian/linear.js';
import { kernelRows, selectChannels } from '@taylorlens/core';
import type { ScopeDescription } from './scope.js';

/**
 * A scope's parameter vectors `[K, P]` from the current variables or from `weights` (tensors in
 * `anatomy.variables` order):
 *  - neuron α of a layer: `θ_α = Θ[:, α]`, its incoming weights in kernel order then its bias
 *    (a bias-free layer's neurons have no bias entry);
 *  - layer: `vec(Θ)` row-major, Θ `[fanIn, channels]` (kernel rows, then the bias row if any),
 *    then a SeparableConv2D's depthwise kernel flattened;
 *  - network: every variable flattened, concatenated in `anatomy.variables` order.
 */
export function scopeParams(anatomy: ModelAnatomy, desc: ScopeDescription, weights?: readonly tf.Tensor[]): tf.Tensor2D {
  return tf.tidy(() => {
    const t = scopeParamsColumns(anatomy, desc, weights);
    return (desc.kind === 'neurons' ? tf.transpose(t) : tf.reshape(t, [1, -1])) as tf.Tensor2D;
  });
}

/**
 * The same as columns, `[P, K]` — for neurons the Θ columns themselves, for a layer `vec(Θ)` as
 * one column, for the network the concatenation — the layout the statistics use, without transposes.
 */
export function scopeParamsColumns(anatomy: ModelAnatomy, desc: ScopeDescription, weights?: readonly tf.Tensor[]): tf.Tensor2D {
  return tf.tidy(() => {
    const pick = (v: tf.Variable | undefined) => (v && weights ? weights[anatomy.variables.indexOf(v)] : v);
    if (desc.kind === 'network') {
      const all = anatomy.variables.map((v) => tf.reshape(pick(v)!, [-1]));
      return tf.expandDims(tf.concat(all), 1) as tf.Tensor2D;
    }
    const p = anatomy.layers[desc.layerIndex!];
    const kernel = pick(p.kernel)!;
    const bias = pick(p.bias) ?? null;
    if (desc.kind === 'layer') {
      const theta = tf.reshape(thetaOf(p, kernel, bias), [-1, 1]) as tf.Tensor2D;
      // SeparableConv2D: its depthwise kernel follows vec(Θ).
      return p.depthwise ? tf.concat([theta, tf.reshape(pick(p.depthwise)!, [-1, 1])]) as tf.Tensor2D : theta;
    }
    const all = desc.units!.length === p.channels && desc.units!.every((u, i) => u === i);
    if (all) return thetaOf(p, kernel, bias);
    // Select the sampled channels before assembling Θ's columns (an output layer may be wide).
    const units = tf.tensor1d(desc.units!, 'int32');
    const K = desc.units!.length;
    const rows = p.kind === 'conv2dTranspose' ? kernelRows(p, kernel) : tf.reshape(kernel, [p.kernelFanIn, p.channels]);
    const k = selectChannels(rows, units, p.channels) as tf.Tensor2D;
    if (!p.bias) return k;
    const b = bias ? tf.reshape(selectChannels(tf.reshape(bias, [1, p.channels]), units, p.channels), [1, K]) : tf.zeros([1, K]);
    return tf.concat([k, b], 0) as tf.Tensor2D;
  });
}

/**
 * Per-problem ball bookkeeping: the centre (first recorded weights) and the farthest distance
 * reached. Points are `[K, P]` rows, or `[P, K]` columns with `columns = true`. Distances are
 * taken for `settleEvery` points at once (a handful of ops instead of four per round).
 */
export class Trajectory {
  private start: tf.Tensor2D | null = null;
  private farthest: tf.Tensor1D | null = null;
  private rows: tf.Tensor2D | null = null;
  private pending: tf.Tensor2D[] = [];

  constructor(private readonly columns = false, private readonly settleEvery = 10) {}

  /** The centre as rows `[K, P]`. */
  get centre(): tf.Tensor2D | null {
    if (!this.start || !this.columns) return this.start;
    this.rows ??= tf.keep(tf.transpose(this.start));
    return this.rows;
  }

  /**
   * Registers a point of the trajectory and returns `w − centre` in the same layout. The
   * trajectory owns the returned tensor (callers must not dispose it; it lives until the next
   * `update` or `farthestDistance`).
   */
  update(w: tf.Tensor2D): tf.Tensor2D {
    if (!this.start) this.start = tf.keep(w.clone());
    const dW = tf.keep(tf.sub(w, this.start) as tf.Tensor2D);
    this.pending.push(dW);
    if (this.pending.length >= this.settleEvery) this.settle(dW);
    return dW;
  }

  /** Fold the pending distances into the maximum; keeps `keep` (the point just handed out). */
  private settle(keep?: tf.Tensor2D): void {
    if (this.pending.length === 0) return;
    const next = tf.keep(tf.tidy(() => {
      const axis = this.columns ? 1 : 2;
      const dist2 = tf.max(tf.sum(tf.square(tf.stack(this.pending)), axis), 0) as tf.Tensor1D; // squared: the root is taken when read
      return this.farthest ? tf.maximum(this.farthest, dist2) as tf.Tensor1D : dist2;
    }));
    tf.dispose(this.pending.filter((t) => t !== keep));
    this.pending = [];
    if (keep) this.pending.push(keep);
    this.farthest?.dispose();
    this.farthest = next;
  }

  /** `max_n ‖w_n − w₁‖` per problem (zeros before any round). */
  async farthestDistance(K: number): Promise<Float64Array> {
    this.settle();
    this.pending = [];
    return this.farthest ? Float64Array.from(await this.farthest.data(), Math.sqrt) : new Float64Array(K);
  }

  /**
   * Checkpoint: the centre, the farthest squared distance so far and the displacements not yet
   * folded in, handed to `save` as they are (a resumed run then folds them exactly as this one would).
   */
  async saveState(save: (name: string, t: tf.Tensor) => Promise<void>): Promise<TrajectoryState> {
    if (this.start) await save('start', this.start);
    if (this.farthest) await save('farthest', this.farthest);
    for (const [i, t] of this.pending.entries()) await save(`pending-${i}`, t);
    return { start: this.start !== null, farthest: this.farthest !== null, pending: this.pending.length };
  }

  /** Restore `saveState`'s tensors from `load` (which returns new tensors; the trajectory keeps them). */
  loadState(s: TrajectoryState, load: (name: string) => tf.Tensor): void {
    this.dispose();
    this.start = s.start ? tf.keep(load('start')) as tf.Tensor2D : null;
    this.farthest = s.farthest ? tf.keep(load('farthest')) as tf.Tensor1D : null;
    this.pending = Array.from({ length: s.pending }, (_, i) => tf.keep(load(`pending-${i}`)) as tf.Tensor2D);
  }

  dispose(): void {
    for (const t of [this.start, this.rows, this.farthest, ...this.pending]) t?.dispose();
    this.pending = [];
    this.start = this.rows = null;
    this.farthest = null;
  }
}

/** What `Trajectory.saveState` records besides the tensors it hands out. */
export interface TrajectoryState {
  start: boolean;
  farthest: boolean;
  pending: number;
}
