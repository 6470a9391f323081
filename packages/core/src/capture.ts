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
  /**
   * Every variable's gradient on `capture.grads`. The Trainer always has them (its step needs
   * them); beside a step that is not ours (instrument(), model.fit) they cost a backward pass and
   * are computed only when a plugin asks.
   */
  variableGrads?: boolean;
}

export const NO_NEEDS: Readonly<CaptureNeeds> = Object.freeze({
  inputs: false, preActivations: false, activations: false, preActivationGrads: false, variableGrads: false,
});

/** Whether any layer tensor is to be kept (the forward pass then evaluates layers unfused). */
export function anyNeed(n: CaptureNeeds): boolean {
  return n.inputs || n.preActivations || n.activations || n.preActivationGrads;
}

export interface PoolGeometry {
  size: [number, number];
  /** Padding (top/bottom, left/right) that makes every window whole, as tfjs pads; negative crops ('valid' drops the rest). */
  paddings: [[number, number], [number, number], [number, number], [number, number]];
  outHeight: number;
  outWidth: number;
}

/** Geometry of a non-overlapping max-pool stage (the only kind the clamped product handles). */
export function poolGeometry(s: Stage, inputShape: number[]): PoolGeometry {
  const cfg = s.layer.getConfig() as { poolSize: [number, number]; strides?: [number, number]; padding: 'valid' | 'same' };
  const size = cfg.poolSize;
  const strides = cfg.strides ?? size;
  if (strides[0] !== size[0] || strides[1] !== size[1]) {
    throw new Error(`layer "${s.layer.name}": the clamped product supports max-pooling with strides equal to the pool size`);
  }
  const [, H, W] = inputShape;
  const pad = (n: number, k: number): [number, number, number] => {
    if (cfg.padding === 'valid') return [0, n - Math.floor(n / k) * k === 0 ? 0 : -(n % k), Math.floor(n / k)];
    const out = Math.ceil(n / k);
    const total = Math.max(out * k - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2), out];
  };
  const [top, bottom, outHeight] = pad(H, size[0]);
  const [left, right, outWidth] = pad(W, size[1]);
  return { size, paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], outHeight, outWidth };
}

/** Pad with `value`, or crop where a padding is negative, so the cells tile the windows exactly. */
export function padOrCrop(t: tf.Tensor, g: PoolGeometry, value = 0): tf.Tensor {
  const [N, H, W, C] = t.shape;
  const [[, ], [top, bottom], [left, right]] = g.paddings;
  const cropped = bottom < 0 || right < 0
    ? tf.slice(t, [0, 0, 0, 0], [N, H + Math.min(bottom, 0), W + Math.min(right, 0), C])
    : t;
  const pads: [number, number][] = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  return pads.some(([a, b]) => a || b) ? tf.pad(cropped, pads, value) : cropped;
}

/** Repeat each window's value over its cells: [N, oh, ow, C] → [N, oh·ph, ow·pw, C]. */
export function windowsToCells(v: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const [N, oh, ow, C] = v.shape;
  const [ph, pw] = g.size;
  return tf.reshape(tf.tile(tf.reshape(v, [N, oh, 1, ow, 1, C]), [1, 1, ph, 1, pw, 1]), [N, oh * ph, ow * pw, C]);
}

/** Sum each window's cells: [N, oh·ph, ow·pw, C] → [N, oh, ow, C]. */
export function cellsToWindows(v: tf.Tensor, g: PoolGeometry): tf.Tensor {
  const [N, , , C] = v.shape;
  const [ph, pw] = g.size;
  return tf.sum(tf.reshape(v, [N, g.outHeight, ph, g.outWidth, pw, C]), [2, 4]);
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

  /**
   * Selection mask of a max-pool stage, shape of its input: 1 at the one cell per window that the
   * training gradient routes to, 0 elsewhere. Memoised. It is the gradient of the layer's own
   * pooling with respect to its input, so it comes from the backend's MaxPoolGrad kernel — the
   * very choice training makes — and a window whose maximum is tied (constant patches plus a
   * positive bias) passes a perturbation once, never once per tied cell.
   */
  poolMask(l: number, stage: number): tf.Tensor {
    const key = `p${l}:${stage}`;
    if (!this.derived.has(key)) {
      const input = this.poolInputs.get(`${l}:${stage}`);
      if (!input) throw new Error(`pool input of layer ${l} stage ${stage} was not captured (enable preActivations)`);
      const pool = this.anatomy.layers[l].after[stage].layer;
      const mask = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(pool.apply(t) as tf.Tensor))(input));
      // Kept: memoised across the caller's tidy scopes, disposed with the capture.
      this.derived.set(key, tf.keep(mask));
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

/**
 * The real network from layer `from`'s pre-activation to the output `f` (biases, activations
 * and pooling as in training). A reference for tests and brute-force checks.
 */
export function forwardFrom(anatomy: ModelAnatomy, from: number, a: tf.Tensor): tf.Tensor {
  const last = anatomy.layers.length - 1;
  let h = a;
  for (let l = from; l <= last; l++) {
    const p = anatomy.layers[l];
    if (l > from) h = linear(p, h);
    const absorbed = l === last && anatomy.absorbedOutputActivation !== null;
    if (!absorbed) h = activate(p, h);
    for (const s of p.after) if (s.kind !== 'activation') h = applyStage(s, h);
  }
  return h;
}
