// Exactness where the independent recomputation found us wrong: max-pool windows whose maximum is
// tied at a positive value (constant background + positive bias, as on MNIST), and layers without
// a bias. On every backend we test: the pool choice, the Jacobian tensors, τ^n at W_{n+1} and the
// hindsight optimum against brute force through the real tfjs layers.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { captureForward, maxPoolArgmax, modelAnatomy, selectBackend, Trainer } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { BIAS_FREE_NETS, dataFor, TIED_NETS } from './helpers/nets.js';
import { checkTaylor } from './helpers/taylor-check.js';
import { checkOptimum } from './helpers/optimum-check.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`max-pool ties and bias-free layers on ${backend}`, () => {
    beforeAll(async () => { await selectBackend(backend); });

    it('the clamped network selects exactly one cell per tied window: the one the backend\'s MaxPoolGrad routes the training gradient to', async () => {
      const net = TIED_NETS[0];
      const model = net.make();
      const anatomy = modelAnatomy(model, { lossAbsorbs: net.loss.absorbs });
      const { x, y } = dataFor(net, 4, 3);
      const before = tf.memory().numTensors;
      const cap = captureForward(anatomy, x, { inputs: true, preActivations: true });
      const poolNode = anatomy.graph.find((n) => n.stage?.layer === 0 && n.stage.index === 0)!;
      const input = cap.nodeRounds.get(poolNode.id)!.inputs[0];
      const mask = await cap.poolMask(0, 0).data();
      const values = (await input.data()) as Float32Array;
      const [B, H, W, C] = input.shape;
      const info = tf.backend_util.computePool2DInfo([B, H, W, C], [2, 2], [2, 2], 1, 'valid');
      const first = maxPoolArgmax(values, info); // first maximum in row-major window order, as cpu and TensorFlow choose
      // The training gradient itself: what the backend's MaxPoolGrad does with a gradient of ones.
      const grad = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid')))(input));
      const trained = await grad.data();
      grad.dispose();
      let tied = 0;
      const outPerSample = info.outHeight * info.outWidth * C;
      for (let o = 0; o < first.length; o++) {
        const b = Math.floor(o / outPerSample);
        const c = o % C;
        const oy = Math.floor(o / (info.outWidth * C)) % info.outHeight;
        const ox = Math.floor(o / C) % info.outWidth;
        const cells = [0, 1].flatMap((dy) => [0, 1].map((dx) => b * H * W * C + ((2 * oy + dy) * W + 2 * ox + dx) * C + c));
        const max = Math.max(...cells.map((i) => values[i]));
        if (max > 0 && cells.filter((i) => values[i] === max).length > 1) tied++;
        expect(cells.map((i) => mask[i]).reduce((s, v) => s + v, 0)).toBe(1);
        expect(cells.map((i) => trained[i]).reduce((s, v) => s + v, 0)).toBe(1);
        const chosen = b * H * W * C + first[o];
        expect(mask[chosen]).toBe(1);
        expect(trained[chosen]).toBe(1);
      }
      // The data must really tie windows at a positive value, or this test proves nothing.
      expect(tied / first.length).toBeGreaterThan(0.3);
      cap.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, y]);
      model.dispose();
    });

    for (const net of [...TIED_NETS, ...BIAS_FREE_NETS]) {
      it(`${net.name}: τ(W_n) = ℓ_n, ∇τ(W_n) = ∇ℓ, Σ τ^n at W_{n+1} and elsewhere match per-output backward passes`, () => checkTaylor(net));
      it(`${net.name}: the checkpoint optimum equals a direct minimisation over the stored rounds`, () => checkOptimum(net));
    }

    for (const net of BIAS_FREE_NETS) {
      it(`${net.name}: every scope's parameter count is the model's own (no phantom bias)`, async () => {
        const model = net.make();
        const plugin = new RegretPlugin({ network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 'all', subBatch: null }, budget: { maxOverhead: 1e6 }, trace: false });
        plugin.retain = true;
        const optimizer = tf.train.sgd(0.1);
        const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin] });
        const { x, y } = dataFor(net, 6, 2);
        await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
        expect(model.layers.some((l) => l.trainableWeights.length === 1)).toBe(true);
        for (const s of plugin.scopes) {
          const d = s.desc;
          if (d.kind === 'network') { expect(d.params).toBe(model.countParams()); continue; }
          const layer = model.getLayer(d.layer!);
          const perUnit = layer.countParams() / trainer.anatomy.layers[d.layerIndex!].channels;
          expect(d.params).toBe(d.kind === 'layer' ? layer.countParams() : perUnit);
          const w = s.readParams();
          expect(w.shape).toEqual([d.problems, d.params]);
          w.dispose();
        }
        plugin.dispose();
        tf.dispose([x, y]);
        model.dispose();
        optimizer.dispose();
      });
    }
  });
}
