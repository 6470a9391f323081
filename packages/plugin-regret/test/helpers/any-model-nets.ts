// The whole models of issue 13's regret tests (any-model.test.ts, and its wasm checkpoint optima in
// any-model-wasm.slow.test.ts), with the plugin options both use.
import { meanSquaredError, softmaxCrossEntropy, sparseSoftmaxCrossEntropy } from '@taylorlens/core';
import { depthwiseNet, embeddingNet, idData, labelData, layerNormNet, leakyMlp, mobilenetBlock, preluConvNet, randomData, resnetBlock, sequenceNet, transposeNet } from '../../../core/test/helpers/models.js';
import { separableData, separableNet, type NetCase } from './nets.js';

export const NO_NETWORK = { enabled: false };

export const ANY_MODEL_NETS: NetCase[] = [
  {
    name: 'ResNet-style block (strided conv, BN, residual add with a 1×1/2 shortcut, GAP), cross-entropy',
    make: () => resnetBlock(3), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'ResNet-style block, linear output, squared error (running statistics)',
    make: () => resnetBlock(7, { output: 'linear' }), input: [6, 6, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'MobileNet-style block (depthwise, BN, relu6, separable conv + relu6, GAP), squared error',
    make: () => mobilenetBlock(4, { output: 'linear' }), input: [6, 6, 2], loss: meanSquaredError, classes: 3, slowOptimum: true,
  },
  {
    name: 'MLP with LeakyReLU, Dropout 0.25 and PReLU, sparse cross-entropy on class indices',
    make: () => leakyMlp(5), input: [5], loss: sparseSoftmaxCrossEntropy, classes: 3,
    data: (n, seed) => labelData(n, [5], 3, seed),
  },
  {
    name: 'Conv1D (bias and bias-free), BatchNormalization with a folded ReLU, Dense on a rank-3 input, squared error (running statistics)',
    make: () => sequenceNet(6, { output: 'linear' }), input: [8, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'Conv1D, BatchNormalization, Dense on a rank-3 input, cross-entropy (stored rounds)',
    make: () => sequenceNet(8), input: [8, 2], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'DepthwiseConv2D with bias and depth multiplier 2, and bias-free, cross-entropy (stored rounds)',
    make: () => depthwiseNet(9), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'DepthwiseConv2D with bias and depth multiplier 2, and bias-free, squared error (running statistics)',
    make: () => depthwiseNet(10, { output: 'linear' }), input: [6, 6, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'PReLU with α shared over height and width, and one α per entry, after convolutions, squared error (running statistics)',
    make: () => preluConvNet(11, { output: 'linear' }), input: [5, 5, 2], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'LayerNormalization over the features and over two axes, squared error (running statistics)',
    make: () => layerNormNet(12, { output: 'linear' }), input: [3, 4], loss: meanSquaredError, classes: 3,
  },
  {
    name: 'LayerNormalization over the features and over two axes, cross-entropy (stored rounds)',
    make: () => layerNormNet(13), input: [3, 4], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'Conv2DTranspose 3×3/2 same with bias and 2×2 valid without, squared error (running statistics)',
    make: () => transposeNet(14, { output: 'linear' }), input: [3, 3, 2], loss: meanSquaredError, classes: 3, slowOptimum: true,
  },
  {
    name: 'Conv2DTranspose 3×3/2 same with bias and 2×2 valid without, cross-entropy (stored rounds)',
    make: () => transposeNet(15), input: [3, 3, 2], loss: softmaxCrossEntropy, classes: 3,
  },
  {
    name: 'SeparableConv2D 3×3/2 same bias-free (ReLU at exact zeros) and 2×2 valid with depth multiplier 2 and bias (relu6), squared error (running statistics)',
    make: () => separableNet(18, 'linear'), input: [6, 6, 2], loss: meanSquaredError, classes: 3, data: (n, seed) => separableData(n, seed, false),
  },
  {
    name: 'SeparableConv2D 3×3/2 same bias-free (ReLU at exact zeros) and 2×2 valid with depth multiplier 2 and bias (relu6), cross-entropy (stored rounds)',
    make: () => separableNet(19), input: [6, 6, 2], loss: softmaxCrossEntropy, classes: 3, data: (n, seed) => separableData(n, seed, true),
  },
  // On wasm through core's UnsortedSegmentSum kernel (a gather's gradient; tfjs-backend-wasm 4.22 has none).
  {
    name: 'Embedding of integer ids, Dense on its rank-3 output, squared error (running statistics)',
    make: () => embeddingNet(16, { output: 'linear' }), input: [5], loss: meanSquaredError, classes: 3, data: (n, seed) => idData(n, 3, seed), slowOptimum: true,
  },
  {
    name: 'Embedding of integer ids, Dense on its rank-3 output, cross-entropy (stored rounds)',
    make: () => embeddingNet(17), input: [5], loss: softmaxCrossEntropy, classes: 3, data: (n, seed) => idData(n, 3, seed, true),
  },
];


export const TAYLOR = { network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false };
export const OPTIMUM = { ...TAYLOR, network: { every: 2 }, neurons: { perLayer: 1, subBatch: null, every: 1 }, solver: { gapTolerance: 1e-7, maxIterations: 300 } };
