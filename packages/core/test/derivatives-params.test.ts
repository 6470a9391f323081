// The derivatives of layers with parameters and of layers with random or batch state
// (packages/core/src/derivatives/): the scoped layers (Dense, Conv2D, Conv1D, DepthwiseConv2D,
// SeparableConv2D, Conv2DTranspose, BatchNormalization γ/β, LayerNormalization γ/β, PReLU α,
// Embedding) in their variants, layers whose parameters are held at W_n (a non-trainable
// SeparableConv2D), and dropout. For every scoped layer l,
// J_l by the push and by the pull must equal per-output backward passes through the real tfjs
// layers (1e-5 relative) and central differences of the real network (5e-3, step 1e-3), and the
// parameter Jacobian ⟨G_l, δW⟩ likewise (helpers/derivatives-check.ts).
//
// BatchNormalization in training mode normalises by the batch's own statistics; the Taylor
// linearisation holds the round's batch statistics fixed. Its reference is therefore NOT the real
// layer: the references replace it by the affine map γ (x − μ_B)/√(σ²_B + ε) + β with μ_B, σ²_B
// computed by hand from the captured input to the layer (helpers `hold`). Dropout's reference
// multiplies by the mask the capture drew (or, with a seed, is the real layer: the same draw).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { captureForward, modelAnatomy, perSampleJacobian, selectBackend } from '@taylorlens/core';
import { checkJacobians, jacobianByBackward, nodesOf, relErr, TOL, type CheckOptions } from './helpers/derivatives-check.js';
import { chain, conv, dense, init, normal } from './helpers/derivative-nets.js';

interface Net extends CheckOptions {
  name: string;
  /** Backends on which backward passes through the real layers are a reference (default: all unless `backward: false`). */
  backwardOn?: string[];
  make(): tfl.LayersModel;
  x(): tf.Tensor;
}

const tail = (seed: number) => [tfl.layers.flatten(), dense(3, seed)];
const gammaBeta = (seed: number) => ({
  gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed }),
  betaInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 1 }),
});

const SCOPED: Net[] = [
  { name: 'Dense on a rank-3 input', make: () => chain([3, 4], [dense(5, 1, 'relu'), dense(2, 2, 'tanh'), ...tail(3)]), x: () => normal([2, 3, 4], 1) },
  { name: 'Conv2D stride 2 valid', make: () => chain([7, 7, 2], [conv(3, 1, { strides: 2, padding: 'valid', activation: 'relu' }), conv(2, 2, { activation: 'tanh' }), ...tail(3)]), x: () => normal([2, 7, 7, 2], 2) },
  // tfjs has no gradient for a dilated convolution (it cannot train one either): no backward
  // passes through the real layer; the push writes the dilation into the filter, so the pull works.
  { name: 'Conv2D dilation 2 same', make: () => chain([6, 6, 2], [conv(3, 1, { dilationRate: 2, activation: 'relu' }), conv(2, 2, { kernelSize: 2, padding: 'valid' }), ...tail(3)]), x: () => normal([2, 6, 6, 2], 3), backward: false },
  { name: 'Conv2D dilation [2,1] valid after a conv', make: () => chain([6, 5, 2], [conv(3, 1, { activation: 'tanh' }), conv(2, 2, { dilationRate: [2, 1], padding: 'valid', activation: 'relu' }), ...tail(3)]), x: () => normal([2, 6, 5, 2], 5), backward: false },
  { name: 'Conv2D kernel 2×3, strides [1,2], same, no bias', make: () => chain([5, 6, 2], [conv(3, 1, { kernelSize: [2, 3], strides: [1, 2], useBias: false, activation: 'relu' }), conv(2, 2, { useBias: false }), ...tail(3)]), x: () => normal([2, 5, 6, 2], 4) },
  { name: 'Conv1D stride 2 same (tanh)', make: () => chain([8, 3], [dense(4, 1, 'relu'), tfl.layers.conv1d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', ...init(2) }), ...tail(3)]), x: () => normal([2, 8, 3], 11) },
  { name: 'Conv1D dilation 2 valid (relu; no tfjs gradient: differences only)', make: () => chain([8, 3], [dense(4, 1, 'tanh'), tfl.layers.conv1d({ filters: 3, kernelSize: 2, dilationRate: 2, activation: 'relu', ...init(2) }), ...tail(3)]), x: () => normal([2, 8, 3], 12), backward: false },
  // tfjs-backend-wasm 4.22 has no DepthwiseConv2dNativeBackpropInput: backward passes through the real
  // depthwise layers run on cpu only (the push avoids that kernel, so the pull runs on both).
  { name: 'DepthwiseConv2D depth multiplier 2, stride 2 same (tanh)', make: () => chain([6, 6, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'tanh', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 3 }) }), ...tail(4)]), x: () => normal([2, 6, 6, 2], 13), backwardOn: ['cpu'] },
  // tfjs-layers 4.22's DepthwiseConv2D ignores dilationRate: the push must follow what it computes.
  { name: 'DepthwiseConv2D with a dilationRate (which tfjs-layers ignores)', make: () => chain([6, 6, 2], [conv(2, 1, { activation: 'tanh' }), tfl.layers.depthwiseConv2d({ kernelSize: 2, dilationRate: 2, padding: 'same', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }), ...tail(4)]), x: () => normal([2, 6, 6, 2], 23), backwardOn: ['cpu'] },
  { name: 'BatchNormalization after a Dense (batch statistics held fixed: hand-computed affine map)', make: () => chain([5], [dense(6, 1), tfl.layers.batchNormalization(gammaBeta(2)), tfl.layers.activation({ activation: 'relu' }), dense(3, 3)]), x: () => normal([4, 5], 20) },
  { name: 'BatchNormalization per channel after a conv (batch statistics held fixed)', make: () => chain([4, 4, 2], [conv(3, 1), tfl.layers.batchNormalization(gammaBeta(2)), tfl.layers.activation({ activation: 'tanh' }), ...tail(3)]), x: () => normal([3, 4, 4, 2], 21) },
  { name: 'LayerNormalization over the last axis of a rank-3 input', make: () => chain([3, 4], [dense(5, 1), tfl.layers.layerNormalization(gammaBeta(2)), dense(2, 3, 'tanh'), ...tail(4)]), x: () => normal([2, 3, 4], 17) },
  { name: 'LayerNormalization over two axes', make: () => chain([3, 4], [dense(5, 1, 'relu'), tfl.layers.layerNormalization({ axis: [-2, -1], ...gammaBeta(2) }), ...tail(4)]), x: () => normal([2, 3, 4], 18) },
  { name: 'Conv2DTranspose stride 2 same (tanh)', make: () => chain([3, 3, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', ...init(2) }), conv(2, 3, { strides: 2 }), ...tail(4)]), x: () => normal([2, 3, 3, 2], 15) },
  { name: 'Conv2DTranspose stride 2 valid (linear)', make: () => chain([3, 3, 2], [conv(3, 1, { activation: 'relu' }), tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, ...init(2) }), conv(2, 3, { strides: 2 }), ...tail(4)]), x: () => normal([2, 3, 3, 2], 16) },
  { name: 'Embedding as the first layer, then Dense on its rank-3 output', make: () => chain([5], [tfl.layers.embedding({ inputDim: 7, outputDim: 3, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1 }) }), dense(4, 2, 'relu'), ...tail(3)], 'int32'), x: () => tf.tensor2d([[0, 3, 6, 2, 2], [5, 1, 4, 0, 3]], [2, 5], 'int32') },
  // SeparableConv2D: scoped (pointwise kernel and bias; its depthwise kernel, the layer scope's second group, in derivatives-scoped-params.test.ts).
  { name: 'SeparableConv2D dilation 2 same (no tfjs gradient: differences only)', make: () => chain([6, 6, 2], [conv(2, 1, { activation: 'tanh' }), tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, dilationRate: 2, padding: 'same', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }), pointwiseInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }), ...tail(4)]), x: () => normal([2, 6, 6, 2], 24), backward: false },
  { name: 'SeparableConv2D valid (relu)', make: () => chain([6, 6, 2], [conv(3, 1, { activation: 'tanh' }), tfl.layers.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, activation: 'relu', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }), pointwiseInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 4 }) }), ...tail(5)]), x: () => normal([2, 6, 6, 2], 14), backwardOn: ['cpu'] },
];

const HELD: Net[] = [
  // A non-trainable SeparableConv2D: no scope moves its kernels (a trainable one is scoped, above).
  { name: 'SeparableConv2D not trainable (relu)', make: () => chain([6, 6, 2], [conv(3, 1, { activation: 'tanh' }), tfl.layers.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, activation: 'relu', trainable: false, depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }), pointwiseInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: 4 }) }), ...tail(5)]), x: () => normal([2, 6, 6, 2], 15), backwardOn: ['cpu'] },
  // tfjs cannot differentiate its LayerNormalization without γ and β (tf.grad throws): differences only.
  { name: 'LayerNormalization without γ, β', make: () => chain([5], [dense(6, 1), tfl.layers.layerNormalization({ center: false, scale: false }), dense(3, 2)]), x: () => normal([3, 5], 19), backward: false },
  // (BatchNormalization without γ or β cannot run in training mode in tfjs-layers 4.22: it reads the missing weight.)
];

const RANDOM: Net[] = [
  { name: 'Dropout (the mask the capture drew)', make: () => chain([5], [dense(8, 1, 'relu'), tfl.layers.dropout({ rate: 0.5 }), dense(3, 2)]), x: () => normal([3, 5], 31) },
  { name: 'SpatialDropout1D (the mask the capture drew)', make: () => chain([6, 3], [dense(4, 1, 'tanh'), tfl.layers.spatialDropout1d({ rate: 0.5 }), ...tail(2)]), x: () => normal([3, 6, 3], 32) },
  { name: 'GaussianDropout (the noise the capture drew)', make: () => chain([5], [dense(6, 1, 'relu'), tfl.layers.gaussianDropout({ rate: 0.3 }), dense(3, 2)]), x: () => normal([3, 5], 33) },
  { name: 'GaussianNoise (additive: the identity)', make: () => chain([5], [dense(6, 1, 'tanh'), tfl.layers.gaussianNoise({ stddev: 0.3 }), dense(3, 2)]), x: () => normal([3, 5], 34), base: false },
];

const GROUPS: [string, Net[]][] = [['scoped', SCOPED], ['held at W_n', HELD], ['random state', RANDOM]];

for (const backend of ['cpu', 'wasm']) {
  describe(`derivatives of layers with parameters or state on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });
    for (const [group, nets] of GROUPS) {
      for (const net of nets) {
        it(`${group}: ${net.name}`, () => {
          const model = net.make();
          const x = net.x();
          checkJacobians(model, x, { ...net, backward: net.backwardOn ? net.backwardOn.includes(backend) : net.backward });
          x.dispose();
          model.dispose();
        });
      }
    }

    it('Dropout with a seed: the real layer redraws the capture\'s mask, so the reference is the real layer itself', () => {
      const model = chain([5], [dense(8, 1, 'relu'), tfl.layers.dropout({ rate: 0.5, seed: 7 }), dense(3, 2)]);
      const anatomy = modelAnatomy(model);
      const x = normal([3, 5], 35);
      const cap = captureForward(anatomy, x);
      const mask = cap.nodeState(nodesOf(anatomy, 'Dropout')[0].id)!.sample.mask;
      const m = mask.dataSync();
      // The mask really drops (0) and scales (2) units, or this proves nothing.
      expect(Array.from(m).filter((v) => v === 0).length).toBeGreaterThan(4);
      expect(Array.from(m).filter((v) => Math.abs(v - 2) < 1e-6).length).toBeGreaterThan(4);
      const J = perSampleJacobian(anatomy, cap, 0, 'forward');
      const Jb = jacobianByBackward(anatomy, 0, cap.preActivation(0), x); // real layers, no replacement
      expect(relErr(J.dataSync(), Jb.dataSync())).toBeLessThan(TOL.backward);
      tf.dispose([J, Jb, x]);
      cap.dispose();
      model.dispose();
    });

    it('BatchNormalization: the frozen-statistics Jacobian is not the coupled one of the real training-mode layer (which is why the reference holds the statistics)', () => {
      const model = chain([5], [dense(6, 1), tfl.layers.batchNormalization(gammaBeta(2)), dense(3, 3)]);
      const anatomy = modelAnatomy(model);
      const x = normal([4, 5], 36);
      const cap = captureForward(anatomy, x);
      const J = perSampleJacobian(anatomy, cap, 0, 'forward');
      const coupled = jacobianByBackward(anatomy, 0, cap.preActivation(0), x); // through the real layer: batch statistics move
      expect(relErr(J.dataSync(), coupled.dataSync())).toBeGreaterThan(1e-2);
      tf.dispose([J, coupled, x]);
      cap.dispose();
      model.dispose();
    });
  });
}
