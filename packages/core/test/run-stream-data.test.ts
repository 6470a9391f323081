// A run config whose data are streamed (`data.source: "module"`): an ES module written by the test
// whose export, called with the CLI's own tfjs, returns a tf.data.Dataset-like of { xs, ys }
// batches made one at a time from generated data. The CLI trains on it with Trainer.fitDataset:
// the same weights (bit for bit) and the same plugin numbers as Trainer.fitDataset on the same
// stream through the library API, with the activation and regret plugins on; the stream is read
// batch by batch (batches made = rounds, at most one training batch alive, memory far below the
// data set's size); the run folder records the module's sha256 and that the data were streamed;
// the trace holds the streamed batches; resume continues where the stream was. Then every way a
// data module can be wrong, each refused before any work (exit 2, nothing written), naming the
// field and the file.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend.js';
import type { MetricsRow } from '../src/hooks.js';
import { buildModel } from '../src/run/model.js';
import { loadPluginModule } from '../src/run/plugins.js';
import type { ModelSpec } from '../src/run/config-types.js';
import type { TraceIndex } from '../src/run/trace.js';
import type { DatasetLike } from '../src/stream/dataset.js';
import { Trainer } from '../src/trainer.js';
import { onlyRun, readJson, readNpy, readRows, tempProject, type Project, writeNamedConfig, runCliIn } from './fixtures/project.js';

type Json = Record<string, any>;
let project: Project;
beforeAll(async () => {
  await selectBackend('cpu'); // the configs ask for cpu too: the library API trains on the same backend
  project = tempProject('taylorlens-stream-');
});
afterAll(() => project.cleanup());

const IN = 12;
const OUT = 4;
const BATCH = 16;

/** What a data module records of each call of its export (globalThis.__tlStream[name]). */
interface StreamStats {
  tf: typeof tf;
  seed: number;
  batchSize: number;
  /** iterator() calls, batches made, most batches made but not yet disposed, most tfjs bytes seen at a next(). */
  iterators: number;
  produced: number;
  maxLive: number;
  maxBytes: number;
}
const stats = (name: string): StreamStats[] => (globalThis as any).__tlStream?.[name] ?? [];

/**
 * A data module: N generated samples (x_ij = sin(0.37 i + 1.3 j), y a fixed linear map of x),
 * made one batch at a time in a fixed order; `endless`: passes repeat forever (size Infinity).
 */
function dataModule(name: string, o: { n: number; endless?: boolean; extra?: string } = { n: 96 }): string {
  const file = path.join(project.dir, 'data', `${name}.mjs`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `// test data module "${name}"
const N = ${o.n}, IN = ${IN}, OUT = ${OUT}, ENDLESS = ${Boolean(o.endless)};
export default function pipeline({ tf, seed, batchSize }) {
  const st = { tf, seed, batchSize, iterators: 0, produced: 0, maxLive: 0, maxBytes: 0 };
  ((globalThis.__tlStream ??= {})[${JSON.stringify(name)}] ??= []).push(st);
  let made = [];
  const batches = Math.ceil(N / batchSize);
  const batch = (b) => {
    const from = b * batchSize, size = Math.min(batchSize, N - from);
    const x = new Float32Array(size * IN), y = new Float32Array(size * OUT);
    for (let r = 0; r < size; r++) {
      const i = from + r;
      for (let j = 0; j < IN; j++) x[r * IN + j] = Math.sin(0.37 * i + 1.3 * j);
      for (let k = 0; k < OUT; k++) {
        let s = 0;
        for (let j = 0; j < IN; j++) s += x[r * IN + j] * Math.cos(j * (k + 1) + 1) * 0.5;
        y[r * OUT + k] = s;
      }
    }
    return { xs: tf.tensor2d(x, [size, IN]), ys: tf.tensor2d(y, [size, OUT]) };
  };
  return {
    size: ENDLESS ? Infinity : batches,
    async iterator() {
      st.iterators += 1;
      let b = 0;
      return {
        async next() {
          if (!ENDLESS && b >= batches) return { done: true, value: undefined };
          made = made.filter((t) => !t.isDisposed);
          st.maxLive = Math.max(st.maxLive, made.length / 2);
          st.maxBytes = Math.max(st.maxBytes, tf.memory().numBytes);
          const v = batch(b % batches);
          b += 1;
          st.produced += 1;
          made.push(v.xs, v.ys);
          return { done: false, value: v };
        },
      };
    },
  };
}
${o.extra ?? ''}
`);
  return `data/${name}.mjs`;
}

/** The samples the modules make, in their order: x [n, IN], y [n, OUT] as float32. */
function samples(from: number, size: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(size * IN);
  const y = new Float32Array(size * OUT);
  for (let r = 0; r < size; r++) {
    const i = from + r;
    for (let j = 0; j < IN; j++) x[r * IN + j] = Math.fround(Math.sin(0.37 * i + 1.3 * j));
    for (let k = 0; k < OUT; k++) {
      let s = 0;
      for (let j = 0; j < IN; j++) s += x[r * IN + j] * Math.cos(j * (k + 1) + 1) * 0.5;
      y[r * OUT + k] = s;
    }
  }
  return { x, y };
}

const MODEL: ModelSpec = {
  input: [IN],
  layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 6, activation: 'relu' }, { type: 'dense', units: OUT }],
  loss: 'mse',
};
const PLUGINS = [
  { name: 'regret', options: { neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } } },
  { name: 'activation', options: { probeSize: 8 } },
];

function config(name: string, data: Json, edit: (c: Json) => void = () => {}): string {
  const c: Json = {
    name, seed: 3, epochs: 2, batchSize: BATCH, backend: 'cpu',
    model: MODEL,
    data: { source: 'module', ...data },
    optimizer: { name: 'sgd', options: { learningRate: 0.05 } },
    output: { dir: `runs-${name}` },
  };
  return writeNamedConfig(project.dir, name, c, edit);
}

const cli = (...argv: string[]) => runCliIn(project.dir, argv);

function runWeights(dir: string): Float32Array[] {
  const index = readJson(path.join(dir, 'weights', 'index.json'));
  return index.weights.map((w: Json) => readNpy(path.join(dir, 'weights', w.file)).data as Float32Array);
}
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** The same model, optimizer and plugins trained with Trainer.fitDataset on the module's stream, through the library API. */
async function trainWithLibrary(rel: string, o: { epochs: number; seed: number; batchesPerEpoch?: number; plugins: typeof PLUGINS }) {
  const mod = await import(pathToFileURL(path.join(project.dir, rel)).href + '?library');
  const dataset = await mod.default({ tf, seed: o.seed, batchSize: BATCH }) as DatasetLike;
  const plugins = await Promise.all(o.plugins.map(async (p) => (await loadPluginModule(p.name, project.dir)).module.create!(p.options)));
  const model = buildModel(MODEL, o.seed);
  const optimizer = tf.train.sgd(0.05);
  const trainer = new Trainer(model, { loss: 'mse', optimizer, plugins });
  const rows: MetricsRow[] = [];
  trainer.events.on('epoch', (r: MetricsRow) => rows.push({ ...r }));
  const summary = await trainer.fitDataset(dataset, { epochs: o.epochs, seed: o.seed, batchesPerEpoch: o.batchesPerEpoch });
  expect(summary.status).toBe('completed');
  const weights = await Promise.all(trainer.anatomy.variables.map(async (v) => (await v.data()) as Float32Array));
  optimizer.dispose();
  model.dispose();
  return { weights, rows, summary };
}

describe('taylorlens run with data.source "module" (streamed)', () => {
  let rel: string;
  let dir: string;
  let run: Json;
  let st: StreamStats;

  beforeAll(async () => {
    rel = dataModule('pipeline', { n: 96 });
    const r = await cli('run', config('stream', { path: rel }, (c) => {
      c.plugins = PLUGINS;
      c.output.trace = { every: 4, maxRounds: 3 };
    }));
    expect(r.code, r.err).toBe(0);
    dir = onlyRun(path.join(project.dir, 'runs-stream'));
    run = readJson(path.join(dir, 'run.json'));
    st = stats('pipeline').at(-1)!;
  });

  it('completes with the plugins on; the export got the CLI\'s own tfjs, the seed and the batch size', () => {
    expect(run.status).toBe('completed');
    expect(run.summary.rounds).toBe(2 * 6);
    expect(st.tf.engine()).toBe(tf.engine()); // one tfjs in the process
    expect(st.seed).toBe(3);
    expect(st.batchSize).toBe(BATCH);
    expect(fs.existsSync(path.join(dir, 'regret', 'regret.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'activation', 'activation.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
  });

  it('run.json records the module (path, bytes, sha256) and that the data were streamed', () => {
    const file = path.join(project.dir, rel);
    expect(run.dataFiles).toEqual([{ split: 'module', path: file, bytes: fs.statSync(file).size, sha256: sha256(file) }]);
    expect(run.stream).toEqual({
      module: file, export: 'default', xs: [IN], ys: [OUT], batchSize: BATCH, batchesPerEpoch: 6, batchesPerEpochFrom: 'dataset size',
      samples: null, validationSamples: null, skipped: 0,
    });
    expect(run.data).toBe(`module data/pipeline.mjs (export "default", streamed) batches of ${BATCH} × [${IN}] → [${OUT}], 6 batches per epoch (the dataset's size, one pass per epoch)`);
    expect(run.config.data).toEqual({ source: 'module', path: rel });
  });

  it('the stream was read batch by batch: one pass per epoch plus the activation probe set\'s two passes, at most one batch alive', () => {
    // Training: 2 epochs × 6 batches, the first read by the checks and handed on. Probe set: a counting pass and a gathering pass.
    expect(st.iterators).toBe(2 + 2);
    expect(st.produced).toBe(run.summary.rounds + 2 * 6);
    // At most the training batch waiting for round 1 while the probe passes read theirs; never the whole set.
    expect(st.maxLive).toBeLessThanOrEqual(1);
  });

  it('the trace holds the streamed batches (x, y as the stream gave them) and says the targets are the stream\'s', () => {
    const index = readJson<TraceIndex>(path.join(dir, 'trace', 'index.json'));
    expect(index.target).toBe('stream');
    expect(Object.keys(index.rounds)).toEqual(['1', '5', '9']);
    for (const [round, at] of [['1', 0], ['5', 4], ['9', 2]] as const) {
      const want = samples(at * BATCH, BATCH);
      const x = readNpy(path.join(dir, 'trace', index.rounds[round].x));
      const y = readNpy(path.join(dir, 'trace', index.rounds[round].y));
      expect(x.shape).toEqual([BATCH, IN]);
      expect(bits(x.data as Float32Array).equals(bits(want.x)), `x of round ${round}`).toBe(true);
      expect(bits(y.data as Float32Array).equals(bits(want.y)), `y of round ${round}`).toBe(true);
    }
  });

  it('same weights and plugin numbers as Trainer.fitDataset on the same stream through the library API, bit for bit', async () => {
    const lib = await trainWithLibrary(rel, { epochs: 2, seed: 3, plugins: PLUGINS });
    const ours = runWeights(dir);
    expect(ours).toHaveLength(lib.weights.length);
    ours.forEach((w, i) => expect(bits(w).equals(bits(lib.weights[i])), `weight ${i}`).toBe(true));
    // Every number the plugins put in the epoch rows (regret, activation novelty…), and the losses.
    const epochRows = readRows(dir).filter((r) => r.kind === 'epoch');
    expect(epochRows).toHaveLength(2);
    const keys = Object.keys(lib.rows[0]).filter((k) => typeof lib.rows[0][k] === 'number' && !/ms$|_s$|time/i.test(k));
    expect(keys.some((k) => k.startsWith('regret'))).toBe(true);
    expect(keys.some((k) => k.startsWith('activation'))).toBe(true);
    epochRows.forEach((row, e) => {
      for (const k of keys) expect(row[k], `epoch ${e + 1} ${k}`).toBe(lib.rows[e][k]);
    });
  });

  it('a big stream: batches made = rounds, one training batch alive at a time, tfjs memory far below the data set', async () => {
    const n = 4096;
    const big = dataModule('big', { n });
    const r = await cli('run', config('big', { path: big }, (c) => { c.epochs = 1; }));
    expect(r.code, r.err).toBe(0);
    const s = stats('big').at(-1)!;
    const bdir = onlyRun(path.join(project.dir, 'runs-big'));
    const brun = readJson(path.join(bdir, 'run.json'));
    expect(brun.summary.rounds).toBe(n / BATCH);
    expect(s.iterators).toBe(1);
    expect(s.produced).toBe(brun.summary.rounds);
    expect(s.maxLive).toBeLessThanOrEqual(1);
    const dataBytes = n * (IN + OUT) * 4;
    expect(s.maxBytes).toBeLessThan(dataBytes / 8);
  });

  it('validation: { train, validation } — the loss on the validation stream after every epoch', async () => {
    const v = dataModule('with-validation', {
      n: 64,
      extra: 'export function split(arg) { const d = pipeline(arg); return { train: d, validation: pipeline(arg) }; }',
    });
    const r = await cli('run', config('validation', { path: v, export: 'split' }, (c) => { c.validation = true; }));
    expect(r.code, r.err).toBe(0);
    const vrun = readJson(path.join(onlyRun(path.join(project.dir, 'runs-validation')), 'run.json'));
    expect(vrun.stream.validationSamples).toBe(64);
    expect(vrun.summary.valLoss).toHaveLength(2);
    expect(vrun.summary.valLoss.every((l: number) => Number.isFinite(l))).toBe(true);
  });

  it('an unknown size is counted in one pass before training; the plan and run.json say so', async () => {
    const u = dataModule('unsized', { n: 40, extra: 'export function unsized(arg) { const d = pipeline(arg); return { iterator: () => d.iterator() }; }' });
    const r = await cli('run', config('unsized', { path: u, export: 'unsized' }, (c) => { c.epochs = 1; }));
    expect(r.code, r.err).toBe(0);
    const urun = readJson(path.join(onlyRun(path.join(project.dir, 'runs-unsized')), 'run.json'));
    expect(urun.stream.batchesPerEpoch).toBe(3);
    expect(urun.stream.batchesPerEpochFrom).toBe('counted');
    expect(urun.stream.samples).toBe(40);
    expect(urun.summary.rounds).toBe(3);
  });
});

describe('resuming a streamed run', () => {
  /** Run `file` failing at round `failAt` (echo plugin), resume it without the echo plugin, and return its folder. */
  async function failAndResume(name: string, file: string, failAt: number, beforeResume: () => void = () => {}) {
    const failed = await cli('run', file);
    expect(failed.code, failed.err).toBe(1);
    const rdir = onlyRun(path.join(project.dir, `runs-${name}`));
    const r = readJson(path.join(rdir, 'run.json'));
    expect(r.checkpoint.epoch).toBe(Math.floor((failAt - 1) / r.stream.batchesPerEpoch));
    r.config.plugins = [];
    r.plugins = [];
    fs.writeFileSync(path.join(rdir, 'run.json'), JSON.stringify(r));
    beforeResume();
    const resumed = await cli('run', '--resume', rdir);
    expect(resumed.code, resumed.err).toBe(0);
    return { rdir, resumed };
  }

  it('one pass per epoch: the resumed run ends with the weights of the run left alone', async () => {
    const m = dataModule('resume-pass', { n: 80 });
    const alone = await cli('run', config('resume-pass-alone', { path: m }, (c) => { c.epochs = 3; }));
    expect(alone.code, alone.err).toBe(0);
    const { rdir, resumed } = await failAndResume('resume-pass', config('resume-pass', { path: m }, (c) => {
      c.epochs = 3;
      c.plugins = [{ name: 'echo', options: { failAtRound: 8 } }];
    }), 8);
    expect(resumed.out).toContain('each epoch is a fresh pass');
    const a = runWeights(rdir);
    const b = runWeights(onlyRun(path.join(project.dir, 'runs-resume-pass-alone')));
    a.forEach((w, i) => expect(bits(w).equals(bits(b[i])), `weight ${i}`).toBe(true));
  });

  it('an endless stream with batchesPerEpoch: the batches already trained are skipped, same weights; a changed module is a warning', async () => {
    // 7 batches per pass, 4 per epoch: epoch 2 starts in the middle of a pass.
    const m = dataModule('resume-endless', { n: 7 * BATCH, endless: true });
    const alone = await cli('run', config('resume-endless-alone', { path: m, batchesPerEpoch: 4 }, (c) => { c.epochs = 3; }));
    expect(alone.code, alone.err).toBe(0);
    const file = path.join(project.dir, m);
    const { rdir, resumed } = await failAndResume('resume-endless', config('resume-endless', { path: m, batchesPerEpoch: 4 }, (c) => {
      c.epochs = 3;
      c.plugins = [{ name: 'echo', options: { failAtRound: 10 } }];
    }), 10, () => fs.appendFileSync(file, '// edited\n'));
    expect(resumed.out).toContain('read and dropped the 8 batches already trained');
    const r = readJson(path.join(rdir, 'run.json'));
    expect(r.stream.skipped).toBe(8);
    expect(r.dataFiles[0].sha256).toBe(sha256(file));
    expect(r.warnings.map((w: Json) => w.message).join('\n')).toMatch(/data module .*resume-endless\.mjs changed since the run started/);
    const a = runWeights(rdir);
    const b = runWeights(onlyRun(path.join(project.dir, 'runs-resume-endless-alone')));
    a.forEach((w, i) => expect(bits(w).equals(bits(b[i])), `weight ${i}`).toBe(true));
    // And both equal Trainer.fitDataset with batchesPerEpoch through the library.
    const lib = await trainWithLibrary(m, { epochs: 3, seed: 3, batchesPerEpoch: 4, plugins: [] });
    a.forEach((w, i) => expect(bits(w).equals(bits(lib.weights[i])), `library weight ${i}`).toBe(true));
  });
});

describe('taylorlens run with a bad data module: refused before any work', () => {
  /** Module files, written once the project folder exists. */
  const files = new Map<string, string>();
  const put = (rel: string, text: string) => {
    files.set(rel, text);
    return `bad/${rel}`;
  };
  /** A module whose export makes batches with `xs`/`ys` from the given JS expressions (b: batch index). */
  const yielding = (rel: string, value: string, o: { size?: string; batches?: number } = {}) => put(rel, `
export default ({ tf }) => ({
  size: ${o.size ?? 'null'},
  async iterator() {
    let b = 0;
    return { async next() { if (b >= ${o.batches ?? 3}) return { done: true, value: undefined }; b += 1; return { done: false, value: ${value} }; } };
  },
});
`);
  const good = '{ xs: tf.zeros([16, 12]), ys: tf.zeros([16, 4]) }';

  interface Case { what: string; data: Json; edit?: (c: Json) => void; expect: [string, string | RegExp][] }
  put('exports.mjs', 'export const a = () => null;\nexport const notAFunction = 42;\n');
  beforeAll(() => {
    fs.mkdirSync(path.join(project.dir, 'bad', 'a-folder.mjs'), { recursive: true });
    for (const [rel, text] of files) fs.writeFileSync(path.join(project.dir, 'bad', rel), text);
  });

  const cases: Case[] = [
    { what: 'missing module', data: { path: 'bad/nope.mjs' }, expect: [['/data/path', /file not found: .*bad\/nope\.mjs; expected an ES module whose export returns a tf\.data\.Dataset/]] },
    { what: 'a folder', data: { path: 'bad/a-folder.mjs' }, expect: [['/data/path', /bad\/a-folder\.mjs is a folder; expected an ES module file/]] },
    { what: 'a module that does not load', data: { path: put('syntax.mjs', 'export default ({ tf }) => {{;\n') }, expect: [['/data/path', /bad\/syntax\.mjs failed to load: /]] },
    {
      what: 'no such export', data: { path: 'bad/exports.mjs', export: 'pipeline' },
      expect: [['/data/export', /bad\/exports\.mjs has no export "pipeline"; its exports: a, notAFunction/]],
    },
    { what: 'no default export', data: { path: 'bad/exports.mjs' }, expect: [['/data/export', /exports\.mjs has no export "default"; its exports: a, notAFunction/]] },
    {
      what: 'export not a function', data: { path: 'bad/exports.mjs', export: 'notAFunction' },
      expect: [['/data/export', /exports\.mjs: export "notAFunction" is a number \(42\); expected a function \(\{ tf, seed, batchSize \}\) => a tf\.data\.Dataset/]],
    },
    {
      what: 'the function throws', data: { path: put('throws.mjs', 'export default () => { throw new Error("no data today"); };\n') },
      expect: [['/data/export', /throws\.mjs \(export "default"\): the function threw: no data today/]],
    },
    {
      what: 'the function rejects', data: { path: put('rejects.mjs', 'export default async () => { throw new Error("later, no data"); };\n') },
      expect: [['/data/export', /rejects\.mjs \(export "default"\): the function threw: later, no data/]],
    },
    {
      what: 'returns something without iterator()', data: { path: put('array.mjs', 'export default ({ tf }) => ({ xs: [1, 2], ys: [3, 4] });\n') },
      expect: [['/data/export', /array\.mjs \(export "default"\): returned an object with keys xs, ys but no iterator\(\); expected a tf\.data\.Dataset/]],
    },
    {
      what: '{ train } that is not a dataset', data: { path: put('train-array.mjs', 'export default () => ({ train: [1, 2, 3] });\n') },
      expect: [['/data/export', /returned \{ train \} whose train is an array of 3; expected a tf\.data\.Dataset/]],
    },
    {
      what: 'xs shape not the model input', data: { path: yielding('xs-shape.mjs', '{ xs: tf.zeros([16, 10]), ys: tf.zeros([16, 4]) }') },
      expect: [['/data/export', /xs-shape\.mjs \(export "default"\): the first batch's xs has shape \[16, 10\] \(\[10\] per sample\), but the model takes \[12\] per sample \(model\.input\)/]],
    },
    {
      what: 'xs of the right size but not flat', data: { path: yielding('xs-image.mjs', '{ xs: tf.zeros([16, 3, 4, 1]), ys: tf.zeros([16, 4]) }') },
      expect: [['/data/export', 'xs has shape [16, 3, 4, 1] ([3, 4, 1] per sample), but the model takes [12] per sample (model.input) (same size: reshape in the pipeline)']],
    },
    {
      what: 'ys shape not the model output', data: { path: yielding('ys-shape.mjs', '{ xs: tf.zeros([16, 12]), ys: tf.zeros([16, 10]) }') },
      expect: [['/data/export', /ys-shape\.mjs \(export "default"\): the first batch's ys has shape \[16, 10\] \(\[10\] per sample\), but the model outputs \[4\] per sample; expected ys of shape \[batch, 4\] \(loss "mse" compares them elementwise\)/]],
    },
    {
      what: 'not { xs, ys } batches', data: { path: yielding('plain-tensor.mjs', 'tf.zeros([16, 12])') },
      expect: [['/data/export', /plain-tensor\.mjs \(export "default"\): the first batch: a training stream must yield \{ xs, ys \} batches/]],
    },
    {
      what: 'two inputs', data: { path: yielding('two-inputs.mjs', '{ xs: [tf.zeros([16, 12]), tf.zeros([16, 12])], ys: tf.zeros([16, 4]) }') },
      expect: [['/data/export', /the first batch: a stream element's xs must be one tensor/]],
    },
    {
      what: 'a plain object shaped like a tensor (or a tensor of an incompatible tfjs)',
      data: { path: yielding('foreign.mjs', '{ xs: { shape: [16, 12], dtype: "float32", dataId: {}, id: 1 }, ys: tf.zeros([16, 4]) }') },
      expect: [['/data/export', /foreign\.mjs \(export "default"\): the first batch holds something shaped like a tensor that is not a tensor of this tfjs .*build the data with the `tf` the export receives/]],
    },
    { what: 'an empty stream', data: { path: yielding('empty.mjs', good, { batches: 0 }) }, expect: [['/data/export', /empty\.mjs \(export "default"\): the stream yielded no batch/]] },
    {
      what: 'next() fails', data: { path: yielding('next-fails.mjs', '(() => { throw new Error("disk on fire"); })()') },
      expect: [['/data/export', /next-fails\.mjs \(export "default"\): reading the first batch failed: disk on fire/]],
    },
    {
      what: 'an endless stream without batchesPerEpoch', data: { path: yielding('endless.mjs', good, { size: 'Infinity', batches: 1e9 }) },
      expect: [['/data/batchesPerEpoch', /endless\.mjs \(export "default"\): the stream is endless \(size Infinity, e\.g\. repeat\(\)\); set data\.batchesPerEpoch/]],
    },
    {
      what: 'a batch size other than batchSize', data: { path: yielding('batch-8.mjs', '{ xs: tf.zeros([8, 12]), ys: tf.zeros([8, 4]) }') },
      expect: [['/batchSize', /is 16 but the first batch of .*batch-8\.mjs \(export "default"\) has 8 samples/]],
    },
    {
      what: 'validation without a validation stream', data: { path: yielding('no-validation.mjs', good) }, edit: (c) => { c.validation = true; },
      expect: [['/validation', /no-validation\.mjs \(export "default"\): returned no validation stream; expected \{ train, validation \}/]],
    },
    {
      what: 'shuffle: true', data: { path: yielding('shuffled.mjs', good) }, edit: (c) => { c.shuffle = true; },
      expect: [['/shuffle', 'true has no effect on a streamed source (data.source "module")']],
    },
    { what: 'a key of the file sources', data: { path: yielding('target.mjs', good), target: 'input' }, expect: [['/data/target', 'unknown key "target"; expected one of: source, path, export, batchesPerEpoch']] },
    { what: 'no path', data: {}, expect: [['/data/path', 'is required but missing']] },
  ];

  it.each(cases.map((c, i) => [i + 1, c.what, c] as const))('%i. %s → exit 2, the field and the file named, nothing written, no tensor left', async (i, _what, c) => {
    const tensors = tf.memory().numTensors;
    const name = `bad-stream-${i}`;
    const file = config(name, c.data, c.edit);
    const r = await cli('run', file);
    expect(r.code, `${c.what}\n${r.err}`).toBe(2);
    expect(r.err).toContain(`invalid config ${file}`);
    const lines = r.err.split('\n');
    for (const [pointer, message] of c.expect) {
      const hit = lines.find((l) => l.startsWith(`  ${pointer}: `) && (typeof message === 'string' ? l.includes(message) : message.test(l)));
      expect(hit, `${c.what}: no line "${pointer}: ${String(message)}" in:\n${r.err}`).toBeDefined();
    }
    expect(fs.existsSync(path.join(project.dir, `runs-${name}`)), 'an output folder was created').toBe(false);
    expect(tf.memory().numTensors, `${c.what}: tensors left behind`).toBe(tensors);
  });
});
