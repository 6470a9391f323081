// Every plugin on the webgpu backend (Dawn on Mesa's software GL here, .ci/install-webgpu-deps.sh):
// webgpu in Node cannot read tensors synchronously, so one synchronous read in a plugin's path
// fails these runs. Each run is compared with the same run on cpu.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { meanSquaredError, selectBackend, softmaxCrossEntropy, Trainer, webgpuStatus, type TaylorLoss } from '@taylorlens/core';
import { ActivationPlugin, type ActivationFile } from '@taylorlens/plugin-activation';
import { RegretPlugin, type RegretFile } from '@taylorlens/plugin-regret';
import { adam } from '@taylorlens/plugin-optimizers';
import { randomData, tinyConv, tinyDense } from '../../packages/core/test/helpers/models.js';
import { tempStore } from '../../packages/plugin-regret/test/helpers/store.js';

beforeEach(async () => {
  const s = await webgpuStatus();
  if (!s.available) throw new Error(`no WebGPU adapter: ${s.reason}. Run .ci/install-webgpu-deps.sh (as root) first.`);
});

async function run(backend: string, conv: boolean, loss: TaylorLoss) {
  await selectBackend(backend);
  const store = tempStore(2); // traces rounds 1–2 and every checkpoint's optimum (reads the centre)
  const model = conv ? tinyConv(2, { input: [8, 8, 2], filters: 3, classes: 3 }) : tinyDense([6, 5, 4, 6], 3);
  const regret = new RegretPlugin({
    network: { every: 2 }, layers: { every: 1 }, neurons: { perLayer: 2, every: 1, subBatch: null }, budget: { maxOverhead: 1e6 },
  });
  const activation = new ActivationPlugin({ probeSize: 12, every: { epochs: 1 } });
  const optimizer = adam({ learningRate: 0.01 });
  const trainer = new Trainer(model, { loss, optimizer, plugins: [regret, activation], store });
  const { x, y } = randomData(24, conv ? [8, 8, 2] : [6], conv ? 3 : 6, 5, conv);
  const summary = await trainer.fit(x, y, { epochs: 2, batchSize: 6, seed: 4 });
  tf.dispose([x, y]);
  model.dispose();
  const read = <T>(...p: string[]) => JSON.parse(fs.readFileSync(path.join(store.dir, ...p), 'utf8')) as T;
  const out = { summary, regret: read<RegretFile>('regret', 'regret.json'), activation: read<ActivationFile>('activation', 'activation.json') };
  expect(fs.readdirSync(path.join(store.traceDir!, 'regret')).filter((f) => f.startsWith('checkpoint-'))).toHaveLength(2);
  store.cleanup();
  return out;
}

function expectSameResults(cpu: Awaited<ReturnType<typeof run>>, gpu: Awaited<ReturnType<typeof run>>) {
  expect(gpu.summary.status).toBe('completed');
  // Layer names carry tfjs's global counters, so scopes are matched by kind and layer index.
  const byPosition = (f: RegretFile) => new Map(Object.values(f.scopes).map((s) => [`${s.kind}:${s.layerIndex}`, s]));
  const cpuScopes = byPosition(cpu.regret);
  const gpuScopes = byPosition(gpu.regret);
  expect([...gpuScopes.keys()].sort()).toEqual([...cpuScopes.keys()].sort());
  for (const [key, s] of cpuScopes) {
    const g = gpuScopes.get(key)!.checkpoints.at(-1)!;
    const c = s.checkpoints.at(-1)!;
    c.ball.regret.forEach((r, i) => expect(Math.abs(g.ball.regret[i] - r), `${key} regret ${i}`).toBeLessThan(1e-3 * Math.max(Math.abs(r), 1e-3)));
  }
  expect(gpu.activation.novelty.raw).toEqual(cpu.activation.novelty.raw);
  expect(gpu.activation.switches).toEqual(cpu.activation.switches);
}

describe('plugins on webgpu', () => {
  it('regret (statistics: MSE on a dense net) and activation give the cpu results', async () => {
    const cpu = await run('cpu', false, meanSquaredError);
    const gpu = await run('webgpu', false, meanSquaredError);
    expect(Object.values(gpu.regret.scopes).filter((s) => s.method === 'statistics').length).toBeGreaterThan(0);
    expectSameResults(cpu, gpu);
  });

  it('regret (stored rounds: cross-entropy on a convnet with max-pooling) and activation give the cpu results', async () => {
    const cpu = await run('cpu', true, softmaxCrossEntropy);
    const gpu = await run('webgpu', true, softmaxCrossEntropy);
    expect(Object.values(gpu.regret.scopes).every((s) => s.method === 'rounds')).toBe(true);
    expectSameResults(cpu, gpu);
  });
});
