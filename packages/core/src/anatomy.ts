import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, layers } from '@tensorflow/tfjs-layers';
import { derivativesFor } from './derivatives/registry.js';
import type { LayerDerivatives } from './derivatives/types.js';
import { scopedBatchNormalization, scopedPRelu, scopedSeparableConv2D } from './derivatives/params.js';
import { layerNormalization } from './derivatives/normalization.js';

type Layer = layers.Layer;

/** A layer between parameterised layers of a chain model ('other': any layer with a derivatives module). */
export type StageKind = 'maxpool' | 'flatten' | 'reshape' | 'activation' | 'dropout' | 'input' | 'other';

export interface Stage {
  kind: StageKind;
  layer: Layer;
  /** For an activation stage: its name (relu, linear, …). */
  activation?: string;
}

export interface ConvGeometry {
  kernelSize: [number, number];
  strides: [number, number];
  padding: 'valid' | 'same';
  dilation: [number, number];
}

/** Kinds of layer whose parameters the Taylor scopes move (derivatives/params.ts has their structure). */
export type ParamKind = 'dense' | 'conv2d' | 'conv1d' | 'depthwiseConv2d' | 'separableConv2d' | 'conv2dTranspose' | 'batchNormalization' | 'layerNormalization' | 'prelu' | 'embedding';

/**
 * One parameterised layer (a scoped kind) with everything the Taylor machinery needs. Its
 * parameters are Θ `[fanIn, channels]`: the kernel (BatchNormalization: γ) reshaped to
 * `[kernelFanIn, channels]`, then the bias row (β) where the layer has one.
 */
export interface ParamLayer {
  /** Position among parameterised layers, 0-based (the math's `l − 1`). */
  index: number;
  name: string;
  kind: ParamKind;
  /**
   * Whether each channel sees its own patches (DepthwiseConv2D: its input channel's window;
   * BatchNormalization, LayerNormalization: its normalised input; PReLU: its negative part)
   * rather than patches shared by every channel.
   */
  perChannel: boolean;
  /** The tfjs names of the kernel and bias weights (`kernel`/`bias`, `depthwise_kernel`, `pointwise_kernel`, `gamma`/`beta`, `alpha`, `embeddings`). */
  kernelName: string;
  biasName: string;
  /** BatchNormalization's and LayerNormalization's ε. */
  epsilon?: number;
  layer: Layer;
  /** Per-sample input shape (without batch). */
  inputShape: number[];
  /** Per-sample pre-activation shape (without batch). */
  outputShape: number[];
  /** Number of units `p_l`: the size of the pre-activation per sample. */
  units: number;
  /**
   * Output channels (dense: units). A "neuron" of a conv layer is one output channel's filter
   * (BatchNormalization: its γ and β; LayerNormalization: one entry's γ and β, its channels the
   * entries of γ, the trailing normalised axes; PReLU: one α, its channels the entries of α, the
   * trailing axes of its output).
   */
  channels: number;
  /** Incoming weights per neuron (dense: inputs; conv, transposed conv: kh·kw·c_in; conv1d: k·c_in; depthwise: kh·kw; separable: c_in·M, the pointwise rows; BN, LN, PReLU: 1; Embedding: the vocabulary). */
  kernelFanIn: number;
  /** Parameters per neuron: `kernelFanIn`, plus one when the layer has a bias (`useBias: false` has none). */
  fanIn: number;
  /** Elementwise activation applied to the pre-activation: the layer's own, or an Activation layer right after it. */
  activation: string;
  /** Whether the activation is the layer's own (`Dense({activation})`) or a separate layer. */
  activationIsSeparate: boolean;
  /** The separate activation layer folded into this one, when `activationIsSeparate`. */
  activationLayer?: Layer;
  /** Stages after the activation and before the next parameterised layer (pooling, flatten, …); chain models only. */
  after: Stage[];
  /** This layer's node in `anatomy.graph`. */
  node: number;
  conv?: ConvGeometry;
  kernel: tf.Variable;
  bias?: tf.Variable;
  /**
   * SeparableConv2D's depthwise kernel `[kh, kw, c_in, M]`: a second parameter group. Θ is the
   * pointwise kernel and bias, with shared patches the depthwise output at `W_n` (`conv`: the
   * depthwise geometry); the layer scope moves this group too (after vec(Θ), first-order: the
   * bilinear cross term drops out), neuron scopes hold it at `W_n` (derivatives/params.ts).
   */
  depthwise?: tf.Variable;
}

/**
 * One layer call of the model's graph, in topological order. `role`: a layer of a scoped kind whose
 * parameters scopes move (`param`, its ParamLayer is `anatomy.layers[param]`); a separate
 * activation folded into the layer before it (`folded`); the output activation the loss absorbs
 * (`absorbed`: its value is its input's); any other layer, pushed through its derivatives module
 * (`derivatives`), or one the Taylor machinery cannot handle (`unsupported`, with the reason).
 */
export interface GraphNode {
  id: number;
  layer: Layer;
  className: string;
  /** Ids of the nodes feeding this one, in call order; −1 is the model's input. */
  inputs: number[];
  /** Per-sample shapes of the inputs and of the output. */
  inputShapes: number[][];
  outputShape: number[];
  role: 'param' | 'folded' | 'absorbed' | 'derivatives' | 'unsupported';
  param?: number;
  derivatives?: LayerDerivatives;
  /** How the derivatives were found: a registered module, or the autodiff fallback (exact, slower). */
  via?: 'registered' | 'autodiff';
  problem?: string;
  /** Chain models: this node as stage `index` after parameterised layer `layer` (−1: before the first). */
  stage?: { layer: number; index: number };
}

export interface ModelAnatomy {
  readonly model: LayersModel;
  /** Every layer call in topological order (input layers excluded). */
  readonly graph: readonly GraphNode[];
  /** The node whose output is the network output `f` (before an absorbed activation). */
  readonly outputNode: number;
  /** Whether the model is a chain (each layer takes the previous one's output). */
  readonly isChain: boolean;
  /** What the Taylor machinery cannot handle, one line per layer (empty when everything can be linearised). */
  readonly problems: readonly string[];
  /** Per-sample shape of the network output `f`. */
  readonly outputShape: readonly number[];
  /** Stages before the first parameterised layer (flatten of the input, …); chain models only. */
  readonly before: readonly Stage[];
  readonly layers: readonly ParamLayer[];
  /** Per-sample input shape. */
  readonly inputShape: readonly number[];
  /** Size of the network output `p_L` as the loss sees it. */
  readonly outputSize: number;
  /** Activation on the last layer that the loss absorbs (softmax for cross-entropy on logits), if any. */
  readonly absorbedOutputActivation: string | null;
  /**
   * Trainable variables in a fixed order: each scoped layer's kernel and bias (BatchNormalization:
   * γ and β; SeparableConv2D: pointwise kernel, bias, then its depthwise kernel), then every other trainable weight of the model (PReLU α, …) in the model's order.
   */
  readonly variables: readonly tf.Variable[];
  /** Trainable variables of layers that no scope moves (held at `W_n` by the Taylor machinery). */
  readonly otherVariables: readonly tf.Variable[];
  /** Human-readable one-line-per-layer description. */
  describe(): string;
}


const STAGE_KINDS: Record<string, StageKind> = {
  MaxPooling2D: 'maxpool', Flatten: 'flatten', Reshape: 'reshape', Activation: 'activation', ReLU: 'activation',
  Dropout: 'dropout',
};

/** Activations that are not elementwise: their derivative is a Jacobian over the last axis. */
const COUPLED_ACTIVATIONS = new Set(['softmax', 'logsoftmax']);

/** Layer classes whose parameters the Taylor scopes move, and their kinds. */
const SCOPED: Record<string, ParamKind> = {
  Dense: 'dense', Conv2D: 'conv2d', Conv1D: 'conv1d', DepthwiseConv2D: 'depthwiseConv2d', SeparableConv2D: 'separableConv2d', Conv2DTranspose: 'conv2dTranspose', BatchNormalization: 'batchNormalization',
  LayerNormalization: 'layerNormalization', PReLU: 'prelu', Embedding: 'embedding',
};

export class UnsupportedLayerError extends Error {
  constructor(layer: string, className: string, reason: string, who = 'the Taylor machinery') {
    super(`layer "${layer}" (${className}) is not supported by ${who}: ${reason}`);
  }
}

function activationName(layer: Layer): string {
  const a = (layer as unknown as { activation?: { getClassName(): string } }).activation;
  if (a) return a.getClassName().toLowerCase();
  const cls = layer.getClassName();
  if (cls === 'ReLU') return 'relu';
  const cfg = layer.getConfig() as { activation?: string };
  return (cfg.activation ?? 'linear').toLowerCase();
}

/** A separate activation layer that is exactly an elementwise activation by name (foldable into the layer before). */
function isPlainActivation(layer: Layer): boolean {
  const cls = layer.getClassName();
  if (cls === 'Activation') return true;
  if (cls !== 'ReLU') return false;
  const cfg = layer.getConfig() as { maxValue?: number | null; negativeSlope?: number; threshold?: number };
  return (cfg.maxValue === undefined || cfg.maxValue === null) && !cfg.negativeSlope && !cfg.threshold;
}

function pair(v: number | number[] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];
}

const perSample = (shape: unknown): number[] => (shape as number[]).slice(1);

/** A Conv1D's geometry as a one-row Conv2D's (its input is handled as `[B, 1, W, C]`). */
function rowGeometry(cfg: Record<string, unknown>): ConvGeometry {
  const one = (v: unknown) => (Array.isArray(v) ? v[0] : v) as number;
  return { kernelSize: [1, one(cfg.kernelSize)], strides: [1, one(cfg.strides) ?? 1], padding: cfg.padding as 'valid' | 'same', dilation: [1, one(cfg.dilationRate) ?? 1] };
}

const NAMES: Record<ParamKind, [string, string]> = {
  dense: ['kernel', 'bias'], conv2d: ['kernel', 'bias'], conv1d: ['kernel', 'bias'],
  depthwiseConv2d: ['depthwise_kernel', 'bias'], separableConv2d: ['pointwise_kernel', 'bias'], conv2dTranspose: ['kernel', 'bias'], batchNormalization: ['gamma', 'beta'], layerNormalization: ['gamma', 'beta'], prelu: ['alpha', 'bias'], embedding: ['embeddings', 'bias'],
};

/**
 * The ParamLayer of a scoped class; a string: why it cannot be linearised; null: its parameters
 * are not scoped after all (a non-trainable layer, BatchNormalization without γ or not over the
 * last axis, LayerNormalization without γ or over non-trailing axes, PReLU sharing α over a trailing
 * axis, a dilated Conv2DTranspose, a SeparableConv2D with a non-trainable kernel), and its derivatives module holds them at `W_n`.
 */
function paramLayer(layer: Layer, index: number, node: number): ParamLayer | string | null {
  const cls = layer.getClassName();
  const kind = SCOPED[cls];
  const [kernelName, biasName] = NAMES[kind];
  const weights = layer.trainableWeights;
  const named = (n: string) => weights.find((w) => w.originalName.split('/').pop() === n);
  const kernel = kind === 'dense' || kind === 'conv2d' ? weights.find((w) => w.originalName.endsWith('kernel')) : named(kernelName);
  const bias = kind === 'dense' || kind === 'conv2d' ? weights.find((w) => w.originalName.endsWith('bias')) : named(biasName);
  const inputShape = perSample((layer.input as { shape: number[] }).shape);
  const outputShape = perSample(layer.outputShape);
  const cfg = layer.getConfig() as Record<string, unknown>;
  if (kind === 'batchNormalization') {
    const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
    const last = axis.length === 1 && (axis[0] === -1 || axis[0] === inputShape.length);
    if (!kernel || !last) return null;
  } else if (kind === 'layerNormalization') {
    // γ's axes (the normalised ones) must be the trailing axes: then its entries are the channels.
    const rank = inputShape.length + 1;
    const axes = (Array.isArray(cfg.axis) ? cfg.axis as number[] : [cfg.axis as number ?? -1]).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    const trailing = axes.every((a, i) => a === rank - axes.length + i);
    if (!kernel || !trailing) return null;
  } else if (kind === 'prelu') {
    // α's shared axes must lead (α = [1, …, 1, d_k, …, d_last]), so that its entries are the
    // trailing "channels" of the row-major output, repeated over the leading positions.
    const a = (kernel?.shape ?? []) as number[];
    const k = a.findIndex((d) => d !== 1);
    const leading = a.length === inputShape.length && a.every((d, i) => (i < k || k < 0 ? d === 1 : d === inputShape[i]));
    if (!kernel || !leading) return null;
  } else if (kind === 'separableConv2d') {
    if (!kernel || !named('depthwise_kernel')) return null;
  } else if (!kernel) {
    return kind === 'dense' || kind === 'conv2d' ? 'it has no trainable kernel (trainable: false?)' : null;
  }
  if (kind !== 'dense' && cfg.dataFormat === 'channelsFirst') return 'channelsFirst convolutions are not supported; use channelsLast';
  if (kind === 'conv1d' && cfg.padding === 'causal') return 'causal padding is not supported; use "same" or "valid"';
  let conv: ConvGeometry | undefined;
  if (kind === 'conv2dTranspose' && pair(cfg.dilationRate as number | number[], 1).some((d) => d !== 1)) return null;
  if (kind === 'conv2d' || kind === 'depthwiseConv2d' || kind === 'separableConv2d' || kind === 'conv2dTranspose') {
    conv = {
      kernelSize: pair(cfg.kernelSize as number | number[], 1),
      strides: pair(cfg.strides as number | number[], 1),
      padding: cfg.padding as 'valid' | 'same',
      // tfjs-layers 4.22's DepthwiseConv2D ignores its dilationRate: follow what it computes.
      dilation: kind === 'conv2d' || kind === 'separableConv2d' ? pair(cfg.dilationRate as number | number[], 1) : [1, 1],
    };
  } else if (kind === 'conv1d') {
    conv = rowGeometry(cfg);
  }
  const channels = kind === 'prelu' || kind === 'layerNormalization' ? (kernel!.shape as number[]).reduce((s, d) => s * d, 1) : outputShape[outputShape.length - 1];
  const inChannels = inputShape[inputShape.length - 1];
  // Embedding: one-hot patches over the vocabulary (its rows), a neuron one embedding dimension.
  const kernelFanIn = kind === 'embedding' ? (kernel!.shape[0] as number) : kind === 'batchNormalization' || kind === 'layerNormalization' || kind === 'prelu' ? 1
    : kind === 'depthwiseConv2d' ? conv!.kernelSize[0] * conv!.kernelSize[1]
      : kind === 'separableConv2d' ? (kernel!.shape[2] as number) // c_in·M: the depthwise output's channels
      : conv ? conv.kernelSize[0] * conv.kernelSize[1] * inChannels : inChannels;
  return {
    index, name: layer.name, kind, layer, inputShape, outputShape,
    perChannel: kind === 'depthwiseConv2d' || kind === 'batchNormalization' || kind === 'layerNormalization' || kind === 'prelu', kernelName, biasName,
    epsilon: kind === 'batchNormalization' || kind === 'layerNormalization' ? cfg.epsilon as number : undefined,
    units: outputShape.reduce((a, b) => a * b, 1), channels, kernelFanIn, fanIn: kernelFanIn + (bias ? 1 : 0),
    activation: activationName(layer), activationIsSeparate: false, after: [], node, conv,
    kernel: kernel.read() as tf.Variable, bias: bias?.read() as tf.Variable | undefined,
    depthwise: kind === 'separableConv2d' ? named('depthwise_kernel')!.read() as tf.Variable : undefined,
  };
}

/** The layer calls of the model as nodes in topological order, with their inbound node ids. */
function layerCalls(model: LayersModel): { nodes: GraphNode[]; output: number } {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(`model has ${model.inputs.length} inputs and ${model.outputs.length} outputs: taylorlens trains models with one input and one output (the Trainer's data carries one x and one y)`);
  }
  const ids = new Map<Layer, number>();
  const nodes: GraphNode[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') { ids.set(layer, -1); continue; }
    if (layer.inboundNodes.length !== 1) {
      throw new Error(`layer "${layer.name}" (${cls}) is called ${layer.inboundNodes.length} times: shared layers are not supported; give each call its own layer`);
    }
    const from = layer.inboundNodes[0].inboundLayers.map((l) => {
      const id = l.getClassName() === 'InputLayer' ? -1 : ids.get(l);
      if (id === undefined) throw new Error(`layer "${layer.name}" takes the output of "${l.name}", which is not a layer of this model`);
      return id;
    });
    const inputShapes = layer.inboundNodes[0].inputShapes as unknown as number[][] | number[];
    const shapes = (Array.isArray(inputShapes[0]) ? inputShapes : [inputShapes]) as number[][];
    const id = nodes.length;
    ids.set(layer, id);
    nodes.push({ id, layer, className: cls, inputs: from, inputShapes: shapes.map(perSample), outputShape: perSample(layer.outputShape), role: 'derivatives' });
  }
  const outLayer = model.outputs[0].sourceLayer as Layer;
  const output = ids.get(outLayer);
  if (output === undefined || output < 0) throw new Error('the model output is its input: there is nothing to train');
  return { nodes, output };
}

/**
 * Build the read-only anatomy of any single-input, single-output model: its graph of layer calls
 * with each layer's derivatives (Dense and Conv2D as scoped parameterised layers, the rest through
 * the registry), and, for chain models, the parameterised layers' stages as the paper's chain.
 * `lossAbsorbs` names an output activation the loss applies itself (softmax for cross-entropy on
 * logits), so that the network output `f` is the value before it, as in taylor-math.md. Never
 * throws for a layer it cannot linearise: that is listed in `problems` for plugins to refuse.
 */
export function modelAnatomy(model: LayersModel, opts: { lossAbsorbs?: string | null } = {}): ModelAnatomy {
  const { nodes, output } = layerCalls(model);
  const consumers = new Map<number, number[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.id]);
  const params: ParamLayer[] = [];
  const problems: string[] = [];
  for (const n of nodes) {
    if (n.role === 'folded') continue;
    const p = SCOPED[n.className] ? paramLayer(n.layer, params.length, n.id) : null;
    if (p !== null) {
      if (typeof p === 'string') { n.role = 'unsupported'; n.problem = p; problems.push(`layer "${n.layer.name}" (${n.className}): ${p}`); continue; }
      n.role = 'param';
      n.param = p.index;
      // The round state a scoped layer's push holds fixed besides its kernel (batch statistics, PReLU's pieces, LayerNormalization's x̂).
      if (p.kind === 'batchNormalization') { n.derivatives = scopedBatchNormalization; n.via = 'registered'; }
      if (p.kind === 'prelu') { n.derivatives = scopedPRelu; n.via = 'registered'; }
      if (p.kind === 'layerNormalization') { n.derivatives = layerNormalization; n.via = 'registered'; }
      if (p.kind === 'separableConv2d') { n.derivatives = scopedSeparableConv2D; n.via = 'registered'; }
      params.push(p);
      // A separate plain activation right after a linear layer, and fed only by it, is that layer's activation.
      const next = consumers.get(n.id) ?? [];
      const follower = next.length === 1 ? nodes[next[0]] : null;
      // Softmax and logSoftmax couple the units, so no elementwise derivative stands for them: such
      // a layer is folded only where the loss absorbs it (the model output); elsewhere it stays a
      // node of its own, pushed through its derivatives module.
      const coupledHere = follower !== null && COUPLED_ACTIVATIONS.has(activationName(follower.layer))
        && !(follower.id === output && opts.lossAbsorbs === activationName(follower.layer));
      if (p.activation === 'linear' && follower && follower.inputs.length === 1 && isPlainActivation(follower.layer) && !coupledHere) {
        p.activation = activationName(follower.layer);
        p.activationIsSeparate = true;
        p.activationLayer = follower.layer;
        follower.role = 'folded';
        follower.param = p.index;
      }
      continue;
    }
    const r = derivativesFor(n.layer);
    if (r.module) { n.derivatives = r.module; n.via = r.via; continue; }
    n.role = 'unsupported';
    n.problem = r.problem;
    problems.push(`layer "${n.layer.name}" (${n.className}): ${r.problem}`);
  }
  // The output: a parameterised layer's activation the loss absorbs, or an Activation layer it absorbs.
  let outputNode = output;
  let absorbed: string | null = null;
  const out = nodes[output];
  if (opts.lossAbsorbs) {
    const ownerParam = out.role === 'param' || out.role === 'folded' ? params[out.param!] : null;
    if (ownerParam && ownerParam.activation === opts.lossAbsorbs) {
      absorbed = opts.lossAbsorbs;
      outputNode = ownerParam.node; // f is the layer's pre-activation, before its (folded) activation
    }
    else if (out.role === 'derivatives' && out.className === 'Activation' && activationName(out.layer) === opts.lossAbsorbs) {
      absorbed = opts.lossAbsorbs;
      out.role = 'absorbed';
      outputNode = out.inputs[0];
      if (outputNode < 0) throw new Error('the model is only an activation of its input');
    }
  }
  // A Dense/Conv2D's own softmax (or logSoftmax) that the loss does not absorb has a Jacobian, not
  // a slope: the clamp factors (`derivative(l)`, elementwise) cannot hold it, and used to hold the
  // slope of Σ softmax, which is 0. Refused with the way out.
  for (const p of params) {
    if (COUPLED_ACTIVATIONS.has(p.activation) && !(absorbed !== null && p.node === outputNode)) {
      problems.push(`layer "${p.name}" (${p.layer.getClassName()}): its activation ${p.activation} couples its units and the loss does not absorb it: ` +
        `give the layer a linear activation followed by an Activation("${p.activation === 'logsoftmax' ? 'logSoftmax' : 'softmax'}") layer (or use a loss that absorbs it)`);
    }
  }
  const isChain = nodes.every((n, i) => n.inputs.length === 1 && n.inputs[0] === i - 1) && output === nodes.length - 1;
  const before: Stage[] = [];
  if (isChain) {
    for (const n of nodes) {
      if (n.role === 'param') continue;
      const owner = params.filter((p) => p.node < n.id).pop();
      const stage: Stage = { kind: STAGE_KINDS[n.className] ?? 'other', layer: n.layer, activation: n.className === 'Activation' || n.className === 'ReLU' ? activationName(n.layer) : undefined };
      const list = owner ? owner.after : before;
      n.stage = { layer: owner ? owner.index : -1, index: list.length };
      list.push(stage);
    }
  }
  const scoped = new Set<tf.Variable>(params.flatMap((p) => [p.kernel, ...(p.bias ? [p.bias] : []), ...(p.depthwise ? [p.depthwise] : [])]));
  const otherVariables = model.trainableWeights.map((w) => w.read() as tf.Variable).filter((v) => !scoped.has(v));
  const variables = [...scoped, ...otherVariables];
  const outputShape = nodes[outputNode].outputShape;
  const describe = () => nodes.map((n) => {
    const ins = n.inputs.map((i) => (i < 0 ? 'input' : nodes[i].layer.name)).join(', ');
    const p = n.param !== undefined ? params[n.param] : null;
    let what: string;
    if (n.role === 'param' && p) {
      const geo = p.conv ? ` ${p.conv.kernelSize.join('×')}/${p.conv.strides.join('×')} ${p.conv.padding}` : '';
      const own = p.kind === 'batchNormalization' ? ' (batch statistics frozen)' : p.perChannel ? ' (per-channel patches)'
        : p.depthwise ? ' (pointwise Θ on the depthwise output; layer scope: + depthwise kernel)' : '';
      what = `${p.kind}${geo}${own} ${p.activation} (scoped layer ${p.index + 1}, fan-in ${p.kernelFanIn}${p.bias ? ` + ${p.biasName}` : ', no bias'})`;
    } else if (n.role === 'folded') what = `activation of "${p!.name}"`;
    else if (n.role === 'absorbed') what = `${absorbed} absorbed by the loss`;
    else if (n.role === 'unsupported') what = `UNSUPPORTED: ${n.problem}`;
    else what = `${n.derivatives!.kind}${n.via === 'autodiff' ? ' (autodiff fallback: exact, slower)' : ''}`;
    return `${n.id + 1}. ${n.layer.name} (${n.className}) ← ${ins}: [${n.inputShapes.map((s) => s.join('×')).join(' | ')}] → [${n.outputShape.join('×')}] ${what}`;
  }).join('\n');
  return Object.freeze({
    model,
    graph: nodes,
    outputNode,
    isChain,
    problems,
    outputShape,
    before,
    layers: params,
    inputShape: perSample(model.inputs[0].shape),
    outputSize: outputShape.reduce((a, b) => a * b, 1),
    absorbedOutputActivation: absorbed,
    variables,
    otherVariables,
    describe,
  });
}

/**
 * Refuse, before round 1, a model the Taylor machinery cannot linearise: the error names every
 * such layer, its class and what would make it work.
 */
export function assertLinearisable(anatomy: ModelAnatomy, who: string): void {
  if (anatomy.problems.length > 0) {
    throw new Error(`${who} cannot instrument this model:\n  ${anatomy.problems.join('\n  ')}`);
  }
  if (anatomy.layers.length === 0) {
    throw new Error(`${who} needs at least one layer whose parameters its scopes move (Dense, Conv2D, Conv1D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, BatchNormalization, LayerNormalization, PReLU, Embedding); the model has none`);
  }
}
