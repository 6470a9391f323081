import { beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  Trainer, WEBGPU_MIN_FLOPS_PER_STEP, captureForward, modelAnatomy, perSampleJacobian, preflight, selectBackend,
  softmaxCrossEntropy, stockKernel, trainingFlopsPerStep, webgpuStatus,
} from '@taylorlens/core';
import { autoencoder, maxAbsDiff, paperConvnet, randomData, tinyConv, weightsOf } from './helpers/models.js';

// The webgpu backend through Dawn. Without a GPU, Dawn's OpenGL ES backend runs on Mesa's llvmpipe
// (EGL surfaceless), which .ci/install-webgpu-deps.sh installs; these tests fail, not skip, without it.
// beforeEach, not beforeAll: each test then fails with this message instead of being skipped.
beforeEach(async () => {
  const s = await webgpuStatus();
  if (!s.available) {
    throw new Error(`no WebGPU adapter for the webgpu tests: ${s.reason}. Run .ci/install-webgpu-deps.sh (as root) first.`);
  }
});

/** Runs `fn` on cpu and on webgpu with the same inputs and returns both outputs' values. */
async function onBoth(fn: () => tf.Tensor | tf.Tensor[]): Promise<{ cpu: Float32Array[]; gpu: Float32Array[] }> {
  const out: Float32Array[][] = [];
  for (const b of ['cpu', 'webgpu']) {
    await selectBackend(b);
    const r = [fn()].flat();
    out.push(await Promise.all(r.map(async (t) => Float32Array.from(await t.data()))));
    tf.dispose(r);
  }
  return { cpu: out[0], gpu: out[1] };
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  for (const v of a) scale = Math.max(scale, Math.abs(v));
  return maxAbsDiff(a, b) / Math.max(scale, 1e-12);
}

describe('webgpu adapter and backend selection', () => {
  it('finds an adapter and reports it for doctor', async () => {
    const s = await webgpuStatus();
    expect(s.available).toBe(true);
    expect(s.adapter!.description || s.adapter!.device).not.toBe('');
    expect(['core', 'compatibility']).toContain(s.adapter!.featureLevel);
    expect(s.minFlopsPerStep).toBe(WEBGPU_MIN_FLOPS_PER_STEP);
  });

  it('--backend webgpu activates it', async () => {
    const choice = await selectBackend('webgpu');
    expect(choice.name).toBe('webgpu');
    expect(choice.source).toBe('@tensorflow/tfjs-backend-webgpu');
  });

  it('auto-selection passes webgpu over without a size hint, for small models and for software adapters', async () => {
    // tfjs-node(-gpu) are not installed here, so auto-selection reaches webgpu's turn.
    const why = async (modelFlopsPerStep?: number) =>
      (await selectBackend(undefined, { modelFlopsPerStep })).skipped.find((s) => s.backend === 'webgpu')?.reason ?? '';
    expect(await why()).toMatch(/no model-size hint/);
    const small = trainingFlopsPerStep(autoencoder(1), 64);
    expect(small).toBeLessThan(WEBGPU_MIN_FLOPS_PER_STEP);
    expect(await why(small)).toMatch(/too small/);
    const big = trainingFlopsPerStep(paperConvnet(1, { input: [32, 32, 3] }), 128);
    expect(big).toBeGreaterThan(WEBGPU_MIN_FLOPS_PER_STEP);
    const s = await webgpuStatus();
    if (s.adapter!.software) {
      expect(await why(big)).toMatch(/software rasterizer/);
      expect(tf.getBackend()).toBe('wasm');
    } else {
      expect((await selectBackend(undefined, { modelFlopsPerStep: big })).name).toBe('webgpu');
    }
  });

  it('counts training FLOPs of conv and dense layers', () => {
    // conv 3×3×2→3 on 8×8 (same), conv 3×3×3→3 on 4×4, dense 12→4; ×2 per MAC, ×3 for training.
    const forward = 2 * (64 * 9 * 2 * 3 + 16 * 9 * 3 * 3 + 12 * 4);
    expect(trainingFlopsPerStep(tinyConv(1), 10)).toBe(3 * forward * 10);
  });

  it('names the cause of a synchronous read instead of "OffscreenCanvas is not defined"', async () => {
    await selectBackend('webgpu');
    const t = tf.tidy(() => tf.mul(tf.randomNormal([64, 64], 0, 1, 'float32', 1), 2));
    expect(() => t.dataSync()).toThrow(/use `await tensor.data\(\)`/);
    expect((await t.data()).length).toBe(64 * 64);
    expect(t.dataSync().length).toBe(64 * 64); // once on the host, sync reads work
    t.dispose();
  });
});

describe('webgpu kernels against cpu', () => {
  const poolInputs = (): tf.Tensor4D[] => [
    tf.tensor4d([-1, -2, -3, -4, -5, -0.5, -7, -8, 1, 2, 3, 4, 5, 6, 7, 8], [1, 4, 4, 1]), // all-negative windows
    tf.sub(tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 3), 3) as tf.Tensor4D, // mostly negative
    tf.tensor4d([0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1, 2, 2, 2, 2], [1, 4, 4, 1]), // ties
  ];

  it('MaxPoolGrad and MaxPoolWithArgmax equal cpu on negative, mixed and tied windows', async () => {
    for (const [k, s, pad] of [[2, 2, 'valid'], [2, 2, 'same'], [3, 2, 'same'], [3, 1, 'valid']] as const) {
      for (let i = 0; i < 3; i++) {
        const { cpu, gpu } = await onBoth(() => {
          const x = poolInputs()[i];
          const dy = tf.randomNormal(tf.maxPool(x, k, s, pad).shape, 0, 1, 'float32', 5);
          const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), dy)))(x);
          const { result, indexes } = tf.maxPoolWithArgmax(x, k, s, pad, true);
          return [dx, result, tf.cast(indexes, 'float32')];
        });
        for (let j = 0; j < 3; j++) expect(maxAbsDiff(cpu[j], gpu[j]), `k${k} s${s} ${pad} input ${i} output ${j}`).toBeLessThan(1e-6);
      }
    }
  });

  it('the stock webgpu MaxPoolGrad differs from cpu only on ties (why we replace it)', async () => {
    await selectBackend('webgpu');
    const stock = stockKernel('MaxPoolGrad', 'webgpu');
    expect(stock).toBeDefined();
    const x = poolInputs()[2];
    const dy = tf.ones([1, 2, 2, 1]);
    const attrs = { filterSize: 2, strides: 2, pad: 'valid' };
    const info = stock!.kernelFunc({ inputs: { dy, input: x, output: tf.maxPool(x, 2, 2, 'valid') }, backend: tf.backend(), attrs: attrs as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
    const stockDx = await tf.engine().makeTensorFromTensorInfo(info).data();
    const ours = await tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(x).data();
    // The window [0 0; 1 1]: cpu and ours route to the first 1 (index 4), stock webgpu to the last (index 5).
    expect(ours[4]).toBe(1);
    expect(ours[5]).toBe(0);
    expect(stockDx[5]).toBe(1);
  });

  it('Conv2D, Conv2DBackpropFilter and Conv2DBackpropInput equal cpu with signed inputs', async () => {
    for (const [k, s, pad] of [[5, 1, 'same'], [3, 2, 'same'], [3, 1, 'valid'], [5, 2, 'valid']] as const) {
      const { cpu, gpu } = await onBoth(() => {
        const x = tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', k) as tf.Tensor4D;
        const w = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', k + 1) as tf.Tensor4D;
        const dy = tf.randomNormal(tf.conv2d(x, w, s, pad).shape, 0, 1, 'float32', 9);
        const [dx, dw] = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, s, pad), dy)))([x, w]);
        return [tf.conv2d(x, w, s, pad), dx, dw];
      });
      for (let j = 0; j < 3; j++) expect(relDiff(cpu[j], gpu[j]), `k${k} s${s} ${pad} output ${j}`).toBeLessThan(1e-5);
    }
  });
});

describe('webgpu Tile at rank ≥ 5 (the stock kernel reads synchronously there)', () => {
  it('equals cpu for float32 and int32 at ranks 5 and 6, on the GPU', async () => {
    // ≥ 1000 elements: smaller inputs that are still on the host are computed there by tfjs.
    for (const [shape, reps] of [[[4, 5, 2, 6, 5], [1, 1, 2, 1, 3]], [[2, 5, 1, 10, 1, 10], [2, 1, 2, 1, 3, 1]], [[4, 5, 2, 6, 5], [1, 1, 1, 1, 1]]] as const) {
      const { cpu, gpu } = await onBoth(() => {
        // tf.mul puts x on the GPU first, so the stock kernel would have to read it back.
        const x = tf.mul(tf.randomNormal([...shape], 0, 1, 'float32', 2), 1);
        const i = tf.cast(tf.mul(x, 10), 'int32');
        return [tf.tile(x, [...reps]), tf.cast(tf.tile(i, [...reps]), 'float32')];
      });
      expect(maxAbsDiff(cpu[0], gpu[0]), `${shape} × ${reps}`).toBe(0);
      expect(maxAbsDiff(cpu[1], gpu[1]), `${shape} × ${reps} int32`).toBe(0);
    }
  });

  it('the stock kernel cannot tile a rank-5 tensor that lives on the GPU (why we replace it)', async () => {
    await selectBackend('webgpu');
    const x = tf.mul(tf.ones([4, 5, 2, 6, 5]), 2); // computed on the GPU (≥ 1000 elements)
    const stock = stockKernel('Tile', 'webgpu')!;
    expect(() => stock.kernelFunc({ inputs: { x }, backend: tf.backend(), attrs: { reps: [1, 1, 2, 1, 1] } })).toThrow(/synchronously/);
    x.dispose();
  });

  it('per-sample Jacobians through max-pooling (clamped product) equal cpu', async () => {
    const { cpu, gpu } = await onBoth(() => {
      const model = tinyConv(4, { input: [8, 8, 2], filters: 3, classes: 4 });
      const anatomy = modelAnatomy(model);
      const x = tf.randomNormal([3, 8, 8, 2], 0, 1, 'float32', 6);
      const cap = captureForward(anatomy, x);
      const j = perSampleJacobian(anatomy, cap, 0);
      cap.dispose();
      return j;
    });
    expect(relDiff(cpu[0], gpu[0])).toBeLessThan(1e-4);
  });
});

describe('training on webgpu', () => {
  async function train(backend: string, make: () => ReturnType<typeof tinyConv>, shape: [number, number, number], rounds: number, validate = false) {
    await selectBackend(backend);
    const model = make();
    model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.adam(0.01) });
    const { x, y } = randomData(8 * rounds, shape, model.outputs[0].shape[1] as number, 4, true);
    const summary = await new Trainer(model, { loss: 'softmaxCrossEntropy' }) // tinyConv outputs logits; paperConvnet's softmax is absorbed
      .fit(x, y, { epochs: 1, batchSize: 8, seed: 3, validationData: validate ? [x, y] : undefined });
    const w = await weightsOf(model);
    tf.dispose([x, y]);
    return { summary, w };
  }

  it('tiny convnet: three Adam rounds give the same weights as cpu, and validation reads asynchronously', async () => {
    const make = () => tinyConv(2, { input: [8, 8, 2], filters: 4, classes: 4 });
    const cpu = await train('cpu', make, [8, 8, 2], 3, true);
    const gpu = await train('webgpu', make, [8, 8, 2], 3, true);
    expect(gpu.summary.status).toBe('completed');
    expect(Math.abs(gpu.summary.valLoss[0] - cpu.summary.valLoss[0])).toBeLessThan(1e-4);
    cpu.w.forEach((w, i) => expect(relDiff(w, gpu.w[i]), `weight ${i}`).toBeLessThan(1e-4));
  });

  it("the paper's convnet (reduced width, 32×32×3): one step equals cpu", async () => {
    const make = () => paperConvnet(3, { input: [32, 32, 3], filters: 8, hidden: 16 });
    const cpu = await train('cpu', make, [32, 32, 3], 1);
    const gpu = await train('webgpu', make, [32, 32, 3], 1);
    cpu.w.forEach((w, i) => expect(relDiff(w, gpu.w[i]), `weight ${i}`).toBeLessThan(1e-4));
  });

  it('preflight runs a forward and backward pass on webgpu with every kernel present', async () => {
    await selectBackend('webgpu');
    const model = paperConvnet(1, { input: [16, 16, 3], filters: 4, hidden: 8 });
    const kernels = await preflight(modelAnatomy(model, { lossAbsorbs: 'softmax' }), softmaxCrossEntropy);
    expect(kernels).toEqual(expect.arrayContaining(['Conv2D', 'Conv2DBackpropFilter', 'MaxPoolGrad']));
  });
});
