// A run config that names a tfjs Layers model the user saved (`model.saved`): model.json and
// weights.bin written exactly as `model.save('file://…')` writes them, trained by the CLI with the
// activation and regret plugins on; the run folder keeps a copy, the trace names it, the trace's
// losses recompute from that copy alone, and the trained weights equal those of training the same
// model through the library API (bit for bit). Then every way a saved model can be wrong, each
// refused before any work (exit 2, nothing written) with the field and the file named.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend.js';
import { loadMnistLike } from '../src/data/mnist.js';
import { toTensors } from '../src/data/tensors.js';
import { savedModelFiles } from '../src/run/saved-model.js';
import type { TraceIndex } from '../src/run/trace.js';
import { Trainer } from '../src/trainer.js';
import { onlyRun, readJson, readNpy, tempProject, type Project, writeNamedConfig, runCliIn } from './fixtures/project.js';
import { writeBatteryData } from './helpers/battery.js';

type Json = Record<string, any>;
let project: Project;
beforeAll(async () => {
  await selectBackend('cpu'); // the configs ask for cpu too: the library API trains on the same backend
  project = tempProject('taylorlens-saved-');
  writeBatteryData(project.dir);
});
afterAll(() => project.cleanup());

const sha256 = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/**
 * Save `model` into `dir` exactly as tfjs-node's `model.save('file://<dir>')` does (its
 * NodeFileSystem handler): model.json with modelTopology, weightsManifest [{paths: ['weights.bin'],
 * weights}], format, generatedBy, convertedBy (and trainingConfig when compiled), and weights.bin.
 */
async function saveModel(model: tfl.LayersModel, dir: string, config?: tf.io.SaveConfig): Promise<tf.io.ModelArtifacts> {
  fs.mkdirSync(dir, { recursive: true });
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    const json: Json = {
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      format: a.format,
      generatedBy: a.generatedBy,
      convertedBy: a.convertedBy,
    };
    if (a.trainingConfig != null) json.trainingConfig = a.trainingConfig;
    if (a.signature != null) json.signature = a.signature;
    if (a.userDefinedMetadata != null) json.userDefinedMetadata = a.userDefinedMetadata;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json), 'utf8');
    const data = a.weightData!;
    fs.writeFileSync(path.join(dir, 'weights.bin'), Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : Buffer.from(data));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }), config);
  return saved!;
}

const init = (seed: number) => ({
  kernelInitializer: tfl.initializers.glorotUniform({ seed }),
  biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 100 }),
});

/** Sequential chain of Dense layers: [36] → hidden relu → out linear. */
function denseChain(sizes = [36, 8, 36], opts: { outActivation?: 'linear' | 'softmax'; input?: number[] } = {}): tfl.Sequential {
  const m = tfl.sequential();
  for (let i = 1; i < sizes.length; i++) {
    const last = i === sizes.length - 1;
    m.add(tfl.layers.dense({
      name: last ? 'out' : `hidden${i}`, units: sizes[i], activation: last ? opts.outActivation ?? 'linear' : 'relu',
      ...(i === 1 ? { inputShape: opts.input ?? [sizes[0]] } : {}), ...init(i),
    }));
  }
  return m;
}

/** The same chain as a functional model (tf.model over symbolic tensors). */
function functionalChain(classes: number): tfl.LayersModel {
  const input = tfl.input({ shape: [36], name: 'pixels' });
  const hidden = tfl.layers.dense({ name: 'hidden', units: 8, activation: 'relu', ...init(1) }).apply(input) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ name: 'logits', units: classes, activation: 'softmax', ...init(2) }).apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: 'functional_chain' });
}

function config(name: string, model: Json, edit: (c: Json) => void = () => {}): string {
  const c: Json = {
    name, seed: 1, epochs: 2, batchSize: 8, shuffle: true, backend: 'cpu',
    model,
    data: { source: 'idx', trainImages: 'data/images.idx', trainLabels: 'data/labels.idx', target: 'input', flatten: true },
    optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
    output: { dir: `runs-${name}` },
  };
  return writeNamedConfig(project.dir, name, c, edit);
}

const cli = (...argv: string[]) => runCliIn(project.dir, argv);

/** The battery data as the run loads it: x flat [48, 36] in [0, 1]; y one-hot or x itself. */
function batteryTensors(target: 'input' | 'labels'): { x: tf.Tensor; y: tf.Tensor } {
  const ds = loadMnistLike({ imagesPath: path.join(project.dir, 'data', 'images.idx'), labelsPath: path.join(project.dir, 'data', 'labels.idx') });
  if (target === 'labels') return toTensors(ds, { flatten: true, oneHot: ds.numClasses });
  const { x, y } = toTensors(ds, { flatten: true });
  y.dispose();
  return { x, y: x.clone() };
}

/** Train the saved artifacts with the library API (tf.loadLayersModel + Trainer), as the run's config says. */
async function trainWithLibrary(artifacts: tf.io.ModelArtifacts, loss: 'mse' | 'softmaxCrossEntropy', target: 'input' | 'labels'): Promise<Float32Array[]> {
  const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  const { x, y } = batteryTensors(target);
  const optimizer = tf.train.sgd(0.1);
  const trainer = new Trainer(model, { loss, optimizer });
  const summary = await trainer.fit(x, y, { epochs: 2, batchSize: 8, shuffle: true, seed: 1 });
  expect(summary.status).toBe('completed');
  const out = await Promise.all(trainer.anatomy.variables.map(async (v) => (await v.data()) as Float32Array));
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return out;
}

function runWeights(dir: string): Float32Array[] {
  const index = readJson(path.join(dir, 'weights', 'index.json'));
  return index.weights.map((w: Json) => readNpy(path.join(dir, 'weights', w.file)).data as Float32Array);
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Every traced round's loss, recomputed from the run folder alone: the copy of the saved model, the round's weights and batch. */
async function recomputeTrace(dir: string, index: TraceIndex): Promise<number> {
  const model = await tfl.loadLayersModel(savedModelFiles(path.join(dir, 'trace', index.saved!.modelJson)));
  let checked = 0;
  for (const r of Object.values(index.rounds)) {
    const byLayer = new Map<string, tf.Tensor[]>();
    r.weights.forEach((f, i) => {
      const a = readNpy(path.join(dir, 'trace', f));
      const w = index.weights[i];
      byLayer.set(w.layer, [...(byLayer.get(w.layer) ?? []), tf.tensor(a.data as Float32Array, a.shape)]);
    });
    for (const [name, ws] of byLayer) model.getLayer(name).setWeights(ws);
    const x = readNpy(path.join(dir, 'trace', r.x));
    const y = readNpy(path.join(dir, 'trace', r.y));
    const loss = tf.tidy(() => {
      const f = model.predict(tf.tensor(x.data as Float32Array, x.shape)) as tf.Tensor;
      const yt = tf.tensor(y.data as Float32Array, y.shape);
      return (index.loss.name === 'mse' ? tf.mean(tf.squaredDifference(f, yt)) : tf.neg(tf.mean(tf.sum(tf.mul(yt, tf.log(f)), -1)))).dataSync()[0];
    });
    expect(Math.abs(loss - r.loss!) / Math.abs(r.loss!), `${loss} vs ${r.loss}`).toBeLessThanOrEqual(1e-5);
    tf.dispose([...byLayer.values()].flat());
    checked++;
  }
  model.dispose();
  return checked;
}

describe('taylorlens run with model.saved', () => {
  let artifacts: tf.io.ModelArtifacts;
  let dir: string;
  let run: Json;
  const modelDir = () => path.join(project.dir, 'models', 'ae');

  beforeAll(async () => {
    const model = denseChain();
    artifacts = await saveModel(model, modelDir());
    model.dispose();
    const r = await cli('run', config('saved-ae', { saved: 'models/ae/model.json', loss: 'mse' }, (c) => {
      c.plugins = [{ name: 'regret', options: { neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } } }, { name: 'activation', options: { probeSize: 8 } }];
      c.output.trace = { every: 5, maxRounds: 3 };
    }));
    expect(r.code, r.err).toBe(0);
    dir = onlyRun(path.join(project.dir, 'runs-saved-ae'));
    run = readJson(path.join(dir, 'run.json'));
  });

  it('the saved files are the file:// format: model.json (layers-model, topology, manifest) and weights.bin', () => {
    const json = readJson(path.join(modelDir(), 'model.json'));
    expect(Object.keys(json)).toEqual(['modelTopology', 'weightsManifest', 'format', 'generatedBy', 'convertedBy']);
    expect(json.format).toBe('layers-model');
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(fs.statSync(path.join(modelDir(), 'weights.bin')).size).toBe(4 * (36 * 8 + 8 + 8 * 36 + 36));
  });

  it('completes with the plugins on; run.json records the saved model, its copy and the loss', () => {
    expect(run.status).toBe('completed');
    expect(run.config.model).toEqual({ saved: 'models/ae/model.json', loss: 'mse' });
    expect(run.model.description).toBe('saved model.json: [36] → Dense 8 relu → Dense 36 linear · loss mse');
    expect(run.model.parameters).toBe(36 * 8 + 8 + 8 * 36 + 36);
    const src = path.join(modelDir(), 'model.json');
    expect(run.model.saved).toEqual({
      source: src, modelJson: 'saved-model/model.json', lossFrom: 'config',
      files: [
        { path: 'saved-model/model.json', bytes: fs.statSync(src).size, sha256: sha256(src) },
        { path: 'saved-model/weights.bin', bytes: fs.statSync(path.join(modelDir(), 'weights.bin')).size, sha256: sha256(path.join(modelDir(), 'weights.bin')) },
      ],
    });
    expect(fs.existsSync(path.join(dir, 'regret', 'regret.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'activation', 'activation.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
  });

  it('the run folder holds a byte-for-byte copy of model.json and weights.bin', () => {
    for (const f of ['model.json', 'weights.bin']) {
      expect(fs.readFileSync(path.join(dir, 'saved-model', f)).equals(fs.readFileSync(path.join(modelDir(), f))), f).toBe(true);
    }
  });

  it('the trace names the copy; its round-1 weights are the saved ones; every traced loss recomputes from the copy alone', async () => {
    const index = readJson<TraceIndex>(path.join(dir, 'trace', 'index.json'));
    expect(index.saved).toEqual({
      source: path.join(modelDir(), 'model.json'), modelJson: '../saved-model/model.json',
      files: run.model.saved.files.map((f: Json) => ({ ...f, path: `../${f.path}` })),
    });
    expect(index.model.class_name).toBe('Sequential');
    expect(index.model.input_shape).toEqual([36]);
    expect(index.model.layers.map((l) => [l.class_name, l.name, l.config.units, l.config.activation])).toEqual([
      ['Dense', 'hidden1', 8, 'relu'], ['Dense', 'out', 36, 'linear'],
    ]);
    expect(index.weights.map((w) => [w.layer, w.name, w.shape])).toEqual([
      ['hidden1', 'kernel', [36, 8]], ['hidden1', 'bias', [8]], ['out', 'kernel', [8, 36]], ['out', 'bias', [36]],
    ]);
    expect(index.loss.name).toBe('mse');
    expect(Object.keys(index.rounds)).toEqual(['1', '6', '11']);
    // Round 1's weights are the saved model's, in the order of the manifest (kernel, bias per layer).
    const saved = fs.readFileSync(path.join(dir, 'saved-model', 'weights.bin'));
    const w0 = Buffer.concat(index.rounds['1'].weights.map((f) => bits(readNpy(path.join(dir, 'trace', f)).data as Float32Array)));
    expect(w0.equals(saved)).toBe(true);
    expect(await recomputeTrace(dir, index)).toBe(3);
  });

  it('the trained weights equal those of training the same saved model through the library API, bit for bit', async () => {
    expect(run.optimizer.name).toBe('sgd');
    const lib = await trainWithLibrary(artifacts, 'mse', 'input');
    const ours = runWeights(dir);
    expect(ours).toHaveLength(lib.length);
    ours.forEach((w, i) => expect(bits(w).equals(bits(lib[i])), `weight ${i}`).toBe(true));
  });

  it('resumes from the copy in the run folder, even when the original is gone, ending with the same weights', async () => {
    const orig = path.join(project.dir, 'models', 'ae-resume');
    fs.cpSync(modelDir(), orig, { recursive: true });
    const file = config('saved-resume', { saved: 'models/ae-resume/model.json', loss: 'mse' }, (c) => { c.plugins = [{ name: 'echo', options: { failAtRound: 8 } }]; });
    const failed = await cli('run', file);
    expect(failed.code).toBe(1);
    const rdir = onlyRun(path.join(project.dir, 'runs-saved-resume'));
    const r = readJson(path.join(rdir, 'run.json'));
    expect(r.checkpoint).toEqual({ epoch: 1, round: 6 });
    r.config.plugins = [];
    r.plugins = [];
    fs.writeFileSync(path.join(rdir, 'run.json'), JSON.stringify(r));
    fs.rmSync(orig, { recursive: true });
    const resumed = await cli('run', '--resume', rdir);
    expect(resumed.code, resumed.err).toBe(0);
    const a = runWeights(rdir);
    const b = runWeights(dir);
    a.forEach((w, i) => expect(bits(w).equals(bits(b[i])), `weight ${i}`).toBe(true));
  });

  it('a functional chain saved with its optimizer: the loss comes from its trainingConfig; same weights as the library API', async () => {
    const model = functionalChain(10);
    model.compile({ loss: 'categoricalCrossentropy', optimizer: tf.train.adam(0.01) });
    const saved = await saveModel(model, path.join(project.dir, 'models', 'functional'), { includeOptimizer: true });
    model.dispose();
    const json = readJson(path.join(project.dir, 'models', 'functional', 'model.json'));
    expect(json.trainingConfig.loss).toBe('categorical_crossentropy');
    expect(json.modelTopology.class_name).not.toBe('Sequential');
    // The optimizer's weights are in the manifest too (group "optimizer"); the run trains with its own.
    expect(json.weightsManifest[0].weights.some((w: Json) => w.group === 'optimizer')).toBe(true);
    const r = await cli('run', config('saved-functional', { saved: 'models/functional/model.json' }, (c) => {
      c.data.target = 'labels';
      c.plugins = [{ name: 'activation', options: { probeSize: 8 } }];
    }));
    expect(r.code, r.err).toBe(0);
    const fdir = onlyRun(path.join(project.dir, 'runs-saved-functional'));
    const frun = readJson(path.join(fdir, 'run.json'));
    expect(frun.config.model).toEqual({ saved: 'models/functional/model.json', loss: 'softmaxCrossEntropy' });
    expect(frun.model.saved.lossFrom).toBe('trainingConfig');
    const lib = await trainWithLibrary(saved, 'softmaxCrossEntropy', 'labels');
    runWeights(fdir).forEach((w, i) => expect(bits(w).equals(bits(lib[i])), `weight ${i}`).toBe(true));
  });
});

describe('taylorlens run with a bad model.saved: refused before any work', () => {
  const models = () => path.join(project.dir, 'bad-models');
  const put = (rel: string, content: string | Buffer) => {
    const f = path.join(models(), rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, content);
    return f;
  };

  beforeAll(async () => {
    const good = denseChain();
    await saveModel(good, path.join(models(), 'good'));
    good.dispose();
    // Good files, then each damaged one way.
    const json = fs.readFileSync(path.join(models(), 'good', 'model.json'), 'utf8');
    const bin = fs.readFileSync(path.join(models(), 'good', 'weights.bin'));
    put('not-json/model.json', json.slice(0, 40));
    put('graph/model.json', JSON.stringify({ ...JSON.parse(json), format: 'graph-model' }));
    put('graph/weights.bin', bin);
    put('no-topology/model.json', JSON.stringify({ format: 'layers-model', weightsManifest: JSON.parse(json).weightsManifest }));
    put('no-weights-file/model.json', json);
    put('short-weights/model.json', json);
    put('short-weights/weights.bin', bin.subarray(0, bin.length - 4));
    put('escape/model.json', JSON.stringify({ ...JSON.parse(json), weightsManifest: [{ ...JSON.parse(json).weightsManifest[0], paths: ['../good/weights.bin'] }] }));
    const save = async (name: string, m: tfl.LayersModel, compile?: string) => {
      if (compile) m.compile({ loss: compile, optimizer: 'sgd' });
      await saveModel(m, path.join(models(), name), { includeOptimizer: compile !== undefined });
      m.dispose();
    };
    await save('input-28', denseChain([28, 8, 36]));
    await save('out-10', denseChain([36, 8, 10]));
    await save('mae', denseChain(), 'meanAbsoluteError');
    await save('softmax-mse', denseChain([36, 8, 36], { outActivation: 'softmax' }));
    const input = tfl.input({ shape: [36] });
    const hidden = tfl.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const outs = [36, 36].map((u) => tfl.layers.dense({ units: u }).apply(hidden) as tfl.SymbolicTensor);
    await save('two-outputs', tfl.model({ inputs: input, outputs: outs }));
  });

  interface Case { what: string; model: Json; edit?: (c: Json) => void; expect: [string, string | RegExp][] }
  const cases: Case[] = [
    { what: 'missing model.json', model: { saved: 'bad-models/nope/model.json', loss: 'mse' }, expect: [['/model/saved', /file not found: .*bad-models\/nope\/model\.json; expected the model\.json of a tfjs Layers model/]] },
    { what: 'a folder instead of model.json', model: { saved: 'bad-models/good', loss: 'mse' }, expect: [['/model/saved', /is a folder; expected the model\.json in it: .*good\/model\.json/]] },
    { what: 'model.json that is not JSON', model: { saved: 'bad-models/not-json/model.json', loss: 'mse' }, expect: [['/model/saved', /not-json\/model\.json: not valid JSON/]] },
    { what: 'a graph model', model: { saved: 'bad-models/graph/model.json', loss: 'mse' }, expect: [['/model/saved', 'format "graph-model" is not a Layers model; expected "layers-model"']] },
    { what: 'no modelTopology', model: { saved: 'bad-models/no-topology/model.json', loss: 'mse' }, expect: [['/model/saved', /no-topology\/model\.json: no modelTopology/]] },
    { what: 'weights file missing', model: { saved: 'bad-models/no-weights-file/model.json', loss: 'mse' }, expect: [['/model/saved', /weights file not found: .*no-weights-file\/weights\.bin \(weightsManifest\[0\]\.paths\[0\]/]] },
    {
      what: 'weights file of the wrong size', model: { saved: 'bad-models/short-weights/model.json', loss: 'mse' },
      expect: [['/model/saved', `short-weights/weights.bin: ${4 * 620 - 4} bytes, but weightsManifest[0] of`], ['/model/saved', `describes 4 weight(s) of ${4 * 620} bytes in all`]],
    },
    { what: 'weights path outside the model folder', model: { saved: 'bad-models/escape/model.json', loss: 'mse' }, expect: [['/model/saved', 'weightsManifest[0].paths[0] "../good/weights.bin" is not a file in the model\'s folder']] },
    {
      what: 'input shape not the data\'s', model: { saved: 'bad-models/input-28/model.json', loss: 'mse' },
      expect: [['/model/saved', /input-28\/model\.json: the model takes inputs of shape \[28\] but the data gives \[36\] \(the IDX images are 6×6×1 with flatten: true\)/]],
    },
    {
      what: 'input shape, data not flattened', model: { saved: 'bad-models/good/model.json', loss: 'mse' }, edit: (c) => { c.data.flatten = false; },
      expect: [['/model/saved', 'the model takes inputs of shape [36] but the data gives [6, 6, 1]'], ['/model/saved', '(set data.flatten to true?)']],
    },
    {
      what: 'output size not the target\'s', model: { saved: 'bad-models/out-10/model.json', loss: 'mse' },
      expect: [['/model/saved', /out-10\/model\.json: the model outputs \[10\] \(10 values per sample\) but target "input" reconstructs the input: expected 36 values/]],
    },
    {
      what: 'output size not the class count', model: { saved: 'bad-models/good/model.json', loss: 'softmaxCrossEntropy' }, edit: (c) => { c.data.target = 'labels'; },
      expect: [['/model/saved', 'the model outputs 36 values per sample but target "labels" has 10 classes: expected 10']],
    },
    { what: 'no loss anywhere', model: { saved: 'bad-models/good/model.json' }, expect: [['/model/loss', /is required for this saved model: .*good\/model\.json has no trainingConfig\.loss/]] },
    { what: 'a trainingConfig loss taylorlens cannot use', model: { saved: 'bad-models/mae/model.json' }, expect: [['/model/loss', 'trainingConfig.loss "mean_absolute_error" is not one taylorlens trains with (meanSquaredError, categoricalCrossentropy)']] },
    { what: 'cross-entropy on an autoencoder', model: { saved: 'bad-models/good/model.json', loss: 'softmaxCrossEntropy' }, expect: [['/model/loss', '"softmaxCrossEntropy" needs data.target "labels"']] },
    { what: 'softmax output with mse', model: { saved: 'bad-models/softmax-mse/model.json', loss: 'mse' }, expect: [['/model/saved', /layer "out" has a softmax activation, which is allowed only on the last Dense\/Conv2D layer with loss "softmaxCrossEntropy"/]] },
    { what: 'two outputs', model: { saved: 'bad-models/two-outputs/model.json', loss: 'mse' }, expect: [['/model/saved', /two-outputs\/model\.json: the model has 1 inputs and 2 outputs; expected one of each/]] },
    { what: 'layer specs beside saved', model: { saved: 'bad-models/good/model.json', loss: 'mse', layers: [] }, expect: [['/model/layers', 'unknown key "layers"; expected one of: saved, loss']] },
    { what: 'unknown loss name', model: { saved: 'bad-models/good/model.json', loss: 'mae' }, expect: [['/model/loss', 'expected one of "mse", "softmaxCrossEntropy", got "mae"']] },
    { what: 'empty path', model: { saved: '' }, expect: [['/model/saved', 'expected a non-empty string']] },
  ];

  it.each(cases.map((c, i) => [i + 1, c.what, c] as const))('%i. %s → exit 2, the field and the file named, nothing written', async (i, _what, c) => {
    const name = `bad-saved-${i}`;
    const file = config(name, c.model, c.edit);
    const r = await cli('run', file);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`invalid config ${file}`);
    const lines = r.err.split('\n');
    for (const [pointer, message] of c.expect) {
      const hit = lines.find((l) => l.startsWith(`  ${pointer}: `) && (typeof message === 'string' ? l.includes(message) : message.test(l)));
      expect(hit, `no line "${pointer}: ${String(message)}" in:\n${r.err}`).toBeDefined();
    }
    expect(fs.existsSync(path.join(project.dir, `runs-${name}`)), 'an output folder was created').toBe(false);
  });
});
