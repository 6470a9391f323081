import * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy, ParamLayer, Stage } from './anatomy.js';
import { activationDerivative } from './activations.js';

/** What plugins ask the trainer to keep from each round's forward and backward pass. */
export interface CaptureNeeds {
  /** Each parameterised layer's input `x_{l−1}`. */
  inputs: boolean;
  /** Each parameterised layer's pre-activation `a_l` (also enables the clamped product). */
  preActivations: boolean;
  /** Each parameterised layer's activation `x_l = s(a_l)` (before pooling). */
  activations: boolean;
  /** The gradient of the minibatch loss with respect to each pre-activation, `∂ℓ/∂a_l`. */
  preActivationGrads: boolean;
}

export const NO_NEEDS: Readonly<CaptureNeeds> = Object.freeze({
  inputs: false, preActivations: false, activations: false, preActivationGrads: false,
});

export function anyNeed(n: CaptureNeeds): boolean {
  return n.inputs || n.preActivations || n.activations || n.preActivationGrads;
}

export interface LayerCapture {
  input?: tf.Tensor;
  preActivation?: tf.Tensor;
  activation?: tf.Tensor;
  preActivationGrad?: tf.Tensor;
}

/** Apply the layer's own elementwise activation to a pre-activation. */
export function activate(p: ParamLayer, a: tf.Tensor): tf.Tensor {
  if (p.activationIsSeparate) return p.after[0].layer.apply(a) as tf.Tensor;
  const fn = (p.layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor } }).activation;
  return fn ? fn.apply(a) : a;
}

/** The layer's linear map `W·x + b` (bias optional), from its own variables. */
export function linear(p: ParamLayer, x: tf.Tensor, withBias = true): tf.Tensor {
  let a: tf.Tensor;
  if (p.kind === 'dense') {
    a = x.rank === 2 ? tf.matMul(x, p.kernel) : tf.dot(x, p.kernel);
  } else {
    const c = p.conv!;
    a = tf.conv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
  }
  return withBias && p.bias ? tf.add(a, p.bias) : a;
}

function applyStage(s: Stage, x: tf.Tensor): tf.Tensor {
  return s.layer.apply(x, { training: true }) as tf.Tensor;
}

/**
 * One round's captures, from the pass that trains. Tensors here belong to the trainer and are
 * disposed after the round: a plugin that needs one later must `tf.keep(t.clone())` it.
 * Derived quantities (activation derivatives, max-pool choices) are computed on first use and
 * shared by every plugin.
 */
export class BatchCapture {
  readonly layers: LayerCapture[];
  /** Inputs of every max-pool stage, keyed `${layerIndex}:${stageIndex}`. */
  readonly poolInputs = new Map<string, tf.Tensor>();
  /** The network output `f` as the loss sees it (logits when the loss absorbs softmax). */
  output!: tf.Tensor;
  loss!: tf.Scalar;
  /** Per-variable gradients of the minibatch loss, keyed by variable name. */
  grads: Record<string, tf.Tensor> = {};
  private readonly derived = new Map<string, tf.Tensor | null>();

  constructor(readonly anatomy: ModelAnatomy, readonly x: tf.Tensor, readonly y: tf.Tensor) {
    this.layers = anatomy.layers.map(() => ({}));
  }

  get batchSize(): number {
    return this.x.shape[0];
  }

  /** `s'(a_l)`, memoised; null where the activation is linear. Needs pre-activations. */
  derivative(l: number): tf.Tensor | null {
    const key = `d${l}`;
    if (!this.derived.has(key)) {
      const p = this.anatomy.layers[l];
      const a = this.preActivation(l);
      const isOutput = l === this.anatomy.layers.length - 1;
      const name = isOutput && this.anatomy.absorbedOutputActivation ? 'linear' : p.activation;
      let d: tf.Tensor | null = null;
      tf.tidy(() => { d = activationDerivative(name, a, (t) => activate(p, t)); if (d) tf.keep(d); });
      this.derived.set(key, d);
    }
    return this.derived.get(key)!;
  }

  /** Per-sample flat argmax index of each max-pool window (within the sample), memoised. */
  poolChoices(l: number, stage: number): tf.Tensor {
    const key = `p${l}:${stage}`;
    if (!this.derived.has(key)) {
      const input = this.poolInputs.get(`${l}:${stage}`);
      if (!input) throw new Error(`pool input of layer ${l} stage ${stage} was not captured (enable preActivations)`);
      const cfg = this.anatomy.layers[l].after[stage].layer.getConfig() as {
        poolSize: [number, number]; strides: [number, number]; padding: 'valid' | 'same';
      };
      const idx = tf.tidy(() => {
        const { indexes } = tf.maxPoolWithArgmax(input as tf.Tensor4D, cfg.poolSize, cfg.strides ?? cfg.poolSize, cfg.padding, false);
        return tf.reshape(indexes, [input.shape[0], -1]);
      });
      this.derived.set(key, idx);
    }
    return this.derived.get(key)!;
  }

  preActivation(l: number): tf.Tensor {
    const a = this.layers[l].preActivation;
    if (!a) throw new Error(`pre-activation of layer ${l} was not captured: require({ preActivations: true })`);
    return a;
  }

  dispose(): void {
    const all = new Set<tf.Tensor>();
    for (const c of this.layers) for (const t of Object.values(c)) if (t) all.add(t);
    for (const t of this.poolInputs.values()) all.add(t);
    for (const t of this.derived.values()) if (t) all.add(t);
    for (const t of Object.values(this.grads)) all.add(t);
    if (this.output) all.add(this.output);
    if (this.loss) all.add(this.loss);
    all.delete(this.x);
    all.delete(this.y);
    for (const t of all) t.dispose();
    this.derived.clear();
  }
}

/**
 * The instrumented forward pass. Without needs it is the model's own layers applied in order
 * (fused kernels, nothing kept). With needs, each parameterised layer is evaluated as its linear
 * map and activation so the pre-activation exists, and the requested tensors are kept on
 * `capture`. `probes[l]`, when given, is added to `a_l` so that the gradient with respect to it
 * is `∂ℓ/∂a_l`. Must run inside the caller's tidy/gradient scope.
 */
export function forward(anatomy: ModelAnatomy, x: tf.Tensor, needs: CaptureNeeds, capture?: BatchCapture,
  probes?: tf.Tensor[]): tf.Tensor {
  const keep = capture !== undefined && anyNeed(needs);
  let h = x;
  for (const s of anatomy.before) h = applyStage(s, h);
  const last = anatomy.layers.length - 1;
  for (const p of anatomy.layers) {
    const isOutput = p.index === last;
    const absorbed = isOutput && anatomy.absorbedOutputActivation !== null;
    if (!keep && !absorbed) {
      h = p.layer.apply(h, { training: true }) as tf.Tensor;
    } else {
      const input = h;
      let a = linear(p, h);
      if (probes) a = tf.add(a, probes[p.index]);
      h = absorbed ? a : activate(p, a);
      if (keep) {
        const c = capture!.layers[p.index];
        if (needs.inputs) c.input = tf.keep(input);
        if (needs.preActivations || needs.preActivationGrads) c.preActivation = tf.keep(a);
        if (needs.activations) c.activation = tf.keep(h);
      }
    }
    p.after.forEach((s, i) => {
      if (s.kind === 'activation') {
        // A separate activation layer is folded into the layer above, except on the fast path.
        if (!keep && !absorbed) h = applyStage(s, h);
        return;
      }
      if (s.kind === 'maxpool' && keep) capture!.poolInputs.set(`${p.index}:${i}`, tf.keep(h));
      h = applyStage(s, h);
    });
  }
  return h;
}
