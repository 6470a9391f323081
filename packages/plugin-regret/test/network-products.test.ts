import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, Trainer } from '@taylorlens/core';
import { RegretPlugin, type NetworkScope } from '../src/index.js';
import { outputCurvature, squaredErrorFormGradient } from '../src/convex/output-curvature.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { NetworkProblem, networkPush, splitVariables, type ReplayedRound, type RoundSource } from '../src/rounds/network-problem.js';
import type { RoundStore } from '../src/rounds/round-store.js';
import { splitHostVector } from '../src/rounds/dense-chain.js';
import { BIAS_FREE_NETS, dataFor, NETS, TANH_NET, type NetCase } from './helpers/nets.js';

const MSE_NET = NETS[0]; // dense ReLU 5-4-3-6, 63 parameters

/** A dense 5-4-6 ReLU net whose linear output layer has no bias. */
const NO_OUTPUT_BIAS: NetCase = {
  name: 'dense ReLU, bias-free output, MSE', input: [5], loss: MSE_NET.loss, classes: 6,
  make: () => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [5], units: 4, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
    m.add(tfl.layers.dense({ units: 6, useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
    return m;
  },
};

/**
 * A dense MSE net trained with the network scope storing every round (batches of 3, the last one
 * short when `samples` is not a multiple of 3); its rounds replayed and kept.
 */
async function storedRounds(rounds: number, net: NetCase = MSE_NET, samples = 3 * rounds) {
  const model = net.make();
  const plugin = new RegretPlugin({ network: { every: 1 }, layers: { enabled: false }, neurons: { enabled: false }, budget: { maxOverhead: 1e6 }, trace: false });
  plugin.retain = true;
  const optimizer = tf.train.sgd(0.3);
  const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin] });
  const { x, y } = dataFor(net, samples, 5);
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

  for (const backend of ['cpu', 'wasm']) it(`split a host vector into the variables' tensors as splitVariables does (${backend})`, async () => {
    await selectBackend(backend);
    const model = MSE_NET.make();
    const shapes = model.trainableWeights.map((w) => w.shape as number[]);
    const anatomy = { variables: shapes.map((shape) => ({ shape, size: shape.reduce((a, b) => a * b, 1) })) };
    const P = anatomy.variables.reduce((a, v) => a + v.size, 0);
    const v = Float32Array.from({ length: P }, (_, i) => Math.sin(i) / (i + 1));
    const before = tf.memory().numTensors;
    const V = tf.tensor2d(v, [1, P]);
    const viaSplit = splitVariables(anatomy as never, V);
    const onHost = splitHostVector(tf, shapes, v);
    expect(onHost.map((t) => t.shape)).toEqual(viaSplit.map((t) => t.shape));
    onHost.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(viaSplit[i].dataSync())));
    tf.dispose([V, ...viaSplit, ...onHost]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
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

  // The written-out products against brute force: every round's Jacobian product through tf.grad
  // of the clamped network's push (the path any model takes), summed in float64.
  const cases: [string, NetCase, number, number][] = [
    ['9 rounds, the last one short (2 samples)', MSE_NET, 9, 26],
    ['a bias-free hidden layer', BIAS_FREE_NETS[0], 6, 18],
    ['tanh (derivatives, not masks)', TANH_NET, 5, 15],
    ['two layers, bias-free output', NO_OUTPUT_BIAS, 4, 12],
  ];
  for (const backend of ['cpu', 'wasm']) for (const [what, net, rounds, samples] of cases) it(`the written-out products equal brute-force per-round products: ${what} (${backend})`, async () => {
    await selectBackend(backend);
    const t = await storedRounds(rounds, net, samples);
    const P = t.scope.desc.params;
    const curvature = outputCurvature(net.loss, 0.5)!;
    const before = tf.memory().numTensors;
    const here = new NetworkProblem(t.trainer.anatomy, net.loss, curvature, t.source, P, false);
    const split = new NetworkProblem(t.trainer.anatomy, net.loss, curvature, t.source, P);
    try {
      let s = 11;
      const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647 - 0.5; };
      const v = Float64Array.from({ length: P }, rnd);
      const V = tf.tensor2d(Float32Array.from(v), [1, P]);
      const brute = new Float64Array(P);
      for (const rep of t.reps) {
        const g = tf.tidy(() => tf.grad((w: tf.Tensor) => curvature.form(networkPush(t.trainer.anatomy, rep, w), rep.f, rep.y))(V));
        g.dataSync().forEach((x, k) => { brute[k] += x; });
        g.dispose();
      }
      V.dispose();
      const got = await here.hessian(v);
      const scale = Math.max(...brute.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      for (let k = 0; k < P; k++) expect(Math.abs(got[k] - brute[k]), `entry ${k}`).toBeLessThanOrEqual(1e-5 * scale);
      // Two threads: the same bits.
      expect(Array.from(await split.hessian(v))).toEqual(Array.from(got));
    } finally {
      here.dispose();
      split.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    t.done();
  });
});
