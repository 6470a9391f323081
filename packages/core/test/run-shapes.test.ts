// Shape inference and FLOPs from a config alone agree with the tfjs model built from it.
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, trainingFlopsPerStep } from '../src/backend.js';
import type { ModelSpec } from '../src/run/config-types.js';
import { buildModel } from '../src/run/model.js';
import { inferShapes, trainingFlops } from '../src/run/shapes.js';

beforeAll(async () => { await selectBackend('cpu'); });

const conv: ModelSpec = {
  input: [28, 28, 1],
  loss: 'softmaxCrossEntropy',
  layers: [
    { type: 'conv2d', filters: 4, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu' },
    { type: 'maxPooling2d', poolSize: 3, strides: 2 },
    { type: 'conv2d', filters: 6, kernelSize: [3, 2], activation: 'relu' },
    { type: 'flatten' },
    { type: 'dense', units: 10 },
  ],
};
const dense: ModelSpec = {
  input: [784], loss: 'mse',
  layers: [50, 30, 20, 30, 50].map((units) => ({ type: 'dense' as const, units, activation: 'relu' as const })).concat([{ type: 'dense', units: 784, activation: 'relu' }]),
};

describe('config shapes', () => {
  it.each([['convnet', conv], ['autoencoder', dense]] as const)('%s: inferred shapes and FLOPs match the built model', (_n, spec) => {
    const model = buildModel(spec, 3);
    const problems: never[] = [];
    expect(inferShapes(spec, problems)).toEqual(model.layers.map((l) => (l.outputShape as number[]).slice(1)));
    expect(trainingFlops(spec, 64)).toBe(trainingFlopsPerStep(model, 64));
    model.dispose();
  });

  it('builds the same initial weights for the same seed and different ones for another', () => {
    const [a, b, c] = [buildModel(dense, 5), buildModel(dense, 5), buildModel(dense, 6)];
    const w = (m: typeof a) => Array.from(m.getWeights()[0].dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    [a, b, c].forEach((m) => m.dispose());
  });
});
