// Nothing silent (issue #16, item 7): `compare` names what it leaves out and why; a checkpoint solve
// says what it is doing (`phase` events, shown by the CLI); values whose solver did not converge are
// drawn differently in every regret figure.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { buildReport, meanSquaredError, selectBackend, Trainer, type PhaseEvent } from '@taylorlens/core';
import { RegretPlugin, compareSections, reportSections, type RegretFile } from '@taylorlens/plugin-regret';
import { main, memoryIo } from '@taylorlens/cli';
import { onlyRun, tempProject, type Project } from '../../core/test/fixtures/project.js';
import { writeBatteryData } from '../../core/test/helpers/battery.js';
import { randomData, tinyDense } from '../../core/test/helpers/models.js';
import { tempStore } from './helpers/store.js';

type Json = Record<string, any>;

let project: Project;
beforeAll(async () => {
  await selectBackend('cpu');
  project = tempProject('taylorlens-silent-');
  writeBatteryData(project.dir);
});
afterAll(() => project.cleanup());

/** A 36-8-8-36 autoencoder on the battery's 48 6×6 images, 6 rounds an epoch, through the CLI. */
async function cliRun(name: string, plugins: Json[], epochs = 1) {
  const c = {
    name, seed: 1, epochs, batchSize: 8, backend: 'cpu',
    model: { input: [36], layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 36 }], loss: 'mse' },
    data: { source: 'idx', trainImages: 'data/images.idx', trainLabels: 'data/labels.idx', target: 'input', flatten: true },
    optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
    output: { dir: `runs-${name}` },
    plugins,
  };
  const file = path.join(project.dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(c, null, 2));
  const io = memoryIo(project.dir);
  const code = await main(['run', file], io);
  expect(code, io.err()).toBe(0);
  return { dir: onlyRun(path.join(project.dir, `runs-${name}`)), out: io.out() };
}

const onlyLayer = (layer: number) => ({ name: 'regret', options: { network: { enabled: false }, neurons: { enabled: false }, layers: { layers: [layer] }, budget: { maxOverhead: 1e6 } } });

describe('compare says what it leaves out', () => {
  it('two runs with disjoint regret scopes (and one without the plugin): named with why, on stderr and in the report', async () => {
    const a = await cliRun('first-layer', [onlyLayer(0)]);
    const b = await cliRun('second-layer', [onlyLayer(1)]);
    const c = await cliRun('no-plugins', []);
    // The run's plain progress names the checkpoint solve (phase events).
    expect(a.out).toMatch(/^regret: solving checkpoint \(epoch 1\) 0\/1 · finishing the recorded rounds$/m);
    expect(a.out).toMatch(/^regret: solving checkpoint \(epoch 1\) 1\/1 · 1 scope solved \(\d+\.\d s\)$/m);

    const io = memoryIo(project.dir);
    const code = await main(['compare', a.dir, b.dir, c.dir, '--out', 'cmp'], io);
    expect(code, io.err()).toBe(0);
    const err = io.err().split('\n');
    // Each run's scopes, by position and layer name.
    const line = err.find((l) => l.startsWith('regret: left out — '));
    expect(line, io.err()).toMatch(/^regret: left out — the runs share no scope this comparison plots, a layer or the network recorded in every run \(first-layer: layer 1 \(dense_\d+\); second-layer: layer 2 \(dense_\d+\)\)$/);
    expect(err).toContain('regret, run "no-plugins": left out — the run did not use this plugin');
    const html = fs.readFileSync(path.join(project.dir, 'cmp', 'report.html'), 'utf8');
    expect(html).toContain('Left out of this comparison');
    expect(html).toContain('regret: left out — the runs share no scope this comparison plots');
    expect(html).toContain('regret, run &quot;no-plugins&quot;: left out — the run did not use this plugin');
    expect(html).not.toContain('Regret per optimizer');
  });

  it('a run folder without regret.json among the compared runs is named in the section', async () => {
    const a = await cliRun('with-regret', [onlyLayer(0)]);
    const b = await cliRun('regret-file-gone', [onlyLayer(0)]);
    fs.rmSync(path.join(b.dir, 'regret', 'regret.json'));
    const sections = await compareSections([{ label: 'a', dir: a.dir }, { label: 'b', dir: b.dir }]);
    expect(sections).toHaveLength(1);
    expect(sections[0].leftOut).toBeUndefined();
    expect(sections[0].notes).toEqual([`b: no regret/regret.json in ${b.dir}; the run is not in this comparison.`]);
    const none = await compareSections([{ label: 'b', dir: b.dir }]);
    expect(none[0].leftOut).toBe(`no run has regret/regret.json (b: ${b.dir})`);
  });
});

describe('checkpoint solves report their phase', () => {
  it('a tiny regret run emits a phase event before each scope it solves, and one when done', async () => {
    const store = tempStore();
    const model = tinyDense([5, 4, 3, 4], 3);
    const optimizer = tf.train.adam(0.01);
    const plugin = new RegretPlugin({ network: { every: 2 }, neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } });
    const trainer = new Trainer(model, { loss: meanSquaredError, optimizer, plugins: [plugin], store });
    const phases: PhaseEvent[] = [];
    const order: string[] = [];
    trainer.events.on('phase', (e) => { phases.push(e); order.push('phase'); });
    trainer.events.on('regret:checkpoint', (e) => order.push(`checkpoint ${e.epoch}`));
    const { x, y } = randomData(24, [5], 4, 11, false);
    await trainer.fit(x, y, { epochs: 2, batchSize: 6, seed: 1 });
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    const json = JSON.parse(fs.readFileSync(path.join(store.dir, 'regret', 'regret.json'), 'utf8')) as RegretFile;
    const keys = Object.keys(json.scopes);
    expect(keys.length).toBe(7); // network, 3 layers, 3 neuron scopes
    // The scopes that need the model solve first (the network's replays), the statistics scopes
    // after them (their decompositions run on the eigen worker meanwhile), each in its order.
    const solving = [...keys.filter((k) => k === 'network'), ...keys.filter((k) => k !== 'network')];
    for (const epoch of [1, 2]) {
      const mine = phases.filter((p) => p.phase === `regret: solving checkpoint (epoch ${epoch})`);
      expect(mine.map((p) => [p.done, p.total, p.detail])).toEqual([
        [0, 7, 'finishing the recorded rounds'],
        ...solving.map((k, i) => [i, 7, `scope ${i + 1}/7 ${k}`]),
        [7, 7, '7 scopes solved'],
      ]);
    }
    // Each checkpoint's phase ends before its checkpoint event.
    expect(order.filter((o) => o !== 'phase')).toEqual(['checkpoint 1', 'checkpoint 2']);
    expect(order.indexOf('checkpoint 1')).toBe(9);
    store.cleanup();
  });
});

describe('unconverged values are drawn differently in every figure', () => {
  it('one unconverged checkpoint: hollow point and dashed segments in each figure that plots it, one and compare', async () => {
    const run = await cliRun('unconverged', [{ name: 'regret', options: { network: { enabled: false }, neurons: { perLayer: 2 }, layers: { layers: [0] }, readings: ['hindsight', 'perRound'], budget: { maxOverhead: 1e6 } } }], 3);
    const file = path.join(run.dir, 'regret', 'regret.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as RegretFile;
    const scopes = Object.values(json.scopes);
    for (const s of scopes) expect(s.checkpoints.every((c) => c.ball.solver.every((r) => r.converged && r.certified !== false))).toBe(true);
    // Every figure of the converged run: no unconverged encoding.
    const plain = (await reportSections(run.dir))[0];
    for (const f of plain.figures) expect(JSON.stringify(f.spec)).not.toContain('strokeDash');
    // Mark one value as missing its certificate (as a solve that ran out of iterations does), one per-round reading as not converged.
    const layer = scopes.find((s) => s.kind === 'layer')!;
    layer.checkpoints[0].ball.solver[0] = { ...layer.checkpoints[0].ball.solver[0], converged: false, certified: false, stop: 'iterations' };
    const neurons = scopes.find((s) => s.kind === 'neurons')!;
    neurons.checkpoints[0].perRound!.converged = false;
    fs.writeFileSync(file, JSON.stringify(json));
    const [section] = await reportSections(run.dir);
    const [compare] = await compareSections([{ label: 'a', dir: run.dir }, { label: 'b', dir: run.dir }]);
    const figures = [...section.figures, ...compare.figures].map((f) => f.spec as Json);
    const titles = figures.map((f) => (typeof f.title === 'string' ? f.title : f.title.text));
    expect(titles).toEqual([
      'Normalised cumulative regret of neurons, per layer',
      'Normalised cumulative regret of layers and network',
      'Regret: hindsight and per-round readings',
      expect.stringMatching(/^Loss, Taylor optimum and regret: neurons 1/),
      expect.stringMatching(/^Loss, Taylor optimum and regret: neurons 2/),
      expect.stringMatching(/^Normalised regret, layer 1/),
      expect.stringMatching(/^Cumulative loss and Taylor-optimal loss, layer 1/),
    ]);
    // The figures that plot the layer's value or the per-round reading draw it hollow and dashed; the neurons' own figures do not.
    const flagged = figures.map((f) => JSON.stringify(f).includes('"strokeDash"'));
    expect(flagged).toEqual([false, true, true, false, false, true, true]);
    for (const f of figures.filter((_, i) => flagged[i])) {
      const bad = f.data.values.filter((r: Json) => r.converged === false);
      expect(bad.length).toBeGreaterThanOrEqual(1);
      const hollow = f.layer.find((l: Json) => l.mark.type === 'point' && l.mark.filled === false);
      expect(hollow.transform).toEqual([{ filter: 'datum["converged"] === false' }]);
      const dashed = f.layer.find((l: Json) => l.mark.strokeDash);
      expect(dashed.data.values.length).toBeGreaterThanOrEqual(2);
      expect(f.title.subtitle).toContain('hollow points, dashed lines: solver not converged (estimates)');
    }
    const html = await buildReport({ title: 't', meta: {}, sections: [section, compare] as never }, { strict: true });
    expect((html.match(/stroke-dasharray="5,4"/g) ?? []).length).toBeGreaterThanOrEqual(4);
  });
});
