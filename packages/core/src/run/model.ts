/** Building the tfjs model a config describes, with initialisers seeded from the config seed. */
import * as tfl from '@tensorflow/tfjs-layers';
import { pairOf, type LayerSpec, type ModelSpec } from './config-types.js';

/** A per-layer seed from the run seed (a 32-bit mix, so seed 1 layer 2 ≠ seed 2 layer 1). */
export function layerSeed(seed: number, layer: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (layer + 1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** Stable layer names, so a trace or checkpoint reads the same whatever tfjs's global counters say. */
export function layerName(spec: LayerSpec, i: number): string {
  return `${spec.type}_${i}`;
}

/** Glorot-uniform kernels (Keras's default) seeded per layer, zero biases. */
export function buildModel(spec: ModelSpec, seed: number): tfl.Sequential {
  const model = tfl.sequential();
  spec.layers.forEach((l, i) => {
    const common = {
      name: layerName(l, i),
      ...(i === 0 ? { inputShape: spec.input } : {}),
    };
    const init = { kernelInitializer: tfl.initializers.glorotUniform({ seed: layerSeed(seed, i) }), biasInitializer: 'zeros' as const };
    switch (l.type) {
      case 'dense':
        model.add(tfl.layers.dense({ ...common, ...init, units: l.units, activation: l.activation ?? 'linear', useBias: l.useBias ?? true }));
        break;
      case 'conv2d':
        model.add(tfl.layers.conv2d({
          ...common, ...init, filters: l.filters, kernelSize: pairOf(l.kernelSize, [1, 1]), strides: pairOf(l.strides, [1, 1]),
          padding: l.padding ?? 'valid', activation: l.activation ?? 'linear', useBias: l.useBias ?? true, dataFormat: 'channelsLast',
        }));
        break;
      case 'maxPooling2d': {
        const pool = pairOf(l.poolSize, [1, 1]);
        model.add(tfl.layers.maxPooling2d({ ...common, poolSize: pool, strides: pairOf(l.strides, pool), padding: l.padding ?? 'valid' }));
        break;
      }
      case 'flatten':
        model.add(tfl.layers.flatten(common));
        break;
    }
  });
  return model;
}

/** "dense 784→16 relu → dense 16→784" style one-liner for reports. */
export function describeModel(spec: ModelSpec): string {
  return `[${spec.input.join('×')}] → ` + spec.layers.map((l) => {
    switch (l.type) {
      case 'dense': return `dense ${l.units} ${l.activation ?? 'linear'}`;
      case 'conv2d': return `conv2d ${l.filters}×${pairOf(l.kernelSize, [1, 1]).join('×')} ${l.activation ?? 'linear'}`;
      case 'maxPooling2d': return `maxpool ${pairOf(l.poolSize, [1, 1]).join('×')}`;
      case 'flatten': return 'flatten';
    }
  }).join(' → ') + ` · loss ${spec.loss}`;
}
