import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { buildReport, decodeNpy, defineLoss, meanSquaredError, OptionsError, readJsonl, selectBackend, softmaxCrossEntropy, Trainer, type MetricsRow } from '@taylorlens/core';
import { RegretPlugin, taylorlensPlugin, type RegretFile } from '@taylorlens/plugin-regret';
import { tinyConv, tinyDense, randomData } from '../../core/test/helpers/models.js';
import { tempStore } from './helpers/store.js';

async function run(opts: object, { epochs = 3, trace = 0, loss = meanSquaredError, conv = false, seed = 1, lr = 0.01 } = {}) {
  const store = tempStore(trace);
  const model = conv ? tinyConv(2, { input: [6, 6, 1], filters: 2, classes: 3 }) : tinyDense([5, 4, 3, 4], 3);
  const optimizer = tf.train.adam(lr);
  const plugin = new RegretPlugin(opts);
  const trainer = new Trainer(model, { loss, optimizer, plugins: [plugin], store });
  const events: Record<string, unknown[]> = {};
  for (const name of ['regret:cost', 'regret:checkpoint', 'warning', 'epoch']) trainer.events.on(name, (e) => { (events[name] ??= []).push(e); });
  const { x, y } = randomData(24, conv ? [6, 6, 1] : [5], conv ? 3 : 4, 11, loss === softmaxCrossEntropy);
  const summary = await trainer.fit(x, y, { epochs, batchSize: 6, seed });
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  const json = JSON.parse(fs.readFileSync(path.join(store.dir, 'regret', 'regret.json'), 'utf8')) as RegretFile;
  return { store, plugin, events, json, summary };
}

describe('outputs', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('regret.json, losses.npy, events, epoch-row numbers and trace files', async () => {
    const { store, events, json, summary } = await run({ network: { every: 2 }, neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } }, { trace: 3 });
    expect(summary.status).toBe('completed');
    expect(json.format).toBe('taylorlens.regret/1');
    expect(json.status).toBe('completed');
    expect(json.rounds).toBe(12);
    const kinds = Object.values(json.scopes).map((s) => `${s.kind}:${s.layerIndex}`).sort();
    expect(kinds).toEqual(['layer:0', 'layer:1', 'layer:2', 'network:null', 'neurons:0', 'neurons:1', 'neurons:2']);
    for (const s of Object.values(json.scopes)) {
      expect(s.checkpoints.map((c) => c.epoch)).toEqual([1, 2, 3]);
      const c = s.checkpoints[2];
      expect(c.round).toBe(12);
      expect(c.recordedRounds).toBe(s.kind === 'network' ? 6 : 12);
      expect(c.ball.solver.every((r) => r.converged)).toBe(true);
      expect(c.normalized.regret[0]).toBeCloseTo(c.ball.regret[0] / Math.sqrt(c.recordedRounds), 10);
      if (s.method === 'statistics') expect(c.unconstrained!.rank.length).toBe(s.problems);
    }
    const losses = decodeNpy(fs.readFileSync(path.join(store.dir, 'regret', 'losses.npy')));
    expect(losses.shape).toEqual([12]);
    // ℓ_n is the float64 reduction of the round's float32 outputs and targets (traced rounds 1-3).
    expect(json.lossReduction).toBe('float64 on the host');
    for (const n of [1, 2, 3]) {
      const dir = path.join(store.traceDir!, 'regret', `round-00000${n}`);
      const [f, y] = ['f', 'y'].map((k) => decodeNpy(fs.readFileSync(path.join(dir, `${k}.npy`))).data);
      let sum = 0;
      for (let i = 0; i < f.length; i++) sum += (f[i] - y[i]) ** 2;
      expect(losses.data[n - 1]).toBe(sum / f.length);
    }
    expect(events['regret:cost']).toHaveLength(1);
    expect(events['regret:checkpoint']).toHaveLength(3);
    const rows = events.epoch as MetricsRow[];
    const layerKey = Object.keys(json.scopes).find((k) => k.startsWith('layer:'))!.slice(6);
    expect(typeof rows[2][`regret.layer.${layerKey}.normalized`]).toBe('number');
    expect(typeof rows[2][`regret.neurons.${layerKey}.mean`]).toBe('number');
    expect(typeof rows[2]['regret.network.normalized']).toBe('number');
    // Trace: rounds 1-3 with τ^n(W_{n+1}) per scope, and the optima per checkpoint.
    const traced = readJsonl<{ round: number; loss: number; taylorNext: Record<string, number[]> }>(path.join(store.traceDir!, 'regret', 'rounds.jsonl')).rows;
    expect(traced.map((r) => r.round)).toEqual([1, 2, 3]);
    for (const r of traced) {
      expect(Object.keys(r.taylorNext).sort()).toEqual(Object.keys(json.scopes).sort());
      for (const [k, v] of Object.entries(r.taylorNext)) expect(v).toHaveLength(json.scopes[k].problems);
    }
    expect(fs.existsSync(path.join(store.traceDir!, 'regret', 'round-000001', 'w_next.npy'))).toBe(true);
    const ck = path.join(store.traceDir!, 'regret', 'checkpoint-epoch-0003');
    const opt = decodeNpy(fs.readFileSync(path.join(ck, 'network.optimum.npy')));
    const centre = decodeNpy(fs.readFileSync(path.join(ck, 'network.centre.npy')));
    let d = 0;
    for (let i = 0; i < opt.data.length; i++) d += (opt.data[i] - centre.data[i]) ** 2;
    expect(Math.sqrt(d)).toBeLessThanOrEqual(json.scopes.network.checkpoints[2].ball.radius[0] * (1 + 1e-6));
    store.cleanup();
  });

  it('report sections (Fig. 3) and comparison sections (Fig. 4) render from the run folders alone', async () => {
    const opts = { network: { enabled: false }, neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } };
    const a = await run(opts, { seed: 1 });
    const b = await run(opts, { seed: 2, lr: 0.05 });
    const sections = await taylorlensPlugin.reportSections!(a.store.dir);
    expect(sections).toHaveLength(1);
    expect(sections[0].figures.length).toBe(4);
    const compare = await taylorlensPlugin.compareSections!([{ label: 'adam 0.01', dir: a.store.dir }, { label: 'adam 0.05', dir: b.store.dir }]);
    expect(compare[0].figures).toHaveLength(2);
    const html = await buildReport({ title: 't', meta: {}, sections: [...sections, ...compare] as never }, { strict: true });
    expect(html).toContain('Regret against the hindsight Taylor optimum');
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(6);
    a.store.cleanup();
    b.store.cleanup();
  });

  it('stored rounds spilled to disk give the same optima as rounds kept in memory', async () => {
    const opts = (memoryMB: number) => ({ network: { every: 1 }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: 4, every: 1 }, budget: { memoryMB, maxOverhead: 1e6 }, checkpoint: { everyEpochs: 3 } });
    const mem = await run(opts(1024), { loss: softmaxCrossEntropy, conv: true });
    const disk = await run(opts(0.001), { loss: softmaxCrossEntropy, conv: true });
    const files = fs.readdirSync(path.join(disk.store.dir, 'regret', 'rounds'), { recursive: true }).filter((f) => String(f).endsWith('.npy'));
    expect(files.length).toBeGreaterThan(10);
    const diskScopes = Object.values(disk.json.scopes);
    for (const [i, s] of Object.values(mem.json.scopes).entries()) {
      const m = s.checkpoints.at(-1)!;
      const d = diskScopes[i].checkpoints.at(-1)!;
      expect(d.recordedRounds).toBe(m.recordedRounds);
      d.ball.phi.forEach((v, i) => expect(v).toBeCloseTo(m.ball.phi[i], 5));
    }
    mem.store.cleanup();
    disk.store.cleanup();
  });

  it('γ is measured before the run: MSE keeps statistics, a "quadratic" loss of another form falls back to stored rounds', async () => {
    const mse = await run({ network: { enabled: false }, neurons: { perLayer: 1 }, budget: { maxOverhead: 1e6 } }, { epochs: 1 });
    expect(mse.json.squaredErrorScale).toBeCloseTo(1 / 4, 6); // tinyDense's 4 outputs
    expect(Object.values(mse.json.scopes).every((s) => s.method === 'statistics')).toBe(true);
    // Squared error plus a linear term: quadratic, but not (γ/B)Σ‖f − y‖².
    const shifted = defineLoss({ name: 'mse+linear', quadratic: true, compute: (f, y) => tf.add(meanSquaredError.compute(f, y), tf.mul(tf.mean(f), 0.1)) });
    const other = await run({ network: { enabled: false }, neurons: { perLayer: 1 }, budget: { maxOverhead: 1e6 } }, { epochs: 1, loss: shifted });
    expect(other.json.squaredErrorScale).toBeNull();
    expect(Object.values(other.json.scopes).every((s) => s.method === 'rounds')).toBe(true);
    expect(other.json.scopes[Object.keys(other.json.scopes)[0]].checkpoints[0].ball.regret.every(Number.isFinite)).toBe(true);
    mse.store.cleanup();
    other.store.cleanup();
  });

  it('a resumed run keeps the earlier session\'s regret.json and losses.npy, and says where its own sums start', async () => {
    const store = tempStore();
    const model = tinyDense([5, 4, 3, 4], 3);
    const { x, y } = randomData(24, [5], 4, 11);
    const opts = { network: { enabled: false }, neurons: { perLayer: 1 }, budget: { maxOverhead: 1e6 } };
    const first = new Trainer(model, { loss: meanSquaredError, optimizer: tf.train.sgd(0.05), plugins: [new RegretPlugin(opts)], store });
    await first.fit(x, y, { epochs: 2, batchSize: 6, seed: 1 });
    const state = first.state();
    const warnings: string[] = [];
    const second = new Trainer(model, { loss: meanSquaredError, optimizer: tf.train.sgd(0.05), plugins: [new RegretPlugin(opts)], store });
    second.events.on('warning', (w) => warnings.push((w as { message: string }).message));
    await second.fit(x, y, { epochs: 3, batchSize: 6, seed: 1, resume: state });
    const dir = path.join(store.dir, 'regret');
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as RegretFile;
    const earlier = read('regret.session-1.json');
    expect(Object.values(earlier.scopes)[0].checkpoints.map((c) => c.epoch)).toEqual([1, 2]);
    expect(decodeNpy(fs.readFileSync(path.join(dir, 'losses.session-1.npy'))).shape).toEqual([8]);
    const now = read('regret.json');
    expect(now.firstRound).toBe(9);
    expect(now.previousSessions).toEqual([{ regret: 'regret.session-1.json', losses: 'losses.session-1.npy' }]);
    expect(Object.values(now.scopes)[0].checkpoints.map((c) => [c.epoch, c.recordedRounds])).toEqual([[3, 4]]);
    expect(warnings.some((w) => /resumed run.*kept in regret\.session-1\.json/.test(w))).toBe(true);
    tf.dispose([x, y]);
    model.dispose();
    store.cleanup();
  });

  it('a reservoir keeps a fixed number of rounds', async () => {
    const { json, store } = await run({ layers: { enabled: false }, neurons: { enabled: false }, network: { every: 1, reservoir: 5 }, budget: { maxOverhead: 1e6 } }, { loss: softmaxCrossEntropy });
    expect(json.scopes.network.checkpoints.map((c) => c.recordedRounds)).toEqual([4, 5, 5]);
    store.cleanup();
  });
});

describe('options and the cost check', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('rejects unknown options and reservoirs on statistics scopes', () => {
    expect(() => new RegretPlugin({ nuerons: {} })).toThrow(OptionsError);
    const t = new Trainer(tinyDense([5, 4, 3, 4], 3), { loss: meanSquaredError, optimizer: tf.train.sgd(0.1) });
    expect(() => t.use(new RegretPlugin({ layers: { reservoir: 3 } }))).toThrow(/reservoir/);
    expect(() => t.use(new RegretPlugin({ layers: { layers: ['nope'] } }))).toThrow(/"nope"/);
  });

  it('refuses an explicit scope that cannot fit, naming it and the knob to turn; skips default ones with a warning', async () => {
    await expect(run({ layers: { layers: [0] }, budget: { memoryMB: 0.0001 } }, { epochs: 1 })).rejects.toThrow(/scope "layer:dense_Dense\d+" needs .* MB of statistics.*budget\.memoryMB/);
    // The knobs are named as they are spelled in the options: layers.every, not layer.every.
    await expect(run({ layers: { layers: [0] }, network: { enabled: false }, neurons: { enabled: false }, budget: { maxOverhead: 1e-6 } }, { epochs: 1 }))
      .rejects.toThrow(/costs about .* a training step per round .*\(layers\.every\), fewer layers \(layers\.layers\)/);
    const { json, events, store } = await run({ network: { every: 1 }, budget: { maxOverhead: 0.05 } }, { epochs: 1 });
    expect(json.cost!.skipped.length).toBeGreaterThan(0);
    expect(json.cost!.skipped[0].reason).toMatch(/budget\.maxOverhead/);
    expect((events.warning as { message: string }[]).some((w) => /skipping scope/.test(w.message))).toBe(true);
    expect(json.cost!.totalOverhead).toBeLessThanOrEqual(0.05);
    store.cleanup();
  });
});
