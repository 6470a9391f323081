import * as tf from '@tensorflow/tfjs-core';
import type { GraphNode, ModelAnatomy, ParamLayer } from './anatomy.js';
import { activationDerivative } from './activations.js';
import type { ForwardKeepingState } from './derivatives/dropout.js';
import type { NodeRound, NodeState } from './derivatives/types.js';
import { denseMap, paramMap, scopeInput } from './derivatives/params.js';

/** What plugins ask the trainer to keep from each round's forward and backward pass. */
export interface CaptureNeeds {
  /** Each parameterised layer's input `x_{l−1}` (BatchNormalization: the input normalised by the batch's statistics, x̂). */
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

export { type PoolGeometry, poolGeometry, padOrCrop, windowsToCells, cellsToWindows } from './derivatives/pooling.js';

export interface LayerCapture {
  input?: tf.Tensor;
  preActivation?: tf.Tensor;
  activation?: tf.Tensor;
  preActivationGrad?: tf.Tensor;
}

/** Apply the layer's own elementwise activation to a pre-activation. */
export function activate(p: ParamLayer, a: tf.Tensor): tf.Tensor {
  if (p.activationIsSeparate) return p.activationLayer!.apply(a) as tf.Tensor;
  const fn = (p.layer as unknown as { activation?: { apply(t: tf.Tensor): tf.Tensor } }).activation;
  return fn ? fn.apply(a) : a;
}

export { denseMap };

/**
 * The layer's pre-activation `W·x + b` (bias optional), from its own variables. BatchNormalization,
 * LayerNormalization, PReLU and Embedding are the real layer in training mode (BatchNormalization's
 * batch statistics and moving averages as in training; PReLU's offset relu(x)).
 */
export function linear(p: ParamLayer, x: tf.Tensor, withBias = true): tf.Tensor {
  let a: tf.Tensor;
  if (p.kind === 'dense') {
    a = denseMap(x, p.kernel);
  } else if (p.kind === 'conv2d') {
    const c = p.conv!;
    a = tf.conv2d(x as tf.Tensor4D, p.kernel as tf.Tensor4D, c.strides, c.padding, 'NHWC', c.dilation);
  } else if ((p.kind === 'batchNormalization' && withBias) || p.kind === 'prelu' || p.kind === 'layerNormalization' || p.kind === 'embedding') {
    return p.layer.apply(x, { training: true }) as tf.Tensor;
  } else {
    return paramMap(p, scopeInput(p, x), p.kernel, withBias ? p.bias ?? null : null);
  }
  return withBias && p.bias ? tf.add(a, p.bias) : a;
}

/**
 * One round's captures, from the pass that trains. Tensors here belong to the trainer and are
 * disposed after the round: a plugin that needs one later must `tf.keep(t.clone())` it.
 * Derived quantities (activation derivatives, every layer's frozen state) are computed on first
 * use and shared by every plugin.
 */
export class BatchCapture {
  readonly layers: LayerCapture[];
  /** What each graph node's derivatives module freezes from, by node id (kept when clamping is needed). */
  readonly nodeRounds = new Map<number, NodeRound>();
  /** The network output `f` as the loss sees it (logits when the loss absorbs softmax). */
  output!: tf.Tensor;
  loss!: tf.Scalar;
  /** Per-variable gradients of the minibatch loss, keyed by variable name. */
  grads: Record<string, tf.Tensor> = {};
  private readonly derived = new Map<string, tf.Tensor | null>();
  private readonly states = new Map<number, NodeState | null>();

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
      const isOutput = p.node === this.anatomy.outputNode;
      const name = isOutput && this.anatomy.absorbedOutputActivation ? 'linear' : p.activation;
      let d: tf.Tensor | null = null;
      tf.tidy(() => { d = activationDerivative(name, a, (t) => activate(p, t)); if (d) tf.keep(d); });
      this.derived.set(key, d);
    }
    return this.derived.get(key)!;
  }

  /**
   * What graph node `id`'s push holds fixed this round (its module's `freeze`), memoised; null
   * for a layer with nothing to freeze. Needs the clamp captures (`preActivations`).
   */
  nodeState(id: number): NodeState | null {
    if (!this.states.has(id)) {
      const node = this.anatomy.graph[id];
      const freeze = node.derivatives?.freeze;
      let state: NodeState | null = null;
      if (freeze) {
        const round = this.nodeRounds.get(id);
        if (!round) throw new Error(`layer "${node.layer.name}" was not captured: require({ preActivations: true })`);
        tf.tidy(() => {
          const st = freeze(node.layer, round);
          for (const t of [...Object.values(st.sample), ...Object.values(st.shared ?? {})]) tf.keep(t);
          state = st;
        });
      }
      this.states.set(id, state);
    }
    return this.states.get(id)!;
  }

  /**
   * Selection mask of a chain model's non-overlapping max-pool stage, shape of its input: 1 at the
   * one cell per window that the training gradient routes to, 0 elsewhere. It is the gradient of
   * the layer's own pooling with respect to its input, so it comes from the backend's MaxPoolGrad
   * kernel — the very choice training makes — and a window whose maximum is tied (constant
   * patches plus a positive bias) passes a perturbation once, never once per tied cell.
   */
  poolMask(l: number, stage: number): tf.Tensor {
    const node = this.anatomy.graph.find((n) => n.stage?.layer === l && n.stage.index === stage);
    const mask = node ? this.nodeState(node.id)?.sample.mask : undefined;
    if (!mask) throw new Error(`stage ${stage} after layer ${l} is not a non-overlapping max-pool`);
    return mask;
  }

  preActivation(l: number): tf.Tensor {
    const a = this.layers[l].preActivation;
    if (!a) throw new Error(`pre-activation of layer ${l} was not captured: require({ preActivations: true })`);
    return a;
  }

  dispose(): void {
    const all = new Set<tf.Tensor>();
    for (const c of this.layers) for (const t of Object.values(c)) if (t) all.add(t);
    for (const r of this.nodeRounds.values()) for (const t of [...r.inputs, r.output, ...Object.values(r.weights)]) all.add(t);
    for (const st of this.states.values()) if (st) for (const t of [...Object.values(st.sample), ...Object.values(st.shared ?? {})]) all.add(t);
    for (const t of this.derived.values()) if (t) all.add(t);
    for (const t of Object.values(this.grads)) all.add(t);
    if (this.output) all.add(this.output);
    if (this.loss) all.add(this.loss);
    all.delete(this.x);
    all.delete(this.y);
    for (const t of all) t.dispose();
    this.derived.clear();
    this.states.clear();
    this.nodeRounds.clear();
  }
}

/** A layer's weights at this moment, copied, keyed by the last part of their names (`kernel`, `gamma`, …). */
function weightsNow(node: GraphNode): Record<string, tf.Tensor> {
  return Object.fromEntries(node.layer.weights.map((w) => [w.originalName.split('/').pop()!, tf.keep((w.read() as tf.Tensor).clone())]));
}

/**
 * The instrumented forward pass over the model's graph. Without needs every layer is applied as
 * it is (fused kernels, nothing kept). With needs, each Dense/Conv2D layer is evaluated as its
 * linear map and activation so the pre-activation exists, the requested tensors are kept on
 * `capture`, and every other layer's inputs, output and weights are kept for its derivatives
 * module (dropout draws its mask where the push can see it). `probes[l]`, when given, is added to
 * `a_l` so that the gradient with respect to it is `∂ℓ/∂a_l`. Must run inside the caller's
 * tidy/gradient scope.
 */
export function forward(anatomy: ModelAnatomy, x: tf.Tensor, needs: CaptureNeeds, capture?: BatchCapture,
  probes?: tf.Tensor[]): tf.Tensor {
  const keep = capture !== undefined && anyNeed(needs);
  const clamp = keep && (needs.preActivations || needs.preActivationGrads);
  const absorbedBy = anatomy.absorbedOutputActivation !== null;
  const values = new Map<number, tf.Tensor>([[-1, x]]);
  for (const node of anatomy.graph) {
    const ins = node.inputs.map((i) => values.get(i)!);
    const input = ins.length === 1 ? ins[0] : ins;
    let h: tf.Tensor;
    if (node.role === 'param') {
      const p = anatomy.layers[node.param!];
      const absorbed = absorbedBy && (p.node === anatomy.outputNode);
      if (!keep && !absorbed) {
        h = p.layer.apply(input, { training: true }) as tf.Tensor;
      } else {
        let a = linear(p, ins[0]);
        if (probes) a = tf.add(a, probes[p.index]);
        h = absorbed ? a : activate(p, a);
        if (keep) {
          const c = capture!.layers[p.index];
          if (needs.inputs) c.input = tf.keep(scopeInput(p, ins[0])); // BatchNormalization: x̂ (what its γ, β multiply)
          if (needs.preActivations || needs.preActivationGrads) c.preActivation = tf.keep(a);
          if (needs.activations) c.activation = tf.keep(h);
        }
        if (clamp && node.derivatives?.freeze) {
          capture!.nodeRounds.set(node.id, { inputs: ins.map((t) => tf.keep(t)), output: tf.keep(a), weights: weightsNow(node) });
        }
      }
    } else if (node.role === 'folded') {
      // A separate activation is folded into the layer above, except on the fast path.
      const p = anatomy.layers[node.param!];
      const absorbed = absorbedBy && p.node === anatomy.outputNode;
      h = !keep && !absorbed ? node.layer.apply(input, { training: true }) as tf.Tensor : ins[0];
    } else if (node.role === 'absorbed') {
      h = ins[0];
    } else if (clamp && node.derivatives && 'applyKeepingState' in node.derivatives) {
      const { output, state } = (node.derivatives as unknown as ForwardKeepingState).applyKeepingState(node.layer, ins);
      for (const t of [...Object.values(state.sample), ...Object.values(state.shared ?? {})]) tf.keep(t);
      capture!.nodeRounds.set(node.id, { inputs: [], output: tf.keep(output), weights: {} });
      (capture as unknown as { states: Map<number, NodeState> }).states.set(node.id, state);
      h = output;
    } else {
      h = node.layer.apply(input, { training: true }) as tf.Tensor;
      if (clamp && node.derivatives?.freeze) {
        capture!.nodeRounds.set(node.id, { inputs: ins.map((t) => tf.keep(t)), output: tf.keep(h), weights: weightsNow(node) });
      }
    }
    values.set(node.id, h);
  }
  return values.get(anatomy.outputNode)!;
}

/**
 * The real network from layer `from`'s pre-activation `a` to the output `f` (biases, activations,
 * pooling and every other layer as in training, with the round's dropout masks not reproduced).
 * In a graph where other branches reach the output without passing layer `from`, their values
 * come from the input `x`. A reference for tests and brute-force checks.
 */
export function forwardFrom(anatomy: ModelAnatomy, from: number, a: tf.Tensor, x?: tf.Tensor): tf.Tensor {
  const start = anatomy.layers[from].node;
  const values = new Map<number, tf.Tensor>();
  if (x) values.set(-1, x);
  for (const node of anatomy.graph) {
    if (node.id < start && !x) continue;
    const ins = node.inputs.map((i) => values.get(i)!);
    const input = ins.length === 1 ? ins[0] : ins;
    let h: tf.Tensor;
    const p = node.param !== undefined ? anatomy.layers[node.param] : null;
    const absorbed = p !== null && anatomy.absorbedOutputActivation !== null && p.node === anatomy.outputNode;
    if (node.role === 'param') {
      const pre = node.id === start ? a : linear(p!, ins[0]);
      h = absorbed ? pre : activate(p!, pre);
    } else if (node.role === 'folded' || node.role === 'absorbed') {
      h = ins[0];
    } else {
      h = node.layer.apply(input, { training: true }) as tf.Tensor;
    }
    values.set(node.id, h);
  }
  return values.get(anatomy.outputNode)!;
}
