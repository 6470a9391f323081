// The parameter structure of the scoped layers beyond Dense/Conv2D (core's derivatives/params.ts):
// Conv1D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, BatchNormalization γ/β, LayerNormalization γ/β, PReLU α
// and Embedding. For each
// scoped layer l of a tiny net:
//   - the patches reproduce the parameter map: patches · Θ[:, c] = a[..., c] for a random Θ
//     (shared patches `[B, pos, fanIn]`, per-channel ones `[B, pos, fanIn, C]`), 1e-5 relative;
//   - the parameter Jacobian ⟨G_l, δθ⟩ (the clamped push of `paramMap(x̃, δK, δb)`) against the
//     REAL network with the layer's variables moved (assign θ ± ε·δθ, `model.apply` in training
//     mode): central differences per sample (step 1e-3, 5e-3 relative, float32), and per-output
//     backward passes in the layer's own variables summed over the batch (1e-5 relative).
//     SeparableConv2D moves its depthwise kernel too (its layer scope's second group): the
//     pre-activation change adds `separableDepthwiseMap(x, δD, P_n)`, the first-order term.
// BatchNormalization's own γ/β do not move its input, so its training-mode batch statistics are
// those the linearisation holds: the real layer is an exact reference for them. The nets put no
// BatchNormalization after a checked layer (moving that layer would move the statistics).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { captureForward, clampedForward, modelAnatomy, paramMap, paramPatches, paramPositions, rowsKernel, selectBackend, separableDepthwiseMap, type ParamLayer } from '@taylorlens/core';
import { relErr, TOL } from './helpers/derivatives-check.js';
import { chain, conv, dense, init } from './helpers/derivative-nets.js';

const normal = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const gammaBeta = (seed: number) => ({
  gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed }),
  betaInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 1 }),
});
const prelu = (seed: number, extra: Record<string, unknown> = {}) =>
  tfl.layers.prelu({ alphaInitializer: tfl.initializers.randomUniform({ minval: 0.1, maxval: 0.4, seed }), ...extra });
const depthwise = (seed: number, extra: Record<string, unknown>) => tfl.layers.depthwiseConv2d({
  kernelSize: 3, depthwiseInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 1 }), ...extra,
} as Parameters<typeof tfl.layers.depthwiseConv2d>[0]);

const separableInit = (seed: number) => ({
  depthwiseInitializer: tfl.initializers.glorotUniform({ seed }), pointwiseInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
  biasInitializer: tfl.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 2 }),
});

interface Net {
  name: string;
  make(): tfl.LayersModel;
  x(): tf.Tensor;
  /** Scoped kinds that must be among the checked layers (so no check is vacuous). */
  kinds: ParamLayer['kind'][];
  /** Only these scoped layers (those with no BatchNormalization after them). */
  layers?: number[];
  /** Backends where tfjs can differentiate the real layers (default all). */
  backwardOn?: string[];
}

const NETS: Net[] = [
  {
    name: 'Conv1D stride 2 same (relu, bias), then Conv1D valid without bias (tanh)',
    make: () => chain([8, 3], [tfl.layers.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...init(1) }),
      tfl.layers.conv1d({ filters: 3, kernelSize: 2, useBias: false, activation: 'tanh', ...init(2) }), tfl.layers.flatten(), dense(3, 3)]),
    x: () => normal([3, 8, 3], 1), kinds: ['conv1d'],
  },
  {
    name: 'DepthwiseConv2D multiplier 2, stride 2 same, bias (relu), then 3×3 valid without bias (tanh)',
    make: () => chain([6, 6, 2], [conv(2, 1, { activation: 'tanh' }), depthwise(2, { depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
      depthwise(4, { kernelSize: 2, useBias: false, activation: 'tanh' }), tfl.layers.flatten(), dense(3, 5)]),
    // tfjs-backend-wasm 4.22 lacks the depthwise backprop kernels of the real layer: backward passes on cpu.
    x: () => normal([3, 6, 6, 2], 2), kinds: ['depthwiseConv2d'], backwardOn: ['cpu'],
  },
  {
    name: 'BatchNormalization after a Dense, with a folded ReLU',
    make: () => chain([5], [dense(6, 1), tfl.layers.batchNormalization(gammaBeta(2)), tfl.layers.activation({ activation: 'relu' }), dense(3, 3)]),
    x: () => normal([4, 5], 3), kinds: ['batchNormalization'], layers: [1, 2],
  },
  {
    name: 'BatchNormalization per channel after a conv (tanh), then Dense on the rank-4 output',
    make: () => chain([4, 4, 2], [conv(3, 1), tfl.layers.batchNormalization(gammaBeta(2)), tfl.layers.activation({ activation: 'tanh' }), dense(2, 3, 'relu'), tfl.layers.flatten(), dense(3, 4)]),
    x: () => normal([3, 4, 4, 2], 4), kinds: ['batchNormalization'], layers: [1, 2, 3],
  },
  {
    name: 'PReLU with one α per unit after a Dense, and PReLU shared over height and width after a conv',
    make: () => chain([4, 4, 2], [conv(3, 1), prelu(2, { sharedAxes: [1, 2] }), tfl.layers.flatten(), dense(5, 3), prelu(4), dense(3, 5)]),
    x: () => normal([3, 4, 4, 2], 5), kinds: ['prelu'],
  },
  {
    name: 'Embedding (integer ids), then Dense on its rank-3 output',
    make: () => chain([5], [tfl.layers.embedding({ inputDim: 7, outputDim: 3, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1 }) }), dense(4, 2, 'tanh'), tfl.layers.flatten(), dense(3, 3)], 'int32'),
    x: () => tf.tensor2d([[0, 3, 6, 2, 2], [5, 1, 4, 0, 3], [6, 6, 1, 0, 2]], [3, 5], 'int32'), kinds: ['embedding'],
  },
  {
    name: 'Conv2DTranspose stride 2 same with bias (tanh), then 2×2 valid without bias (tanh)',
    make: () => chain([3, 3, 2], [conv(3, 1, { activation: 'tanh' }), tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', ...init(2) }),
      tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, useBias: false, activation: 'tanh', ...init(3) }), tfl.layers.flatten(), dense(3, 4)]),
    x: () => normal([3, 3, 3, 2], 8), kinds: ['conv2dTranspose'],
  },
  {
    name: 'LayerNormalization over the last axis of a rank-3 input (γ, β per feature), then over the last two axes (per entry)',
    make: () => chain([3, 4], [dense(5, 1), tfl.layers.layerNormalization(gammaBeta(2)), tfl.layers.activation({ activation: 'relu' }), dense(4, 3, 'tanh'),
      tfl.layers.layerNormalization({ axis: [-2, -1], ...gammaBeta(4) }), tfl.layers.flatten(), dense(3, 5)]),
    x: () => normal([3, 3, 4], 7), kinds: ['layerNormalization'],
  },
  {
    name: 'SeparableConv2D 3×3 stride 2 same with depth multiplier 2 and bias (relu), then 2×2 valid without bias (tanh)',
    make: () => chain([6, 6, 2], [conv(2, 1, { activation: 'tanh' }),
      tfl.layers.separableConv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu', ...separableInit(2) }),
      tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, useBias: false, activation: 'tanh', ...separableInit(5) }), tfl.layers.flatten(), dense(3, 8)]),
    x: () => normal([3, 6, 6, 2], 9), kinds: ['separableConv2d'],
  },
  {
    // tfjs has no gradient for a dilated depthwise convolution: central differences only.
    name: 'SeparableConv2D dilation 2 same (tanh)',
    make: () => chain([6, 6, 2], [conv(2, 1, { activation: 'tanh' }),
      tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, dilationRate: 2, padding: 'same', activation: 'tanh', ...separableInit(7) }), tfl.layers.flatten(), dense(3, 9)]),
    x: () => normal([3, 6, 6, 2], 10), kinds: ['separableConv2d'], backwardOn: [],
  },
  {
    name: 'PReLU with one α per entry of a rank-3 output (channels = h·w·c)',
    make: () => chain([3, 3, 2], [conv(2, 1, { activation: 'tanh' }), prelu(2), tfl.layers.flatten(), dense(3, 3)]),
    x: () => normal([3, 3, 3, 2], 6), kinds: ['prelu'],
  },
];

/** `patches · Θ` per channel: `[B, pos, C]`. */
function fromPatches(p: ParamLayer, rows: tf.Tensor, theta: tf.Tensor2D): tf.Tensor {
  if (p.perChannel) return tf.sum(tf.mul(rows, tf.expandDims(theta, 0)), 2); // [B, pos, fanIn, C] · [fanIn, C]
  const [B, pos, q] = rows.shape;
  return tf.reshape(tf.matMul(tf.reshape(rows, [B * pos, q]), theta), [B, pos, p.channels]);
}

function check(net: Net, backend: string): void {
  const model = net.make();
  const x = net.x();
  const anatomy = modelAnatomy(model);
  expect(anatomy.problems).toEqual([]);
  const layers = net.layers ?? anatomy.layers.map((_, l) => l);
  for (const k of net.kinds) expect(layers.map((l) => anatomy.layers[l].kind)).toContain(k);
  const before = tf.memory().numTensors;
  const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
  const B = x.shape[0];
  const pL = anatomy.outputSize;
  const real = () => tf.reshape(model.apply(x, { training: true }) as tf.Tensor, [B, pL]);
  for (const l of layers) {
    const p = anatomy.layers[l];
    const xs = cap.layers[l].input!;
    const vars = [p.kernel, ...(p.bias ? [p.bias] : []), ...(p.depthwise ? [p.depthwise] : [])];
    tf.tidy(() => {
      // Patches against the parameter map, at a random Θ (kernel rows, then the bias row).
      const theta = tf.randomNormal([p.fanIn, p.channels], 0, 1, 'float32', 7 + l) as tf.Tensor2D;
      const kernel = rowsKernel(p, tf.slice(theta, [0, 0], [p.kernelFanIn, p.channels]));
      const bias = p.bias ? tf.reshape(tf.slice(theta, [p.kernelFanIn, 0], [1, p.channels]), [p.channels]) : null;
      const a = tf.reshape(paramMap(p, xs, kernel, bias), [B, paramPositions(p), p.channels]);
      const rows = paramPatches(p, xs);
      expect(rows.shape).toEqual(p.perChannel ? [B, paramPositions(p), p.fanIn, p.channels] : [B, paramPositions(p), p.fanIn]);
      expect(relErr(fromPatches(p, rows, theta).dataSync(), a.dataSync()), `${p.name}: patches · Θ vs paramMap`).toBeLessThan(1e-5);
      // The parameter map at the layer's own weights is the captured pre-activation (PReLU: plus its offset relu(x)).
      const own = paramMap(p, xs, p.kernel, p.bias ?? null);
      expect(relErr((p.kind === 'prelu' ? tf.add(own, tf.relu(xs)) : own).dataSync(), cap.preActivation(l).dataSync()), `${p.name}: paramMap at W_n`).toBeLessThan(1e-5);

      // ⟨G_l, δθ⟩ by the code under test, for a direction moving no pre-activation by more than 1.
      const d0 = vars.map((v, i) => tf.randomNormal(v.shape, 0, 1, 'float32', 100 + 10 * l + i));
      // The pre-activation change of a direction (SeparableConv2D: + its depthwise kernel's term, through P at W_n).
      const change = (d: tf.Tensor[]) => {
        const a = paramMap(p, xs, d[0], p.bias ? d[1] : null);
        return p.depthwise ? tf.add(a, separableDepthwiseMap(p.conv!, cap.nodeRounds.get(p.node)!.inputs[0], d[d.length - 1], p.kernel)) : a;
      };
      const scale = tf.div(1, tf.max(tf.abs(change(d0))));
      const dirs = d0.map((t) => tf.mul(t, scale));
      const pushed = tf.reshape(clampedForward(anatomy, cap, l, tf.expandDims(change(dirs), 1)), [B, pL]);
      const pv = pushed.dataSync();

      // Central differences of the real network in the layer's variables.
      const saved = vars.map((v) => v.clone());
      const at = (t: number) => {
        vars.forEach((v, i) => v.assign(tf.add(saved[i], tf.mul(dirs[i], t))));
        return real();
      };
      const fd = tf.div(tf.sub(at(TOL.step), at(-TOL.step)), 2 * TOL.step);
      vars.forEach((v, i) => v.assign(saved[i]));
      expect(relErr(pv, fd.dataSync()), `${p.name}: ⟨G, δθ⟩ vs central differences of the real network`).toBeLessThan(TOL.differences);

      // Per-output backward passes through the real network, in the layer's own variables.
      if (!net.backwardOn || net.backwardOn.includes(backend)) {
        const summed = tf.sum(pushed, 0).dataSync();
        const ref = new Float32Array(pL);
        for (let k = 0; k < pL; k++) {
          const { grads } = tf.variableGrads(() => tf.sum(tf.slice(real(), [0, k], [B, 1])) as tf.Scalar, vars);
          ref[k] = vars.reduce((s, v, i) => s + tf.sum(tf.mul(grads[v.name], dirs[i])).dataSync()[0], 0);
        }
        expect(relErr(summed, ref), `${p.name}: ⟨G, δθ⟩ vs backward passes through the real network`).toBeLessThan(TOL.backward);
      }
    });
  }
  cap.dispose();
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
  model.dispose();
}

for (const backend of ['cpu', 'wasm']) {
  describe(`the parameter structure of the scoped layers beyond Dense/Conv2D against the real layers on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });
    for (const net of NETS) it(net.name, () => check(net, backend));

    it('a non-trainable DepthwiseConv2D and a BatchNormalization over a non-last axis are not scoped: held at W_n by their derivatives modules', () => {
      const frozen = depthwise(2, { padding: 'same' });
      frozen.trainable = false;
      const model = chain([4, 4, 2], [conv(2, 1, { activation: 'relu' }), frozen, tfl.layers.batchNormalization({ axis: 1 }), tfl.layers.flatten(), dense(3, 3)]);
      const anatomy = modelAnatomy(model);
      expect(anatomy.problems).toEqual([]);
      expect(anatomy.layers.map((p) => p.kind)).toEqual(['conv2d', 'dense']);
      expect(anatomy.graph.filter((n) => n.role === 'derivatives').map((n) => n.className)).toEqual(['DepthwiseConv2D', 'BatchNormalization', 'Flatten']);
      expect(anatomy.otherVariables.length).toBe(2); // BN's γ and β (the frozen depthwise kernel is not trainable)
      model.dispose();
    });

    it('a PReLU sharing α over its last axis is not scoped (its α entries are no trailing channels): held at W_n', () => {
      const model = chain([4, 4, 2], [conv(3, 1), prelu(2, { sharedAxes: [3] }), tfl.layers.flatten(), dense(3, 3)]);
      const anatomy = modelAnatomy(model);
      expect(anatomy.problems).toEqual([]);
      expect(anatomy.layers.map((p) => p.kind)).toEqual(['conv2d', 'dense']);
      expect(anatomy.otherVariables.map((v) => v.shape)).toEqual([[4, 4, 1]]);
      model.dispose();
    });

    it('Conv1D with causal padding is refused with the reason', () => {
      const model = chain([6, 2], [tfl.layers.conv1d({ filters: 2, kernelSize: 2, padding: 'causal', ...init(1) }), tfl.layers.flatten(), dense(2, 2)]);
      expect(modelAnatomy(model).problems.join('\n')).toMatch(/conv1d.*\(Conv1D\): causal padding is not supported/i);
      model.dispose();
    });
  });
}
