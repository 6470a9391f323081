import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel, layers } from '@tensorflow/tfjs-layers';

type Layer = layers.Layer;

/** A layer between parameterised layers that the anatomy understands. */
export type StageKind = 'maxpool' | 'flatten' | 'reshape' | 'activation' | 'dropout' | 'input';

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

/** One parameterised layer (dense or conv2d) with everything the Taylor machinery needs. */
export interface ParamLayer {
  /** Position among parameterised layers, 0-based (the math's `l − 1`). */
  index: number;
  name: string;
  kind: 'dense' | 'conv2d';
  layer: Layer;
  /** Per-sample input shape (without batch). */
  inputShape: number[];
  /** Per-sample pre-activation shape (without batch). */
  outputShape: number[];
  /** Number of units `p_l`: the size of the pre-activation per sample. */
  units: number;
  /** Output channels (dense: units). A "neuron" of a conv layer is one output channel's filter. */
  channels: number;
  /** Incoming weights per neuron (dense: inputs; conv: kh·kw·c_in). */
  kernelFanIn: number;
  /** Parameters per neuron: `kernelFanIn`, plus one when the layer has a bias (`useBias: false` has none). */
  fanIn: number;
  /** Elementwise activation applied to the pre-activation: the layer's own, or an Activation layer right after it. */
  activation: string;
  /** Whether the activation is the layer's own (`Dense({activation})`) or a separate layer. */
  activationIsSeparate: boolean;
  /** Stages after the activation and before the next parameterised layer (pooling, flatten, …). */
  after: Stage[];
  conv?: ConvGeometry;
  kernel: tf.Variable;
  bias?: tf.Variable;
}

export interface ModelAnatomy {
  readonly model: LayersModel;
  /** Stages before the first parameterised layer (flatten of the input, …). */
  readonly before: readonly Stage[];
  readonly layers: readonly ParamLayer[];
  /** Per-sample input shape. */
  readonly inputShape: readonly number[];
  /** Size of the network output `p_L` as the loss sees it. */
  readonly outputSize: number;
  /** Activation on the last layer that the loss absorbs (softmax for cross-entropy on logits), if any. */
  readonly absorbedOutputActivation: string | null;
  /** Trainable variables in a fixed order, keyed by tfjs variable name. */
  readonly variables: readonly tf.Variable[];
  /** Human-readable one-line-per-layer description. */
  describe(): string;
}

const STAGE_KINDS: Record<string, StageKind> = {
  MaxPooling2D: 'maxpool', Flatten: 'flatten', Reshape: 'reshape', Activation: 'activation', ReLU: 'activation',
  Dropout: 'dropout', InputLayer: 'input',
};

export class UnsupportedLayerError extends Error {
  constructor(layer: string, className: string) {
    super(`layer "${layer}" (${className}) is not supported: taylorlens understands Dense, Conv2D, MaxPooling2D, Flatten, Reshape, Activation, ReLU and Dropout in a chain`);
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

function pair(v: number | number[] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v[1] ?? v[0]];
}

/** The layers of a Sequential model or of a functional model that is a single chain. */
function chainOf(model: LayersModel): Layer[] {
  const layers = model.layers;
  for (let i = 1; i < layers.length; i++) {
    const inbound = layers[i].inboundNodes;
    if (inbound.length !== 1) {
      throw new Error(`model is not a chain: layer "${layers[i].name}" is called ${inbound.length} times`);
    }
    const from = inbound[0].inboundLayers;
    if (from.length !== 1 || from[0] !== layers[i - 1]) {
      throw new Error(`model is not a chain: layer "${layers[i].name}" does not take the previous layer's output`);
    }
  }
  return layers;
}

/**
 * Build the read-only anatomy of a chain model. `lossAbsorbs` names an output activation the loss
 * applies itself (softmax for cross-entropy on logits), so that the network output `f` is the
 * last pre-activation, as in taylor-math.md.
 */
export function modelAnatomy(model: LayersModel, opts: { lossAbsorbs?: string | null } = {}): ModelAnatomy {
  const chain = chainOf(model);
  const before: Stage[] = [];
  const params: ParamLayer[] = [];
  for (const layer of chain) {
    const cls = layer.getClassName();
    const current = params[params.length - 1];
    if (cls === 'Dense' || cls === 'Conv2D') {
      const weights = layer.trainableWeights;
      const kernel = weights.find((w) => w.originalName.endsWith('kernel'));
      const bias = weights.find((w) => w.originalName.endsWith('bias'));
      if (!kernel) throw new Error(`layer "${layer.name}" has no trainable kernel`);
      const inputShape = ((layer.input as { shape: number[] }).shape).slice(1);
      const outputShape = (layer.outputShape as number[]).slice(1);
      const cfg = layer.getConfig() as Record<string, unknown>;
      const kind = cls === 'Dense' ? 'dense' : 'conv2d';
      if (kind === 'conv2d' && cfg.dataFormat === 'channelsFirst') {
        throw new Error(`layer "${layer.name}": channelsFirst convolutions are not supported; use channelsLast`);
      }
      const conv: ConvGeometry | undefined = kind === 'conv2d'
        ? {
          kernelSize: pair(cfg.kernelSize as number | number[], 1),
          strides: pair(cfg.strides as number | number[], 1),
          padding: cfg.padding as 'valid' | 'same',
          dilation: pair(cfg.dilationRate as number | number[], 1),
        }
        : undefined;
      const channels = outputShape[outputShape.length - 1];
      const inChannels = inputShape[inputShape.length - 1];
      const kernelFanIn = conv ? conv.kernelSize[0] * conv.kernelSize[1] * inChannels : inChannels;
      params.push({
        index: params.length,
        name: layer.name,
        kind,
        layer,
        inputShape,
        outputShape,
        units: outputShape.reduce((a, b) => a * b, 1),
        channels,
        kernelFanIn,
        fanIn: kernelFanIn + (bias ? 1 : 0),
        activation: activationName(layer),
        activationIsSeparate: false,
        after: [],
        conv,
        kernel: kernel.read() as tf.Variable,
        bias: bias?.read() as tf.Variable | undefined,
      });
      continue;
    }
    const kind = STAGE_KINDS[cls];
    if (!kind) throw new UnsupportedLayerError(layer.name, cls);
    if (kind === 'input') continue;
    const stage: Stage = { kind, layer, activation: kind === 'activation' ? activationName(layer) : undefined };
    if (!current) { before.push(stage); continue; }
    // A separate Activation layer right after a linear layer is that layer's activation.
    if (kind === 'activation' && current.after.length === 0 && current.activation === 'linear' && !current.activationIsSeparate) {
      current.activation = stage.activation!;
      current.activationIsSeparate = true;
      current.after.push(stage);
      continue;
    }
    if (kind === 'activation') {
      throw new Error(`layer "${layer.name}": an activation that is not directly after a Dense/Conv2D layer is not supported`);
    }
    current.after.push(stage);
  }
  if (params.length === 0) throw new Error('model has no Dense or Conv2D layer');
  const last = params[params.length - 1];
  const absorbed = opts.lossAbsorbs && last.activation === opts.lossAbsorbs ? opts.lossAbsorbs : null;
  if (last.after.some((s) => s.kind === 'maxpool')) {
    throw new Error(`layer "${last.name}": pooling after the last parameterised layer is not supported`);
  }
  const variables = params.flatMap((p) => (p.bias ? [p.kernel, p.bias] : [p.kernel]));
  const describe = () => params.map((p) => {
    const geo = p.conv ? ` ${p.conv.kernelSize.join('×')}/${p.conv.strides.join('×')} ${p.conv.padding}` : '';
    const tail = p.after.filter((s) => s.kind !== 'activation').map((s) => s.kind).join(' → ');
    return `${p.index + 1}. ${p.name}: ${p.kind}${geo} [${p.inputShape}] → [${p.outputShape}] ${p.activation}${tail ? ` → ${tail}` : ''} (fan-in ${p.kernelFanIn}${p.bias ? ' + bias' : ', no bias'})`;
  }).join('\n');
  return Object.freeze({
    model,
    before,
    layers: params,
    inputShape: (model.inputs[0].shape as number[]).slice(1),
    outputSize: last.units,
    absorbedOutputActivation: absorbed,
    variables,
    describe,
  });
}
