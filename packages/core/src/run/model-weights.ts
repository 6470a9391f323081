/**
 * The weights a run writes (trace rounds, final `weights/`): every weight of the model, so that a
 * recomputation elsewhere has the whole state. Order: the scoped layers' kernel and bias (Θ), as
 * these files always listed them (a SeparableConv2D, scoped since, as its layer holds them:
 * `depthwise_kernel`, `pointwise_kernel`, `bias`), then every other trainable weight (an unscoped
 * layer's) and then every non-trainable one (BatchNormalization's `moving_mean`/`moving_variance`,
 * a frozen layer's), both in model order. Grouped by layer, each layer's entries come in its own
 * order (`layer.weights`, what `setWeights` takes). Only additions to the old listing: its entries
 * keep their index, name and layout.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ModelAnatomy, ParamKind } from '../anatomy.js';

export interface ModelWeight {
  layer: string;
  /** The tfjs weight name (`kernel`, `bias`, `depthwise_kernel`, `moving_mean`, …). */
  name: string;
  shape: number[];
  layout: string;
  /** False for state that training does not step (BatchNormalization's moving statistics, a frozen layer's weights). */
  trainable: boolean;
  value: tf.Tensor;
}

/** The tfjs layout of each scoped kind's first weight (its bias/β is `[out]`). */
const KERNEL_LAYOUT: Record<ParamKind, string> = {
  dense: '[in, out]',
  conv2d: '[kernel_height, kernel_width, in_channels, out_channels]',
  conv1d: '[kernel_width, in_channels, out_channels]',
  depthwiseConv2d: '[kernel_height, kernel_width, in_channels, depth_multiplier]',
  separableConv2d: '[1, 1, in_channels * depth_multiplier, out_channels] (pointwise_kernel)',
  conv2dTranspose: '[kernel_height, kernel_width, out_channels, in_channels]',
  batchNormalization: '[channels] (gamma)',
  layerNormalization: '[features] (gamma)',
  prelu: '[alpha shape: the input shape with shared axes 1]',
  embedding: '[vocabulary, output_dim]',
};

/** Layouts of the other weights, by tfjs weight name (and layer class for `kernel`). */
const OTHER_LAYOUT: Record<string, string> = {
  depthwise_kernel: '[kernel_height, kernel_width, in_channels, depth_multiplier]',
  pointwise_kernel: '[1, 1, in_channels * depth_multiplier, out_channels]',
  bias: '[out]', beta: '[channels] (beta)', gamma: '[channels] (gamma)',
  moving_mean: '[channels] (moving mean: not trained, used in inference mode)',
  moving_variance: '[channels] (moving variance: not trained, used in inference mode)',
  alpha: '[alpha shape: the input shape with shared axes 1]', embeddings: '[vocabulary, output_dim]',
  'Dense.kernel': KERNEL_LAYOUT.dense, 'Conv2D.kernel': KERNEL_LAYOUT.conv2d, 'Conv1D.kernel': KERNEL_LAYOUT.conv1d,
  'Conv2DTranspose.kernel': KERNEL_LAYOUT.conv2dTranspose,
};

export function modelWeights(anatomy: ModelAnatomy): ModelWeight[] {
  const out: ModelWeight[] = [];
  const listed = new Set<tf.Tensor>();
  const add = (w: Omit<ModelWeight, 'shape'>) => { listed.add(w.value); out.push({ ...w, shape: [...w.value.shape] }); };
  for (const p of anatomy.layers) {
    // SeparableConv2D (new to this list): its depthwise kernel first, as the layer holds its weights.
    if (p.depthwise) add({ layer: p.name, name: 'depthwise_kernel', layout: OTHER_LAYOUT.depthwise_kernel, trainable: true, value: p.depthwise });
    add({ layer: p.name, name: p.kernelName, layout: KERNEL_LAYOUT[p.kind], trainable: true, value: p.kernel });
    if (p.bias) add({ layer: p.name, name: p.biasName, layout: '[out]', trainable: true, value: p.bias });
  }
  for (const trainable of [true, false]) {
    for (const layer of anatomy.model.layers) {
      for (const w of trainable ? layer.trainableWeights : layer.nonTrainableWeights) {
        const value = w.read();
        if (listed.has(value)) continue;
        const name = w.originalName.split('/').pop()!;
        const cls = layer.getClassName();
        add({ layer: layer.name, name, layout: OTHER_LAYOUT[`${cls}.${name}`] ?? OTHER_LAYOUT[name] ?? `as tfjs-layers ${cls} holds "${name}"`, trainable, value });
      }
    }
  }
  return out;
}
