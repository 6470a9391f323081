// The derivatives modules of layers without parameters (packages/core/src/derivatives/): pooling,
// shape, activation and merge layers. Each sits in a tiny model between Dense/Conv2D layers; for
// every scoped layer l, J_l by the push ('forward') and by the pull ('reverse') must equal
// per-output backward passes through the real tfjs layers and central differences of the real
// network (float32 tolerances in helpers/derivatives-check.ts: 1e-5 relative against backward
// passes, 5e-3 against differences with step 1e-3). At a deliberate tie the differences are not
// defined: there the backward passes (tfjs's own tie-breaking) are the reference.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { captureForward, modelAnatomy, selectBackend } from '@taylorlens/core';
import { checkJacobians, nodesOf, type CheckOptions } from './helpers/derivatives-check.js';
import { chain, conv, dense, merged, normal, pairedAlong, tiedPairs } from './helpers/derivative-nets.js';

interface Net extends CheckOptions {
  name: string;
  make(): tfl.LayersModel;
  x(): tf.Tensor;
  /** Backends on which backward passes through the real layers are a reference (default: all unless `backward: false`). */
  backwardOn?: string[];
  /** Checks on the captured round (e.g. that a deliberate tie is really there). */
  round?(model: tfl.LayersModel, x: tf.Tensor): void;
}

/** The tie must be in the input of the layer `cls` (pairs equal along `axis`), or the test proves nothing. */
function tieIn(cls: string, axis: number, atLeast = 4) {
  return (model: tfl.LayersModel, x: tf.Tensor) => {
    const anatomy = modelAnatomy(model);
    const cap = captureForward(anatomy, x);
    const node = nodesOf(anatomy, cls)[0];
    const input = cap.nodeRounds.get(node.id)!.inputs[0];
    expect(tiedPairs(input, axis)).toBeGreaterThanOrEqual(atLeast);
    cap.dispose();
  };
}

/**
 * tfjs's own gradients of its resizes are wrong on cpu for some shapes (ResizeNearestNeighborGrad
 * with unequal factors, ResizeBilinearGrad on non-square inputs throws): backward passes through
 * the real layer are then no reference, central differences are.
 */
const realResizeGradient = { backwardOn: ['wasm'] };

/** Keras's Subtract, which tfjs-layers lacks. */
class Subtract extends tfl.layers.Layer {
  static className = 'Subtract';
  override computeOutputShape(shapes: tfl.Shape[]): tfl.Shape { return shapes[0]; }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor { const [a, b] = inputs as tf.Tensor[]; return tf.sub(a, b); }
}
tf.serialization.registerClass(Subtract);

const conv2dTail = (seed: number) => [tfl.layers.flatten(), dense(3, seed)];

const POOLING: Net[] = [
  {
    name: 'the issue\'s example: conv stride 2 → layerNorm → leakyReLU → add(1×1 conv shortcut) → maxPool 2/1 → globalAvgPool → elu → dense softmax',
    make: () => {
      const input = tfl.input({ shape: [6, 6, 2] });
      const c = conv(3, 1, { strides: 2, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
      const ln = tfl.layers.layerNormalization({ gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 2 }), betaInitializer: tfl.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 3 }) }).apply(c) as tfl.SymbolicTensor;
      const lr = tfl.layers.leakyReLU({ alpha: 0.2 }).apply(ln) as tfl.SymbolicTensor;
      const sc = conv(3, 4, { kernelSize: 1, strides: 2 }).apply(input) as tfl.SymbolicTensor;
      const s = tfl.layers.add().apply([lr, sc]) as tfl.SymbolicTensor;
      const mp = tfl.layers.maxPooling2d({ poolSize: 2, strides: 1 }).apply(s) as tfl.SymbolicTensor;
      const g = tfl.layers.globalAveragePooling2d({}).apply(mp) as tfl.SymbolicTensor;
      const e = tfl.layers.elu().apply(g) as tfl.SymbolicTensor;
      const out = dense(4, 5, 'softmax').apply(e) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    },
    x: () => normal([3, 6, 6, 2], 11),
    absorbs: 'softmax',
  },
  // MaxPooling2D: non-overlapping (mask) and overlapping (per-offset selections), valid and same.
  { name: 'MaxPooling2D 2×2 valid on 7×7 (last row and column dropped)', make: () => chain([7, 7, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2 }), ...conv2dTail(2)]), x: () => normal([2, 7, 7, 2], 1) },
  { name: 'MaxPooling2D 2×2 same on 5×5 (padded)', make: () => chain([5, 5, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2, padding: 'same' }), ...conv2dTail(2)]), x: () => normal([2, 5, 5, 2], 2) },
  { name: 'MaxPooling2D 3×3 stride 2 same (overlapping)', make: () => chain([6, 6, 2], [conv(3, 1, { activation: 'tanh' }), tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), ...conv2dTail(2)]), x: () => normal([2, 6, 6, 2], 3) },
  { name: 'MaxPooling2D 2×2 stride 1 valid (overlapping)', make: () => chain([5, 5, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.maxPooling2d({ poolSize: 2, strides: 1 }), ...conv2dTail(2)]), x: () => normal([2, 5, 5, 2], 4) },
  { name: 'MaxPooling2D [2,3] strides [1,2] same (overlapping, rectangular)', make: () => chain([5, 6, 2], [conv(3, 1), tfl.layers.maxPooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'same' }), ...conv2dTail(2)]), x: () => normal([2, 5, 6, 2], 5) },
  {
    name: 'MaxPooling2D 2×2 with a deliberate tie in every window (1×1 conv of paired columns)',
    make: () => chain([4, 6, 2], [conv(3, 1, { kernelSize: 1 }), tfl.layers.maxPooling2d({ poolSize: 2 }), ...conv2dTail(2)]),
    x: () => pairedAlong([2, 4, 6, 2], 2, 6), differences: false, round: tieIn('MaxPooling2D', 2, 20),
  },
  {
    name: 'MaxPooling2D 2×2 stride 1 same with deliberate ties (overlapping)',
    make: () => chain([4, 6, 2], [conv(3, 1, { kernelSize: 1 }), tfl.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }), ...conv2dTail(2)]),
    x: () => pairedAlong([2, 4, 6, 2], 2, 7), differences: false, round: tieIn('MaxPooling2D', 2, 20),
  },
  // MaxPooling1D on a Dense of a rank-3 input.
  { name: 'MaxPooling1D 2 valid on 7 steps', make: () => chain([7, 3], [dense(4, 1, 'relu'), tfl.layers.maxPooling1d({ poolSize: 2 }), tfl.layers.flatten(), dense(3, 2)]), x: () => normal([2, 7, 3], 22) },
  { name: 'MaxPooling1D 2 same on 7 steps', make: () => chain([7, 3], [dense(4, 1, 'tanh'), tfl.layers.maxPooling1d({ poolSize: 2, padding: 'same' }), tfl.layers.flatten(), dense(3, 2)]), x: () => normal([2, 7, 3], 9) },
  { name: 'MaxPooling1D 3 stride 1 same (overlapping)', make: () => chain([6, 3], [dense(4, 1, 'relu'), tfl.layers.maxPooling1d({ poolSize: 3, strides: 1, padding: 'same' }), tfl.layers.flatten(), dense(3, 2)]), x: () => normal([2, 6, 3], 10) },
  {
    name: 'MaxPooling1D 2 with a deliberate tie in every window',
    make: () => chain([6, 3], [dense(4, 1), tfl.layers.maxPooling1d({ poolSize: 2 }), tfl.layers.flatten(), dense(3, 2)]),
    x: () => pairedAlong([2, 6, 3], 1, 11), differences: false, round: tieIn('MaxPooling1D', 1, 10),
  },
  {
    name: 'MaxPooling1D 3 stride 2 valid with deliberate ties (overlapping)',
    make: () => chain([7, 3], [dense(4, 1), tfl.layers.maxPooling1d({ poolSize: 3, strides: 2 }), tfl.layers.flatten(), dense(3, 2)]),
    x: () => pairedAlong([2, 7, 3], 1, 12), differences: false, round: tieIn('MaxPooling1D', 1, 10),
  },
  // Average and global pooling.
  // tfjs's AvgPoolGrad with 'same' padding divides by the whole window where its forward divides by
  // the cells inside the input: backward passes through the real layer are not its derivative, so
  // central differences are the reference (and push = pull checks the module's own reverse mode).
  { name: 'AveragePooling2D 2×2 stride 1 same', make: () => chain([5, 5, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }), ...conv2dTail(2)]), x: () => normal([2, 5, 5, 2], 13), backward: false },
  { name: 'AveragePooling2D 3×3 stride 2 same', make: () => chain([5, 4, 2], [conv(3, 1, { activation: 'tanh' }), tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), ...conv2dTail(2)]), x: () => normal([2, 5, 4, 2], 23), backward: false },
  { name: 'AveragePooling2D 2×2 stride 1 same, channelsFirst', make: () => chain([5], [dense(18, 1, 'relu'), tfl.layers.reshape({ targetShape: [2, 3, 3] }), tfl.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same', dataFormat: 'channelsFirst' }), ...conv2dTail(2)]), x: () => normal([2, 5], 25), backward: false },
  { name: 'AveragePooling2D 2×2 valid', make: () => chain([5, 5, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.averagePooling2d({ poolSize: 2 }), ...conv2dTail(2)]), x: () => normal([2, 5, 5, 2], 14) },
  { name: 'AveragePooling1D 3 stride 2 same', make: () => chain([7, 3], [dense(4, 1, 'relu'), tfl.layers.averagePooling1d({ poolSize: 3, strides: 2, padding: 'same' }), tfl.layers.flatten(), dense(3, 2)]), x: () => normal([2, 7, 3], 15), backward: false },
  { name: 'AveragePooling1D 2 valid', make: () => chain([7, 3], [dense(4, 1, 'relu'), tfl.layers.averagePooling1d({ poolSize: 2 }), tfl.layers.flatten(), dense(3, 2)]), x: () => normal([2, 7, 3], 24) },
  { name: 'GlobalAveragePooling2D', make: () => chain([4, 4, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.globalAveragePooling2d({}), dense(3, 2)]), x: () => normal([2, 4, 4, 2], 16) },
  { name: 'GlobalAveragePooling1D', make: () => chain([5, 3], [dense(4, 1, 'relu'), tfl.layers.globalAveragePooling1d(), dense(3, 2)]), x: () => normal([2, 5, 3], 17) },
  { name: 'GlobalMaxPooling2D', make: () => chain([4, 4, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.globalMaxPooling2d({}), dense(3, 2)]), x: () => normal([2, 4, 4, 2], 18) },
  { name: 'GlobalMaxPooling1D', make: () => chain([5, 3], [dense(4, 1, 'relu'), tfl.layers.globalMaxPooling1d(), dense(3, 2)]), x: () => normal([2, 5, 3], 19) },
  {
    name: 'GlobalMaxPooling1D with a deliberate tie (every step paired)',
    make: () => chain([4, 3], [dense(4, 1), tfl.layers.globalMaxPooling1d(), dense(3, 2)]),
    x: () => pairedAlong([2, 4, 3], 1, 20), differences: false, round: tieIn('GlobalMaxPooling1D', 1, 6),
  },
  {
    name: 'GlobalMaxPooling2D with a deliberate tie (paired columns)',
    make: () => chain([2, 4, 2], [conv(3, 1, { kernelSize: 1 }), tfl.layers.globalMaxPooling2d({}), dense(3, 2)]),
    x: () => pairedAlong([2, 2, 4, 2], 2, 21), differences: false, round: tieIn('GlobalMaxPooling2D', 2, 6),
  },
];

const SHAPE: Net[] = [
  { name: 'ZeroPadding2D (asymmetric)', make: () => chain([4, 4, 2], [conv(2, 1, { activation: 'relu' }), tfl.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }), conv(2, 2, { activation: 'tanh' }), ...conv2dTail(3)]), x: () => normal([2, 4, 4, 2], 31) },
  { name: 'Cropping2D', make: () => chain([5, 5, 2], [conv(2, 1, { activation: 'relu' }), tfl.layers.cropping2D({ cropping: [[1, 0], [0, 2]] }), conv(2, 2), ...conv2dTail(3)]), x: () => normal([2, 5, 5, 2], 32) },
  { name: 'UpSampling2D nearest 2×3', make: () => chain([3, 3, 2], [conv(2, 1, { activation: 'relu' }), tfl.layers.upSampling2d({ size: [2, 3] }), conv(2, 2, { strides: 2 }), ...conv2dTail(3)]), x: () => normal([2, 3, 3, 2], 33), ...realResizeGradient },
  { name: 'UpSampling2D bilinear 2×2', make: () => chain([3, 3, 2], [conv(2, 1, { activation: 'tanh' }), tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }), conv(2, 2, { strides: 2 }), ...conv2dTail(3)]), x: () => normal([2, 3, 3, 2], 34) },
  { name: 'UpSampling2D bilinear 3×2 on a non-square input', make: () => chain([2, 3, 2], [conv(2, 1, { activation: 'tanh' }), tfl.layers.upSampling2d({ size: [3, 2], interpolation: 'bilinear' }), conv(2, 2, { strides: 2 }), ...conv2dTail(3)]), x: () => normal([2, 2, 3, 2], 39), ...realResizeGradient },
  { name: 'UpSampling2D nearest 2×2, channelsFirst', make: () => chain([5], [dense(12, 1, 'tanh'), tfl.layers.reshape({ targetShape: [2, 2, 3] }), tfl.layers.upSampling2d({ size: [2, 2], dataFormat: 'channelsFirst' }), ...conv2dTail(2)]), x: () => normal([2, 5], 30), ...realResizeGradient },
  { name: 'Flatten between conv and dense', make: () => chain([3, 3, 2], [conv(2, 1, { activation: 'relu' }), tfl.layers.flatten(), dense(4, 2, 'relu'), dense(3, 3)]), x: () => normal([2, 3, 3, 2], 35) },
  { name: 'Reshape dense → conv', make: () => chain([5], [dense(12, 1, 'relu'), tfl.layers.reshape({ targetShape: [2, 3, 2] }), conv(2, 2, { activation: 'tanh' }), ...conv2dTail(3)]), x: () => normal([2, 5], 36) },
  { name: 'Permute', make: () => chain([3, 4, 2], [conv(2, 1, { activation: 'relu' }), tfl.layers.permute({ dims: [2, 3, 1] }), conv(2, 2, { kernelSize: 2 }), ...conv2dTail(3)]), x: () => normal([2, 3, 4, 2], 37) },
  { name: 'RepeatVector', make: () => chain([4], [dense(3, 1, 'tanh'), tfl.layers.repeatVector({ n: 2 }), dense(2, 2, 'relu'), tfl.layers.flatten(), dense(3, 3)]), x: () => normal([2, 4], 38) },
];

/** Every activation name tfjs-layers 4.22 accepts in `Activation` (its registered activation classes). */
const ACTIVATION_NAMES = ['relu', 'relu6', 'elu', 'selu', 'tanh', 'sigmoid', 'hardSigmoid', 'softplus', 'softsign', 'swish', 'mish', 'gelu', 'gelu_new', 'linear', 'softmax', 'logSoftmax'];

/** Scaled inputs reach the flat pieces of relu6 (a ≥ 6) and hardSigmoid (|a| ≥ 2.5). */
const scaleFor = (name: string) => (name === 'relu6' ? 6 : name === 'hardSigmoid' ? 3 : 1);

const ACTIVATIONS: Net[] = ACTIVATION_NAMES.flatMap((name, i) => [
  // Right after a linear Dense: folded into it (its derivative is the clamp factor)…
  { name: `Activation('${name}') after a linear Dense`, make: () => chain([5], [dense(6, 1), tfl.layers.activation({ activation: name as 'relu' }), dense(3, 2)]), x: () => normal([3, 5], 40 + i, scaleFor(name)) },
  // …and not right after one: pushed through its derivatives module.
  { name: `Activation('${name}') as a layer of its own`, make: () => chain([5], [dense(6, 1), tfl.layers.reshape({ targetShape: [6] }), tfl.layers.activation({ activation: name as 'relu' }), dense(3, 2)]), x: () => normal([3, 5], 60 + i, scaleFor(name)) },
]);

const ACTIVATION_LAYERS: Net[] = [
  { name: 'ReLU', make: () => chain([5], [dense(6, 1), tfl.layers.reLU(), dense(3, 2)]), x: () => normal([3, 5], 81) },
  { name: 'ReLU with maxValue', make: () => chain([5], [dense(6, 1), tfl.layers.reLU({ maxValue: 0.5 }), dense(3, 2)]), x: () => normal([3, 5], 82, 2) },
  { name: 'LeakyReLU', make: () => chain([5], [dense(6, 1), tfl.layers.leakyReLU({ alpha: 0.2 }), dense(3, 2)]), x: () => normal([3, 5], 83) },
  // tfjs-layers 4.22 refuses ELU with alpha ≠ 1.
  { name: 'ELU', make: () => chain([5], [dense(6, 1), tfl.layers.elu(), dense(3, 2)]), x: () => normal([3, 5], 84) },
  // tfjs 4.22 computes softmax only over the last axis (its Softmax layer's default axis 1 is the last of a rank-2 input).
  { name: 'Softmax (last axis)', make: () => chain([5], [dense(6, 1), tfl.layers.softmax(), dense(3, 2)]), x: () => normal([3, 5], 85) },
  // tfjs cannot differentiate ThresholdedReLU (no gradient for Greater): central differences only.
  { name: 'ThresholdedReLU', make: () => chain([5], [dense(6, 1), tfl.layers.thresholdedReLU({ theta: 0.3 }), dense(3, 2)]), x: () => normal([3, 5], 87), backward: false },
  { name: 'PReLU (α per unit, held at W_n)', make: () => chain([5], [dense(6, 1), tfl.layers.prelu({ alphaInitializer: tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.6, seed: 9 }) }), dense(3, 2)]), x: () => normal([3, 5], 88) },
  { name: 'PReLU with shared axes on a conv', make: () => chain([4, 4, 2], [conv(3, 1), tfl.layers.prelu({ sharedAxes: [1, 2], alphaInitializer: tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.6, seed: 9 }) }), ...conv2dTail(2)]), x: () => normal([2, 4, 4, 2], 89) },
];

/** Two Dense branches of the input with the same weights: their outputs tie everywhere. */
function twins(units: number, seed: number, activation = 'linear'): tfl.layers.Layer[][] {
  return [[dense(units, seed, activation)], [dense(units, seed, activation)]];
}

const MERGES: Net[] = [
  { name: 'Add', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(4, 2, 'tanh')]], tfl.layers.add(), [dense(3, 3)]), x: () => normal([3, 5], 101) },
  { name: 'Average', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(4, 2, 'tanh')], [dense(4, 3)]], tfl.layers.average(), [dense(3, 4)]), x: () => normal([3, 5], 102) },
  // tfjs-layers 4.22 has no Subtract layer: a custom one under that class name gets the registered module.
  { name: 'Subtract (a custom layer of that class name)', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(4, 2, 'tanh')]], new Subtract({}), [dense(3, 3)]), x: () => normal([3, 5], 103) },
  { name: 'Multiply (three inputs)', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(4, 2, 'tanh')], [dense(4, 3)]], tfl.layers.multiply(), [dense(3, 4)]), x: () => normal([3, 5], 104) },
  { name: 'Concatenate (last axis)', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(3, 2, 'tanh')]], tfl.layers.concatenate(), [dense(3, 3)]), x: () => normal([3, 5], 105) },
  { name: 'Concatenate (axis 1 of rank 3)', make: () => merged([3, 2], [[dense(4, 1, 'relu')], [tfl.layers.flatten(), dense(8, 2, 'tanh'), tfl.layers.reshape({ targetShape: [2, 4] })]], tfl.layers.concatenate({ axis: 1 }), [tfl.layers.flatten(), dense(3, 3)]), x: () => normal([3, 3, 2], 106) },
  { name: 'Maximum', make: () => merged([5], [[dense(4, 1, 'relu')], [dense(4, 2, 'tanh')]], tfl.layers.maximum(), [dense(3, 3)]), x: () => normal([3, 5], 107) },
  { name: 'Minimum', make: () => merged([5], [[dense(4, 1)], [dense(4, 2, 'tanh')], [dense(4, 3)]], tfl.layers.minimum(), [dense(3, 4)]), x: () => normal([3, 5], 108) },
  { name: 'Maximum with a tie everywhere (twin branches)', make: () => merged([5], twins(4, 1), tfl.layers.maximum(), [dense(3, 3)]), x: () => normal([3, 5], 109), differences: false },
  { name: 'Minimum with a tie everywhere (twin branches)', make: () => merged([5], twins(4, 1, 'tanh'), tfl.layers.minimum(), [dense(3, 3)]), x: () => normal([3, 5], 110), differences: false },
];

describe('a hidden softmax', () => {
  beforeAll(async () => { await selectBackend('cpu'); });
  it('a Dense whose own softmax the loss does not absorb is refused, with the way out (its slope would be that of Σ softmax: 0)', () => {
    for (const act of ['softmax', 'logSoftmax']) {
      const anatomy = modelAnatomy(chain([5], [dense(6, 1, act), dense(3, 2)]));
      expect(anatomy.problems).toHaveLength(1);
      expect(anatomy.problems[0]).toMatch(new RegExp(`activation ${act.toLowerCase()} couples its units.*Activation\\("${act}"\\)`));
    }
    // As the output the loss absorbs, it is the paper's classifier: no problem.
    expect(modelAnatomy(chain([5], [dense(6, 1, 'relu'), dense(3, 2, 'softmax')]), { lossAbsorbs: 'softmax' }).problems).toEqual([]);
    // A separate Activation('softmax') after a linear Dense is not folded into it: its module pushes it.
    const anatomy = modelAnatomy(chain([5], [dense(6, 1), tfl.layers.activation({ activation: 'softmax' }), dense(3, 2)]));
    expect(anatomy.problems).toEqual([]);
    expect(nodesOf(anatomy, 'Activation')[0].role).toBe('derivatives');
    expect(anatomy.layers[0].activation).toBe('linear');
  });
});

const GROUPS: [string, Net[]][] = [['pooling', POOLING], ['shape', SHAPE], ['Activation', ACTIVATIONS], ['activation layers', ACTIVATION_LAYERS], ['merges', MERGES]];

for (const backend of ['cpu', 'wasm']) {
  describe(`derivatives of layers without parameters on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });
    for (const [group, nets] of GROUPS) {
      for (const net of nets) {
        it(`${group}: ${net.name}`, () => {
          const model = net.make();
          const x = net.x();
          net.round?.(model, x);
          checkJacobians(model, x, { ...net, backward: net.backwardOn ? net.backwardOn.includes(backend) : net.backward });
          x.dispose();
          model.dispose();
        });
      }
    }
  });
}
