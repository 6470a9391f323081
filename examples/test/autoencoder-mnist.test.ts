// The autoencoder experiment at a tiny scale (128 MNIST images, 2 epochs, two optimizers, 3 neurons per layer) through
// its exported main(), then `taylorlens compare` on its two runs, rendered in headless Chromium.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy, loadConfigFile } from '@taylorlens/core';
import { main as taylorlens, memoryIo } from '@taylorlens/cli';
import { renderInChromium } from '../../packages/core/test/helpers/chromium.js';
import { experimentConfig, main } from '../autoencoder-mnist/run.js';
import type { SweepResult } from '../autoencoder-mnist/sweep.js';
import { figure, figures, metricsRows, readJson } from './helpers/report.js';

let out: string;
let result: SweepResult;
let seconds: number;
const logged: string[] = [];

beforeAll(async () => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-ae-example-'));
  const t0 = Date.now();
  const args = ['--epochs', '2', '--limit', '128', '--neurons', '3', '--optimizers', 'adam,sgd-0.1', '--out', out, '--backend', 'wasm'];
  result = (await main(args, { log: (l) => logged.push(l), warn: (l) => logged.push(l) }))!;
  seconds = (Date.now() - t0) / 1000;
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('examples/autoencoder-mnist', () => {
  it("writes one valid config per optimizer with the paper's setup", async () => {
    expect(result.runs.map((r) => r.label)).toEqual(['adam', 'sgd-0.1']);
    const cfg = readJson(path.join(out, 'configs', 'sgd-0.1.json'));
    expect(cfg.model.layers.map((l: { units: number }) => l.units)).toEqual([50, 30, 20, 30, 50, 784]);
    expect(cfg.model.layers.map((l: { activation: string }) => l.activation)).toEqual(['relu', 'relu', 'relu', 'relu', 'relu', 'linear']);
    expect(cfg).toMatchObject({
      name: 'ae-mnist-sgd-0.1', seed: 1, epochs: 2, batchSize: 64, model: { loss: 'mse' },
      data: { source: 'mnist', target: 'input', limit: 128, testLimit: 128 },
      optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
    });
    const plugins = Object.fromEntries(cfg.plugins.map((p: { name: string; options: unknown }) => [p.name, p.options]));
    expect(plugins.regret).toMatchObject({ layers: { layers: 'all' }, neurons: { perLayer: 3 }, network: { enabled: true, every: 100 } });
    expect(plugins.activation).toEqual({ probeSize: 1000, every: { epochs: 1 } });
    expect(readJson(path.join(out, 'configs', 'adam.json')).optimizer).toEqual({ name: 'adam', options: {} });
    // Without flags: the paper's setup on all of MNIST.
    const paper = experimentConfig({});
    expect(paper).toMatchObject({ epochs: 20, seed: 1, data: { testLimit: 10_000 } });
    expect(paper.data.limit).toBeUndefined();
    expect(paper.plugins!.find((p) => p.name === 'regret')!.options).toMatchObject({ neurons: { perLayer: 50 } });
    // --help: the script's own flags, then the ones every paper sweep shares.
    const help: string[] = [];
    expect(await main(['--help'], { log: (l) => help.push(l) })).toBeNull();
    expect(help.join('\n')).toMatch(/--input-neurons[\s\S]*--epochs[\s\S]*--no-network[\s\S]*--backend/);
    // --input-neurons thins the input layer only.
    const thin = experimentConfig({ 'input-neurons': '10', 'no-network': true });
    expect(thin.plugins!.find((p) => p.name === 'regret')!.options).toMatchObject({
      neurons: { perLayer: { dense_0: 10, dense_1: 50, dense_2: 50, dense_3: 50, dense_4: 50 } }, network: { enabled: false },
    });
    // --network-every thins the network scope's stored rounds only.
    expect(experimentConfig({ 'network-every': '1000' }).plugins!.find((p) => p.name === 'regret')!.options).toMatchObject({ network: { enabled: true, every: 1000 } });
    expect(() => experimentConfig({ 'network-every': '0' })).toThrow(/--network-every must be a positive integer, got "0"/);
    // Each config stands alone: `taylorlens run <out>/configs/adam.json` would repeat the run.
    const resolved = await loadConfigFile(path.join(out, 'configs', 'adam.json'), path.resolve('examples'));
    expect(resolved.plugins.map((p) => p.module.name)).toEqual(['regret', 'activation']);
  });

  it('produces a completed run folder per optimizer with both plugins\' results and a report', () => {
    for (const r of result.runs) {
      expect(r.status, logged.join('\n')).toBe('completed');
      const run = readJson(path.join(r.dir, 'run.json'));
      expect(run.status).toBe('completed');
      expect(run.summary.epochsCompleted).toBe(2);
      expect(metricsRows(r.dir).filter((x) => x.kind === 'round')).toHaveLength(4); // 128 / 64 × 2
      expect(fs.existsSync(path.join(r.dir, 'report.html'))).toBe(true);
      const regret = readJson(path.join(r.dir, 'regret', 'regret.json'));
      expect(Object.keys(regret.scopes).sort()).toEqual([...[1, 2, 3, 4, 5].map((i) => `layer:dense_${i}`), 'network', ...[0, 1, 2, 3, 4].map((i) => `neurons:dense_${i}`)]);
      // Every layer the memory budget holds: the input layer's (785 × 50 parameters) does not fit in the default 1 GB.
      expect(regret.cost.skipped).toEqual([{ key: 'layer:dense_0', reason: expect.stringMatching(/needs \d+\.\d MB of statistics \(budget.memoryMB = 1024/) }]);
      for (let l = 0; l < 5; l++) expect(regret.scopes[`neurons:dense_${l}`].problems).toBe(3); // --neurons 3
      for (const s of Object.values(regret.scopes) as { checkpoints: unknown[] }[]) expect(s.checkpoints).toHaveLength(2);
      const activation = readJson(path.join(r.dir, 'activation', 'activation.json'));
      expect(activation).toMatchObject({ probes: 128, units: 180, snapshots: 3 }); // all 128 images; start + 2 epochs
    }
    expect(logged.join('\n')).toContain(`compare report: ${path.join(out, 'compare', 'report.html')}`);
  });

  it('starts every optimizer from the same weights on the same batches', () => {
    const [a, b] = result.runs.map((r) => metricsRows(r.dir).find((x) => x.kind === 'round' && x.round === 1)!.loss);
    expect(a).toBe(b); // round 1's loss is taken before the first update
    const [ca, cb] = result.runs.map((r) => decodeNpy(fs.readFileSync(path.join(r.dir, 'activation', 'configurations.npy'))));
    const first = (c: typeof ca) => Buffer.from((c.data as Uint8Array).subarray(0, c.shape[1] * c.shape[2]));
    expect(first(ca).equals(first(cb))).toBe(true); // snapshot 0: initial weights, same probes
    expect(Buffer.from(ca.data as Uint8Array).equals(Buffer.from(cb.data as Uint8Array))).toBe(false); // then they part
    console.log(`autoencoder example, 2 optimizers × 2 epochs × 128 images: ${seconds.toFixed(1)} s (${result.runs.map((r) => `${r.label} ${r.wallSeconds.toFixed(1)} s`).join(', ')})`);
  });
});

describe('taylorlens compare on the two runs', () => {
  it('renders in Chromium with no console errors, one line per run in every figure (Figs. 4, 5, 6) and a table of final numbers', async () => {
    const io = memoryIo(out);
    const code = await taylorlens(['compare', ...result.runs.map((r) => r.dir), '--out', 'cmp'], io);
    expect(code, io.err()).toBe(0);
    const r = await renderInChromium(path.join(out, 'cmp', 'report.html'));
    expect(r.consoleErrors, r.consoleMessages.join('\n')).toEqual([]);
    expect(r.networkRequests).toEqual([]);

    const names = ['ae-mnist-adam', 'ae-mnist-sgd-0.1'];
    const all = figures(r.dom);
    const oneLinePerRun = [
      'Training loss per run', // Fig. 6
      'Normalised regret, layer 3 (dense_2)', // Fig. 4a/b
      'Novelty over training', 'Switches per data point, sorted', 'Log-product of singular values per unit, sorted', // Fig. 5
    ];
    for (const title of oneLinePerRun) {
      const f = figure(all, title);
      expect(f.lines, title).toBe(2);
      expect(f.legend, title).toEqual(names);
      expect(f.series, title).toEqual(names);
    }
    // Fig. 4c: per run, the cumulative incurred loss and the cumulative Taylor-optimal loss.
    const cumulative = figure(all, /^Cumulative loss and Taylor-optimal loss/);
    expect(cumulative.lines).toBe(4);
    expect(cumulative.legend).toEqual(names.flatMap((n) => [`${n}: incurred`, `${n}: Taylor optimum`]));
    expect(all).toHaveLength(oneLinePerRun.length + 1);
    // The final-numbers table: one row per run.
    const table = /<table class="data"><caption>Final numbers per run<\/caption>[\s\S]*?<\/table>/.exec(r.dom)![0];
    const rows = [...table.matchAll(/<tbody>([\s\S]*?)<\/tbody>/g)][0][1].match(/<tr>/g);
    expect(rows).toHaveLength(2);
    for (const n of names) expect(table).toContain(`<td>${n}</td>`);
  });
});

describe('the sweep flags', () => {
  it('reads --optimizers as <name> or <name>-<learning rate>, and rejects what it cannot read', async () => {
    const { parseOptimizers, PAPER_OPTIMIZERS } = await import('../autoencoder-mnist/sweep.js');
    expect(parseOptimizers(PAPER_OPTIMIZERS.join(','))).toEqual([
      { label: 'adam', name: 'adam', options: {} },
      { label: 'rmsprop', name: 'rmsprop', options: {} },
      { label: 'sgd-1.0', name: 'sgd', options: { learningRate: 1 } },
      { label: 'sgd-0.1', name: 'sgd', options: { learningRate: 0.1 } },
      { label: 'sgd-0.01', name: 'sgd', options: { learningRate: 0.01 } },
    ]);
    expect(parseOptimizers('adam-3e-4')[0].options).toEqual({ learningRate: 3e-4 });
    expect(() => parseOptimizers('sgd@0.1')).toThrow('not <name> or <name>-<learning rate>');
    await expect(main(['--epochs', '0'])).rejects.toThrow('--epochs must be a positive integer, got "0"');
    await expect(main(['--epoch', '1'])).rejects.toThrow(/Unknown option '--epoch'/);
    // Every config is validated before any training: a bad name last in the list costs nothing.
    const bad = path.join(out, 'bad');
    await expect(main(['--optimizers', 'adam,adamx', '--out', bad])).rejects.toThrow(/\/optimizer\/name: unknown optimizer "adamx"/);
    expect(fs.existsSync(path.join(bad, 'runs'))).toBe(false);
  });
});
