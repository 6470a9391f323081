import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, Trainer } from '@taylorlens/core';
import { RegretPlugin, type NetworkScope } from '../src/index.js';
import { outputCurvature, squaredErrorFormGradient } from '../src/convex/output-curvature.js';
import { NetworkProblem, type ReplayedRound, type RoundSource } from '../src/rounds/network-problem.js';
import type { RoundStore } from '../src/rounds/round-store.js';
import { dataFor, NETS } from './helpers/nets.js';

const MSE_NET = NETS[0]; // dense ReLU 5-4-3-6, 63 parameters

/** A dense MSE net trained with the network scope storing every round; its rounds replayed and kept. */
async function storedRounds(rounds: number) {
  const model = MSE_NET.make();
  const plugin = new RegretPlugin({ network: { every: 1 }, layers: { enabled: false }, neurons: { enabled: false }, budget: { maxOverhead: 1e6 }, trace: false });
  plugin.retain = true;
  const optimizer = tf.train.sgd(0.3);
  const trainer = new Trainer(model, { loss: MSE_NET.loss, optimizer, plugins: [plugin] });
  const { x, y } = dataFor(MSE_NET, 3 * rounds, 5);
  await trainer.fit(x, y, { epochs: 1, batchSize: 3, shuffle: false });
  const scope = plugin.scopes[0] as NetworkScope;
  const store = (scope as unknown as { store: RoundStore }).store;
  const reps: ReplayedRound[] = [...store.read()].map(({ arrays }) => scope.replay(arrays));
  const source: RoundSource = { cached: true, rounds: () => reps, release: () => undefined };
  const done = () => { for (const r of reps) tf.dispose(r.all); plugin.dispose(); tf.dispose([x, y]); model.dispose(); optimizer.dispose(); };
  return { trainer, scope, source, reps, done };
}

describe('the network scope\'s Hessian products on two threads', () => {
  it('squared error\'s written-out form gradient has the bits of tf.grad of the form', async () => {
    await selectBackend('cpu');
    const z = tf.randomNormal([7, 5], 0, 3, 'float32', 4) as tf.Tensor2D;
    const gamma = 0.37;
    const form = outputCurvature(MSE_NET.loss, gamma)!;
    const viaGrad = tf.grad((t: tf.Tensor) => form.form(t as tf.Tensor2D, z, z))(z);
    const written = squaredErrorFormGradient(tf, gamma, z);
    expect(Array.from(written.dataSync())).toEqual(Array.from(viaGrad.dataSync()));
    tf.dispose([z, viaGrad, written]);
  });

  for (const backend of ['cpu', 'wasm']) it(`give this thread's float64 sums bit for bit, the worker holding the first half of the rounds, and after it dies; nothing leaks on either thread (${backend})`, async () => {
    await selectBackend(backend);
    const t = await storedRounds(9);
    const P = t.scope.desc.params;
    const curvature = outputCurvature(MSE_NET.loss, 0.5)!;
    const before = tf.memory().numTensors;
    const here = new NetworkProblem(t.trainer.anatomy, MSE_NET.loss, curvature, t.source, P, false);
    const split = new NetworkProblem(t.trainer.anatomy, MSE_NET.loss, curvature, t.source, P);
    try {
      let s = 7;
      const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
      for (let k = 0; k < 3; k++) {
        const v = Float64Array.from({ length: P }, rnd);
        const a = await here.hessian(v);
        const b = await split.hessian(v);
        expect(a.some((x) => x !== 0)).toBe(true);
        expect(Array.from(b)).toEqual(Array.from(a));
      }
      expect(here.productsWorker()).toBeNull();
      const worker = split.productsWorker()!;
      expect(worker.rounds).toBe(4); // of 9 stored rounds
      // Five tensors per dense layer and round (input, kernel, their transposes, mask; the linear output layer has none).
      expect(await worker.tensors()).toBe(4 * (3 * 5 - 1));
      // A worker that dies (here: stopped; the next job meets a fresh thread without the rounds)
      // hands its rounds back to this thread: the same bits, and no worker afterwards.
      (worker as unknown as { thread: { dispose(): void } }).thread.dispose();
      const v = Float64Array.from({ length: P }, rnd);
      expect(Array.from(await split.hessian(v))).toEqual(Array.from(await here.hessian(v)));
      expect(split.workerFailures).toBe(1);
      expect(split.productsWorker()).toBeNull();
    } finally {
      here.dispose();
      split.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    t.done();
  });
});
