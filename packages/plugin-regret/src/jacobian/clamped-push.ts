import * as tf from '@tensorflow/tfjs-core';
import { cellsToWindows, padOrCrop, poolGeometry, type ModelAnatomy } from '@taylorlens/core';
import { linearWith } from './linear.js';

/** What freezes the network at round n: the activation derivatives and the max-pool choices. */
export interface ClampFactors {
  /** `s'(a_l)` `[B, ...]`, or null where linear. */
  derivative(l: number): tf.Tensor | null;
  /** Max-pool selection mask of stage `stage` after layer l, shape of the pool's input. */
  poolMask(l: number, stage: number): tf.Tensor;
}

export interface PushOptions {
  /** First layer whose pre-activation is perturbed. */
  from: number;
  /** Directions per sample `[B, K]`. */
  B: number;
  K: number;
  /** Perturbation of layer l's pre-activation `[B, K, ...outputShape_l]` (added before its derivative), or null. */
  inject(l: number): tf.Tensor | null;
  /** Kernel of layer l used to carry perturbations forward (defaults to the layer's variable: `W_n` only before the step). */
  kernel?(l: number): tf.Tensor;
}

/**
 * The clamped forward product with injections (taylor-math.md): perturbations of the
 * pre-activations of layers `from…L` pushed to the output with every derivative and max-pool
 * choice frozen and no biases, `Σ_l J_l · δa_l`, for K directions per sample → `[B, K, p_L]`.
 * Linear in the injections, so its gradient with respect to them is the Jacobian's transpose.
 * Unlike the core's `clampedForward` it takes the kernels explicitly, so it also works after the
 * optimizer has moved the variables (afterStep) and for replayed rounds.
 */
export function clampedPush(anatomy: ModelAnatomy, factors: ClampFactors, o: PushOptions): tf.Tensor3D {
  const { B, K } = o;
  let d: tf.Tensor | null = null;
  for (let l = o.from; l < anatomy.layers.length; l++) {
    const p = anatomy.layers[l];
    if (d) {
      const flat: tf.Tensor = tf.reshape(d, [B * K, ...p.inputShape]);
      d = tf.reshape(linearWith(p, flat, o.kernel ? o.kernel(l) : p.kernel, null), [B, K, ...p.outputShape]);
    }
    const add = o.inject(l);
    if (add) d = d ? tf.add(d, add) : add;
    if (!d) continue;
    const deriv = factors.derivative(l);
    if (deriv) d = tf.mul(d, tf.expandDims(deriv, 1));
    p.after.forEach((s, i) => {
      switch (s.kind) {
        case 'activation':
        case 'dropout':
          return;
        case 'maxpool': {
          const mask = factors.poolMask(l, i);
          const g = poolGeometry(s, mask.shape);
          const [, H, W, C] = mask.shape;
          const kept = tf.reshape(tf.mul(d!, tf.expandDims(mask, 1)), [B * K, H, W, C]);
          d = tf.reshape(cellsToWindows(padOrCrop(kept, g), g), [B, K, g.outHeight, g.outWidth, C]);
          return;
        }
        case 'flatten':
          d = tf.reshape(d!, [B, K, -1]);
          return;
        case 'reshape':
          d = tf.reshape(d!, [B, K, ...(s.layer.outputShape as number[]).slice(1)]);
          return;
        default:
          throw new Error(`the clamped product does not support ${s.kind} layers ("${s.layer.name}")`);
      }
    });
  }
  if (!d) return tf.zeros([B, K, anatomy.outputSize]) as tf.Tensor3D;
  return tf.reshape(d, [B, K, anatomy.outputSize]) as tf.Tensor3D;
}

/** The first `s` samples of a round's clamp factors (a sub-batch), memoised; dispose when done. */
export class SubBatchFactors implements ClampFactors {
  private readonly memo = new Map<string, tf.Tensor | null>();

  constructor(private readonly base: ClampFactors, readonly size: number, private readonly full: number) {}

  private take(t: tf.Tensor): tf.Tensor {
    return this.size === this.full ? t : tf.slice(t, 0, this.size);
  }

  derivative(l: number): tf.Tensor | null {
    const key = `d${l}`;
    if (!this.memo.has(key)) {
      const d = this.base.derivative(l);
      this.memo.set(key, d ? tf.keep(this.take(d)) : null);
    }
    return this.memo.get(key)!;
  }

  poolMask(l: number, stage: number): tf.Tensor {
    const key = `p${l}:${stage}`;
    if (!this.memo.has(key)) this.memo.set(key, tf.keep(this.take(this.base.poolMask(l, stage))));
    return this.memo.get(key)!;
  }

  dispose(): void {
    if (this.size !== this.full) for (const t of this.memo.values()) t?.dispose();
    this.memo.clear();
  }
}
