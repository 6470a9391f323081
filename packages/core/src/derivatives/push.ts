/**
 * The clamped forward product over the model's graph (taylor-math.md, generalised): perturbations
 * of the pre-activations of the scoped layers (anatomy.layers) pushed to the output with every layer's round
 * state frozen (activation slopes, max-pool choices, dropout masks, batch statistics) and no
 * biases: `Σ_l J_l · δa_l`, for K directions per sample. Linear in the injections and built from
 * differentiable ops, so its gradient with respect to them is the Jacobian's transpose (reverse
 * mode). The one home of this product: every plugin uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy } from '../anatomy.js';
import { denseMap, inputPush, scopedPRelu } from './params.js';
import { layerNormalization } from './normalization.js';
import type { NodeState } from './types.js';
import { undilated } from './util.js';

/** What freezes the network at round n. `BatchCapture` is one; stored rounds and sub-batches are others. */
export interface ClampFactors {
  /** `s'(a_l)` `[B, ...]` of scoped layer l, or null where linear. */
  derivative(l: number): tf.Tensor | null;
  /** What graph node `id`'s derivatives module holds fixed, or null when it has nothing to freeze. */
  nodeState(id: number): NodeState | null;
}

export interface PushOptions {
  /** First scoped layer whose pre-activation is perturbed. */
  from: number;
  /** Directions per sample `[B, K]`. */
  B: number;
  K: number;
  /** Perturbation of layer l's pre-activation `[B, K, ...outputShape_l]` (added before its derivative), or null. */
  inject(l: number): tf.Tensor | null;
  /** Kernel of layer l used to carry perturbations forward (defaults to the layer's variable: `W_n` only before the step). */
  kernel?(l: number): tf.Tensor;
}

/** A scoped layer's linear map of an input perturbation with a given kernel and no bias. */
function linearWithKernel(anatomy: ModelAnatomy, factors: ClampFactors, l: number, x: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
  const p = anatomy.layers[l];
  if (p.kind === 'dense') return denseMap(x, kernel);
  if (p.kind === 'prelu') return scopedPRelu.pushWith(factors.nodeState(p.node)!, x, kernel);
  if (p.kind === 'layerNormalization') {
    // Its exact per-sample Jacobian (normalization.ts), γ at W_n from the round's state.
    const state = factors.nodeState(p.node)!;
    const B = state.sample.xhat.shape[0];
    const K = x.shape[0] / B;
    const d = tf.reshape(x, [B, K, ...p.inputShape]);
    return tf.reshape(layerNormalization.push(p.layer, state, [d], { B, K, inputShapes: [p.inputShape], outputShape: p.outputShape })!, x.shape);
  }
  if (p.kind !== 'conv2d') return inputPush(p, x, kernel, factors.nodeState(p.node)?.shared);
  const c = p.conv!;
  // tfjs cannot differentiate a dilated conv2d: the dilation is written into the filter instead.
  if (c.dilation[0] > 1 || c.dilation[1] > 1) return tf.conv2d(x as tf.Tensor4D, undilated(kernel, c.dilation), c.strides, c.padding);
  return tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
}

/** `[B, K, p_L]`: the clamped product of the injections. Unlike the layers' variables, `kernel` lets it run after the step and on replayed rounds. */
export function clampedPush(anatomy: ModelAnatomy, factors: ClampFactors, o: PushOptions): tf.Tensor3D {
  const { B, K } = o;
  const start = anatomy.layers[o.from].node;
  const d = new Map<number, tf.Tensor | null>();
  for (const node of anatomy.graph) {
    if (node.id < start) continue;
    const ins = node.inputs.map((i) => d.get(i) ?? null);
    let out: tf.Tensor | null = null;
    switch (node.role) {
      case 'param': {
        const l = node.param!;
        const p = anatomy.layers[l];
        if (node.id !== start && ins[0]) {
          const flat = tf.reshape(ins[0], [B * K, ...p.inputShape]);
          out = tf.reshape(linearWithKernel(anatomy, factors, l, flat, o.kernel ? o.kernel(l) : p.kernel), [B, K, ...p.outputShape]);
        }
        const add = o.inject(l);
        if (add) out = out ? tf.add(out, add) : add;
        if (out) {
          const deriv = factors.derivative(l);
          if (deriv) out = tf.mul(out, tf.expandDims(deriv, 1));
        }
        break;
      }
      case 'folded':
      case 'absorbed':
        out = ins[0];
        break;
      case 'derivatives':
        if (ins.some((t) => t !== null)) {
          // Dropout's state (its mask) is kept by the forward pass (`applyKeepingState`), not by a freeze.
          const stateful = node.derivatives!.freeze !== undefined || 'applyKeepingState' in node.derivatives!;
          out = node.derivatives!.push(node.layer, stateful ? factors.nodeState(node.id) : null, ins,
            { B, K, inputShapes: node.inputShapes, outputShape: node.outputShape });
        }
        break;
      default:
        throw new Error(`layer "${node.layer.name}" (${node.className}) cannot be linearised: ${node.problem}`);
    }
    d.set(node.id, out);
  }
  const f = d.get(anatomy.outputNode);
  if (!f) return tf.zeros([B, K, anatomy.outputSize]) as tf.Tensor3D;
  return tf.reshape(f, [B, K, anatomy.outputSize]) as tf.Tensor3D;
}

/** The first `s` samples of a round's clamp factors (a sub-batch), memoised; dispose when done. */
export class SubBatchFactors implements ClampFactors {
  private readonly derivs = new Map<number, tf.Tensor | null>();
  private readonly states = new Map<number, NodeState | null>();

  constructor(private readonly base: ClampFactors, readonly size: number, private readonly full: number) {}

  private take(t: tf.Tensor): tf.Tensor {
    return this.size === this.full ? t : tf.keep(tf.slice(t, 0, this.size));
  }

  derivative(l: number): tf.Tensor | null {
    if (!this.derivs.has(l)) {
      const d = this.base.derivative(l);
      this.derivs.set(l, d ? this.take(d) : null);
    }
    return this.derivs.get(l)!;
  }

  nodeState(id: number): NodeState | null {
    if (!this.states.has(id)) {
      const st = this.base.nodeState(id);
      this.states.set(id, st ? { sample: Object.fromEntries(Object.entries(st.sample).map(([k, t]) => [k, this.take(t)])), shared: st.shared } : null);
    }
    return this.states.get(id)!;
  }

  dispose(): void {
    if (this.size !== this.full) {
      for (const t of this.derivs.values()) t?.dispose();
      for (const st of this.states.values()) if (st) for (const t of Object.values(st.sample)) t.dispose();
    }
    this.derivs.clear();
    this.states.clear();
  }
}
