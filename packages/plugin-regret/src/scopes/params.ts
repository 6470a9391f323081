import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '@taylorlens/core';
import { thetaOf } from '../jacobian/linear.js';
import type { ScopeDescription } from './scope.js';

/**
 * A scope's parameter vectors `[K, P]` from the current variables or from `weights` (tensors in
 * `anatomy.variables` order):
 *  - neuron α of a layer: `θ_α = Θ[:, α]`, its incoming weights in kernel order then its bias;
 *  - layer: `vec(Θ)` row-major, Θ `[fanIn, channels]` (kernel rows, then the bias row);
 *  - network: every variable flattened, concatenated in `anatomy.variables` order.
 */
export function scopeParams(anatomy: ModelAnatomy, desc: ScopeDescription, weights?: readonly tf.Tensor[]): tf.Tensor2D {
  return tf.tidy(() => {
    const pick = (v: tf.Variable | undefined) => (v && weights ? weights[anatomy.variables.indexOf(v)] : v);
    if (desc.kind === 'network') {
      const all = anatomy.variables.map((v) => tf.reshape(pick(v)!, [-1]));
      return tf.expandDims(tf.concat(all), 0) as tf.Tensor2D;
    }
    const p = anatomy.layers[desc.layerIndex!];
    const theta = thetaOf(p, pick(p.kernel)!, pick(p.bias) ?? null);
    if (desc.kind === 'layer') return tf.reshape(theta, [1, -1]) as tf.Tensor2D;
    const all = desc.units!.length === p.channels && desc.units!.every((u, i) => u === i);
    return tf.transpose(all ? theta : tf.gather(theta, tf.tensor1d(desc.units!, 'int32'), 1)) as tf.Tensor2D;
  });
}

/** Per-problem ball bookkeeping: the centre (first recorded weights) and the farthest distance reached. */
export class Trajectory {
  centre: tf.Tensor2D | null = null;
  private farthest: tf.Tensor1D | null = null;

  /** Registers `w` `[K, P]` (a point of the trajectory) and returns `w − centre` (caller disposes). */
  update(w: tf.Tensor2D): tf.Tensor2D {
    if (!this.centre) this.centre = tf.keep(w.clone());
    const dW = tf.sub(w, this.centre) as tf.Tensor2D;
    const next = tf.keep(tf.tidy(() => {
      const dist2 = tf.sum(tf.square(dW), 1) as tf.Tensor1D; // squared: the root is taken when read
      return this.farthest ? tf.maximum(this.farthest, dist2) as tf.Tensor1D : dist2;
    }));
    this.farthest?.dispose();
    this.farthest = next;
    return dW;
  }

  /** `max_n ‖w_n − w₁‖` per problem (zeros before any round). */
  async farthestDistance(K: number): Promise<Float64Array> {
    return this.farthest ? Float64Array.from(await this.farthest.data(), Math.sqrt) : new Float64Array(K);
  }

  dispose(): void {
    this.centre?.dispose();
    this.farthest?.dispose();
    this.centre = null;
    this.farthest = null;
  }
}
