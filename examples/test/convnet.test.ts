// The convnet experiment at a tiny scale (4 filters, 16 hidden units, 256 MNIST images, 1 epoch)
// through its exported main(); and --cifar on a folder of synthetic CIFAR-10 binary batches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR_RECORD } from '@taylorlens/core';
import { experimentConfig, main } from '../convnet/run.js';
import type { SweepResult } from '../autoencoder-mnist/sweep.js';
import { figure, figures, metricsRows, readJson } from './helpers/report.js';

let out: string;
let result: SweepResult;
let seconds: number;
const logged: string[] = [];
const io = { log: (l: string) => logged.push(l), warn: (l: string) => logged.push(l) };

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-convnet-example-'));
  const t0 = Date.now();
  const args = ['--filters', '4', '--hidden', '16', '--epochs', '1', '--limit', '256', '--optimizers', 'adam,sgd-0.1', '--out', out, '--backend', 'wasm'];
  result = (await main(args, io))!;
  seconds = (Date.now() - t0) / 1000;
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('examples/convnet', () => {
  it("defaults to the paper's convnet: 3 × (64 conv 5×5 ReLU, 2×2 max-pool), dense 192 ReLU, dense 10, softmax cross-entropy, batch 128", () => {
    const cfg = experimentConfig({});
    expect(cfg.model.layers.map((l) => `${l.type}${'filters' in l ? ` ${l.filters}×${l.kernelSize} ${l.activation}` : ''}${'units' in l ? ` ${l.units} ${l.activation}` : ''}${'poolSize' in l ? ` ${l.poolSize}` : ''}`)).toEqual([
      'conv2d 64×5 relu', 'maxPooling2d 2', 'conv2d 64×5 relu', 'maxPooling2d 2', 'conv2d 64×5 relu', 'maxPooling2d 2', 'flatten', 'dense 192 relu', 'dense 10 linear',
    ]);
    expect(cfg).toMatchObject({ batchSize: 128, epochs: 20, model: { loss: 'softmaxCrossEntropy', input: [28, 28, 1] }, data: { source: 'mnist', target: 'labels' } });
    expect(cfg.data.limit).toBeUndefined(); // all 60,000
    const regret = cfg.plugins!.find((p) => p.name === 'regret')!.options!;
    expect(regret.neurons).toMatchObject({ layers: ['conv2d_0', 'conv2d_2', 'conv2d_4'], perLayer: 50 });
    expect(regret.network).toMatchObject({ enabled: true });
    expect(experimentConfig({ 'no-network': true }).plugins!.find((p) => p.name === 'regret')!.options).toMatchObject({ network: { enabled: false } });
  });

  it('runs at reduced width: a completed run folder per optimizer with regret on the conv neurons, activations and a report', () => {
    expect(result.runs.map((r) => [r.label, r.status]), logged.join('\n')).toEqual([['adam', 'completed'], ['sgd-0.1', 'completed']]);
    for (const r of result.runs) {
      const run = readJson(path.join(r.dir, 'run.json'));
      expect(run.config.model.layers.filter((l: { type: string }) => l.type === 'conv2d').map((l: { filters: number }) => l.filters)).toEqual([4, 4, 4]);
      expect(run.config.model.layers.at(-2).units).toBe(16);
      expect(metricsRows(r.dir).filter((x) => x.kind === 'round')).toHaveLength(2); // 256 / 128
      const regret = readJson(path.join(r.dir, 'regret', 'regret.json'));
      for (const key of ['neurons:conv2d_0', 'neurons:conv2d_2', 'neurons:conv2d_4']) {
        expect(regret.scopes[key].problems, key).toBe(4); // every filter: fewer than 50
        expect(regret.scopes[key].checkpoints, key).toHaveLength(1);
      }
      expect(readJson(path.join(r.dir, 'activation', 'activation.json'))).toMatchObject({ probes: 256, snapshots: 2 });
      expect(fs.existsSync(path.join(r.dir, 'report.html'))).toBe(true);
    }
    const html = fs.readFileSync(result.compare.path, 'utf8');
    expect(result.compare.warnings).toEqual([]);
    expect(figure(figures(html), 'Training loss per run').lines).toBe(2);
    console.log(`convnet example, 4 filters, 2 optimizers × 1 epoch × 256 images: ${seconds.toFixed(1)} s`);
  });

  it('trains on CIFAR-10 binary batches with --cifar (32×32×3 inputs)', async () => {
    const dir = path.join(out, 'cifar');
    fs.mkdirSync(dir);
    // Synthetic batches in the real format (label byte + 3072 CHW pixel bytes): the real files are 170 MB.
    let seed = 1;
    const byte = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
    for (const name of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
      const bytes = new Uint8Array(40 * CIFAR_RECORD);
      for (let n = 0; n < 40; n++) {
        bytes[n * CIFAR_RECORD] = n % 10;
        for (let i = 1; i < CIFAR_RECORD; i++) bytes[n * CIFAR_RECORD + i] = byte();
      }
      fs.writeFileSync(path.join(dir, name), bytes);
    }
    const r = (await main(['--cifar', dir, '--filters', '2', '--hidden', '8', '--epochs', '1', '--limit', '128', '--optimizers', 'rmsprop', '--out', path.join(out, 'c')], io))!;
    expect(r.runs.map((x) => x.status), logged.join('\n')).toEqual(['completed']);
    const run = readJson(path.join(r.runs[0].dir, 'run.json'));
    expect(run.name).toBe('convnet-cifar10-rmsprop');
    expect(run.config.model.input).toEqual([32, 32, 3]);
    expect(run.config.data).toMatchObject({ source: 'cifar10', dir, limit: 128, testLimit: 128 });
    expect(run.data).toContain(`cifar10 (from ${dir}) train 128`);
  });
});
