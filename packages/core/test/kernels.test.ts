import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { preflight, modelAnatomy, selectBackend, softmaxCrossEntropy, stockKernel, MissingKernelError } from '@taylorlens/core';
import { maxAbsDiff, tinyConv } from './helpers/models.js';

/** Brute force: dW[kh,kw,ci,co] = Σ_{b,i,j} xpad[b, i·s+kh, j·s+kw, ci] · dy[b,i,j,co]. */
function filterGradByLoops(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, pad: 'same' | 'valid'): Float64Array {
  const [B, H, W, CI] = x.shape;
  const [, OH, OW, CO] = dy.shape;
  const padTop = pad === 'same' ? Math.floor(Math.max((OH - 1) * s + k - H, 0) / 2) : 0;
  const padLeft = pad === 'same' ? Math.floor(Math.max((OW - 1) * s + k - W, 0) / 2) : 0;
  const xv = x.dataSync();
  const dv = dy.dataSync();
  const out = new Float64Array(k * k * CI * CO);
  for (let kh = 0; kh < k; kh++) for (let kw = 0; kw < k; kw++) for (let ci = 0; ci < CI; ci++) for (let co = 0; co < CO; co++) {
    let acc = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
      const y = i * s + kh - padTop;
      const xx = j * s + kw - padLeft;
      if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
      acc += xv[((b * H + y) * W + xx) * CI + ci] * dv[((b * OH + i) * OW + j) * CO + co];
    }
    out[((kh * k + kw) * CI + ci) * CO + co] = acc;
  }
  return out;
}

function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, pad: 'same' | 'valid'): Float32Array {
  return tf.tidy(() => tf.grad((w: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(x, w, s, pad), dy)))(tf.zeros([k, k, x.shape[3], dy.shape[3]])).dataSync() as Float32Array);
}

const cases: [number, number, 'same' | 'valid', number][] = [[3, 1, 'same', 9], [5, 2, 'same', 9], [3, 2, 'valid', 9], [3, 3, 'valid', 10], [5, 1, 'same', 7]];

describe('Conv2DBackpropFilter (ours on wasm and cpu)', () => {
  for (const backend of ['wasm', 'cpu']) {
    it(`${backend}: equals brute-force loops and the stock cpu kernel, with negative inputs`, async () => {
      await selectBackend(backend);
      for (const [k, s, pad, n] of cases) {
        const x = tf.randomNormal([2, n, n, 3], 0, 1, 'float32', k + s) as tf.Tensor4D; // signed inputs
        const oh = pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - k + 1) / s);
        const dy = tf.randomNormal([2, oh, oh, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
        const ours = filterGrad(x, dy, k, s, pad);
        const loops = filterGradByLoops(x, dy, k, s, pad);
        expect(maxAbsDiff(ours, loops)).toBeLessThan(1e-4);
        tf.dispose([x, dy]);
      }
    });
  }

  it('matches the stock cpu kernel it replaces', async () => {
    await selectBackend('cpu');
    const stock = stockKernel('Conv2DBackpropFilter', 'cpu');
    expect(stock).toBeDefined();
    const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const dy = tf.randomNormal([2, 5, 5, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [3, 3, 3, 4] };
    const backend = tf.backend();
    const info = stock!.kernelFunc({ inputs: { x, dy }, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    const reference = tf.engine().makeTensorFromTensorInfo(info).dataSync();
    expect(maxAbsDiff(filterGrad(x, dy, 3, 2, 'same'), reference)).toBeLessThan(1e-4);
    tf.dispose([x, dy]);
  });
});

describe('max-pool kernels on wasm', () => {
  beforeAll(async () => { await selectBackend('wasm'); });

  it('MaxPoolGrad and MaxPoolWithArgmax equal cpu on all-negative, mixed and tied windows', async () => {
    const inputs = [
      tf.tensor4d([-1, -2, -3, -4, -5, -0.5, -7, -8, 1, 2, 3, 4, 5, 6, 7, 8], [1, 4, 4, 1]),
      tf.randomNormal([2, 7, 7, 3], -1, 1, 'float32', 3),
      tf.tensor4d([0, 0, 0, 0, -1, -1, -1, -1, 2, 2, 2, 2, 0, 0, 0, 0], [1, 4, 4, 1]),
    ];
    for (const pad of ['valid', 'same'] as const) {
      for (const x0 of inputs) {
        const values = await x0.data();
        const run = async (backend: string) => {
          await selectBackend(backend);
          const x = tf.tensor(values, x0.shape);
          const dy = tf.randomNormal(tf.maxPool(x as tf.Tensor4D, 2, 2, pad).shape, 0, 1, 'float32', 5);
          const g = tf.grad((v: tf.Tensor4D) => tf.sum(tf.mul(tf.maxPool(v, 2, 2, pad), dy)))(x as tf.Tensor4D);
          const { result, indexes } = tf.maxPoolWithArgmax(x as tf.Tensor4D, 2, 2, pad, true);
          const out = [await g.data(), await result.data(), await indexes.data()];
          tf.dispose([x, dy, g, result, indexes]);
          return out;
        };
        const cpu = await run('cpu');
        const wasm = await run('wasm');
        cpu.forEach((c, i) => expect(maxAbsDiff(wasm[i], c)).toBe(0));
      }
    }
    tf.dispose(inputs);
  });
});

describe('preflight', () => {
  it('runs one tiny backward pass and lists the kernels a convnet needs', async () => {
    await selectBackend('wasm');
    const anatomy = modelAnatomy(tinyConv(), { lossAbsorbs: 'softmax' });
    const before = tf.memory().numTensors;
    const kernels = await preflight(anatomy, softmaxCrossEntropy);
    expect(tf.memory().numTensors).toBe(before);
    expect(kernels).toContain('Conv2DBackpropFilter');
    expect(kernels).toContain('MaxPoolGrad');
  });

  it('names a missing kernel before training starts', async () => {
    await selectBackend('wasm');
    const saved = tf.getKernel('Conv2DBackpropFilter', 'wasm')!;
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
    try {
      const anatomy = modelAnatomy(tinyConv(), { lossAbsorbs: 'softmax' });
      await expect(preflight(anatomy, softmaxCrossEntropy)).rejects.toThrow(MissingKernelError);
      await expect(preflight(anatomy, softmaxCrossEntropy)).rejects.toThrow(/lacks kernel\(s\) needed to train this model: Conv2DBackpropFilter/);
    } finally {
      tf.registerKernel(saved);
    }
  });
});

describe('depthwise gradients on wasm (ours: the block-diagonal convolution)', () => {
  /** ∂/∂x and ∂/∂filter of Σ depthwiseConv2d(x, w) ⊙ dy on the current backend. */
  const grads = (xv: Float32Array, wv: Float32Array, dv: Float32Array, shapes: { x: number[]; w: number[]; dy: number[] }, s: number, pad: 'same' | 'valid') => tf.tidy(() => {
    const x = tf.tensor4d(xv, shapes.x as [number, number, number, number]);
    const w = tf.tensor4d(wv, shapes.w as [number, number, number, number]);
    const dy = tf.tensor4d(dv, shapes.dy as [number, number, number, number]);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad), dy)))([x, w]);
    return [gx.dataSync() as Float32Array, gw.dataSync() as Float32Array];
  });

  for (const [k, s, pad, m] of [[3, 1, 'same', 1], [3, 2, 'same', 2], [2, 2, 'valid', 1], [3, 1, 'valid', 3]] as const) {
    it(`${k}×${k}/${s} ${pad}, channel multiplier ${m}: equal to the cpu backend's stock kernels (within float32 rounding)`, async () => {
      await selectBackend('cpu');
      const n = 7;
      const C = 3;
      const xv = tf.randomNormal([2, n, n, C], 0, 1, 'float32', 1).dataSync() as Float32Array;
      const wv = tf.randomNormal([k, k, C, m], 0, 1, 'float32', 2).dataSync() as Float32Array;
      const oh = pad === 'same' ? Math.ceil(n / s) : Math.ceil((n - k + 1) / s);
      const dv = tf.randomNormal([2, oh, oh, C * m], 0, 1, 'float32', 3).dataSync() as Float32Array;
      const shapes = { x: [2, n, n, C], w: [k, k, C, m], dy: [2, oh, oh, C * m] };
      const [cx, cw] = grads(xv, wv, dv, shapes, s, pad);
      await selectBackend('wasm');
      const [wx, ww] = grads(xv, wv, dv, shapes, s, pad);
      const close = (a: Float32Array, b: Float32Array) => {
        let worst = 0;
        let scale = 0;
        a.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - b[i])); scale = Math.max(scale, Math.abs(v)); });
        expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
      };
      close(cx, wx);
      close(cw, ww);
    });
  }
});

describe('UnsortedSegmentSum on wasm (ours: host sums; gather\'s gradient)', () => {
  it('equals the stock cpu kernel bit for bit, ids repeated, missing and out of range, rows of rank 2', async () => {
    const ids = [3, 0, 3, 3, 1, -1, 7, 0];
    const x = Array.from({ length: ids.length * 6 }, (_, i) => Math.sin(i * 1.7) * (i % 5 === 0 ? 1e-3 : 1));
    const sums = async (backend: string) => {
      await selectBackend(backend);
      const out = tf.unsortedSegmentSum(tf.tensor3d(x, [ids.length, 2, 3]), tf.tensor1d(ids, 'int32'), 5);
      expect(out.shape).toEqual([5, 2, 3]);
      const v = out.dataSync().slice();
      out.dispose();
      return v;
    };
    const cpu = await sums('cpu');
    expect(Array.from(await sums('wasm'))).toEqual(Array.from(cpu));
    expect(Array.from(cpu.slice(2 * 6, 3 * 6))).toEqual(new Array(6).fill(0)); // segment 2: no rows
  });

  it('an Embedding layer trains on wasm, with the same weights as on cpu within float32 rounding', async () => {
    const layers = await import('@tensorflow/tfjs-layers');
    const train = async (backend: string) => {
      await selectBackend(backend);
      const model = layers.sequential({ layers: [
        layers.layers.embedding({ inputDim: 7, outputDim: 3, inputLength: 4, embeddingsInitializer: layers.initializers.randomNormal({ seed: 1 }) }),
        layers.layers.flatten(), layers.layers.dense({ units: 2, kernelInitializer: layers.initializers.glorotUniform({ seed: 2 }) })] });
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
      const before = Array.from(model.getWeights()[0].dataSync());
      const xs = tf.tensor2d([[0, 1, 1, 6], [2, 2, 2, 2], [5, 0, 3, 1]], [3, 4], 'float32');
      const ys = tf.tensor2d([[1, -1], [0, 2], [-1, 0]]);
      await model.fit(xs, ys, { epochs: 3, batchSize: 3, shuffle: false, verbose: 0 });
      const w = model.getWeights().map((t) => Array.from(t.dataSync()));
      expect(maxAbsDiff(w[0], before)).toBeGreaterThan(1e-3); // the embeddings did move
      tf.dispose([xs, ys]);
      model.dispose();
      return w;
    };
    const cpu = await train('cpu');
    const wasm = await train('wasm');
    expect(wasm.length).toBe(cpu.length);
    for (let i = 0; i < cpu.length; i++) expect(maxAbsDiff(Float32Array.from(wasm[i]), Float32Array.from(cpu[i]))).toBeLessThan(1e-6);
  });
});
