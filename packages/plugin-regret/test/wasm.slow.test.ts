import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { captureForward, meanSquaredError, perSampleJacobian, selectBackend, STAGE_ANALYZE, Trainer } from '@taylorlens/core';
import { RegretPlugin, StatisticsScope } from '@taylorlens/plugin-regret';
import { autoencoder, randomData, tinyDense } from '../../core/test/helpers/models.js';
import { NETS } from './helpers/nets.js';
import { checkTaylor } from './helpers/taylor-check.js';
import { bruteMinimum } from './helpers/brute-optimum.js';

describe('Taylor losses against brute force on wasm', () => {
  beforeAll(async () => { await selectBackend('wasm'); });
  for (const net of NETS) it(`${net.name}`, () => checkTaylor(net));
  it('dense ReLU with a wide input (fan-in 131 > WIDE_FAN_IN: per-neuron weighted Grams), MSE', () => checkTaylor({
    name: 'wide input', make: () => tinyDense([130, 4, 3, 6], 5), input: [130], loss: meanSquaredError, classes: 6,
  }));
});

describe('the paper autoencoder (784-50-30-20-30-50-784) on wasm', () => {
  beforeAll(async () => { await selectBackend('wasm'); });

  it('layer-3 statistics (Gram recursion, Kronecker packing) equal sums of materialised per-sample G_bᵀG_b, and the exact optimum matches a generic minimiser', async () => {
    const model = autoencoder(3);
    const optimizer = tf.train.adam(1e-3);
    const plugin = new RegretPlugin({ network: { enabled: false }, neurons: { layers: [2], perLayer: 5 }, layers: { layers: [2] }, trace: false, budget: { maxOverhead: 1e6 } });
    plugin.retain = true;
    const trainer = new Trainer(model, { loss: meanSquaredError, optimizer, plugins: [plugin] });
    const anatomy = trainer.anatomy;
    const p = anatomy.layers[2];
    const q = p.fanIn;
    const P = q * p.channels;
    // Brute force: per round, G_b = J_b ⊗ x̃_b from the core's per-sample Jacobian (reverse mode).
    const A = new Float64Array(P * P);
    const rounds: { G: Float32Array; r: Float32Array; w: Float32Array; B: number; loss: number }[] = [];
    trainer.hooks.afterBackward.tapPromise({ name: 'brute', stage: STAGE_ANALYZE }, async (ctx) => {
      const cap = captureForward(anatomy, ctx.capture.x, { inputs: true, preActivations: true });
      const G = tf.tidy(() => {
        const J = perSampleJacobian(anatomy, cap, 2, 'reverse'); // [B, pL, p]
        const B = J.shape[0];
        const xt = tf.concat([cap.layers[2].input!, tf.ones([B, 1])], 1);
        return tf.reshape(tf.mul(tf.expandDims(tf.expandDims(xt, 1), 3), tf.expandDims(J, 2)), [B * anatomy.outputSize, P]); // rows (b, k), columns (i, j)
      });
      const B = ctx.capture.batchSize;
      const kappa = 1 / (B * anatomy.outputSize);
      const GtG = tf.tidy(() => tf.mul(tf.matMul(tf.transpose(G), G), kappa));
      const a = await GtG.data();
      for (let i = 0; i < a.length; i++) A[i] += a[i];
      const w = scopeW();
      rounds.push({ G: (await G.data()) as Float32Array, r: (await tf.sub(ctx.capture.output, ctx.capture.y).data()) as Float32Array, w, B, loss: ctx.loss });
      tf.dispose([G, GtG]);
      cap.dispose();
    });
    const scopeW = () => { const t = plugin.scopes[0].readParams(); const d = t.dataSync() as Float32Array; t.dispose(); return d; };
    const data = randomData(48, [784], 784, 4);
    const [x, y] = [tf.relu(data.x), tf.relu(data.y)];
    tf.dispose([data.x, data.y]);
    await trainer.fit(x, y, { epochs: 1, batchSize: 8 });
    const layer = plugin.scopes.find((s) => s.desc.kind === 'layer') as StatisticsScope;
    await layer.statistics.flush();
    let err = 0;
    let scale = 0;
    const ours = layer.statistics.matrix(0);
    for (let i = 0; i < A.length; i++) { err = Math.max(err, Math.abs(ours[i] - A[i])); scale = Math.max(scale, Math.abs(A[i])); }
    expect(err / scale).toBeLessThan(1e-4);
    // The checkpoint's ball optimum against projected gradient descent on the brute-force rounds.
    const ckpt = plugin.results.scopes[layer.desc.key].checkpoints.at(-1)!;
    const centre = Float64Array.from(rounds[0].w);
    const brute = bruteMinimum(rounds.map((r) => ({ G: Float64Array.from(r.G), f: Float64Array.from(r.r), y: new Float64Array(r.r.length), vn: Float64Array.from(r.w), B: r.B, pL: anatomy.outputSize })),
      P, 'mse', centre, ckpt.ball.radius[0], 3000);
    expect(ckpt.ball.phi[0]).toBeLessThanOrEqual(brute.value * (1 + 1e-5));
    expect(brute.value - ckpt.ball.phi[0]).toBeLessThan(1e-3 * Math.abs(brute.value));
    plugin.dispose();
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });
});
