// Malformed configs: every one is refused before any work, with each problem's JSON pointer and
// what was expected, exit code 2, and nothing written.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/program.js';
import { memoryIo } from '../src/io.js';
import { tempProject, tinyConfig, writeConfig, type Project } from '../../core/test/fixtures/project.js';

type Json = Record<string, any>;
let project: Project;
beforeAll(() => { project = tempProject(); });
afterAll(() => project.cleanup());

/** tinyConfig with a change applied by `edit` (which may mutate or return a new object). */
function variant(edit: (c: Json) => Json | void): Json {
  const c = structuredClone(tinyConfig());
  return edit(c) ?? c;
}

const image = (c: Json) => {
  c.data.flatten = false;
  c.model.input = [28, 28, 1];
};

interface Case {
  what: string;
  config: Json | string;
  /** Every [pointer, message fragment] that must appear on one line of stderr. */
  expect: [string, string | RegExp][];
}

const cases: Case[] = [
  { what: 'wrong type (string epochs)', config: variant((c) => { c.epochs = '3'; }), expect: [['/epochs', 'expected an integer, got string "3"']] },
  { what: 'out of range (epochs 0)', config: variant((c) => { c.epochs = 0; }), expect: [['/epochs', 'expected a number >= 1, got 0']] },
  { what: 'non-integer batch size', config: variant((c) => { c.batchSize = 2.5; }), expect: [['/batchSize', 'expected an integer, got number 2.5']] },
  { what: 'negative seed', config: variant((c) => { c.seed = -1; }), expect: [['/seed', 'expected a number >= 0, got -1']] },
  { what: 'unknown top-level key', config: variant((c) => { c.epoch = 3; }), expect: [['/epoch', /unknown key "epoch"; expected one of: .*epochs/]] },
  { what: 'missing field', config: variant((c) => { delete c.seed; }), expect: [['/seed', 'is required but missing']] },
  { what: 'bad name', config: variant((c) => { c.name = 'my run'; }), expect: [['/name', /letters, digits.*got "my run"/]] },
  { what: 'boolean given as string', config: variant((c) => { c.shuffle = 'yes'; }), expect: [['/shuffle', 'expected a boolean, got string "yes"']] },
  { what: 'unknown backend', config: variant((c) => { c.backend = 'gpu'; }), expect: [['/backend', 'expected one of "wasm", "cpu", "tensorflow", "webgpu", got "gpu"']] },
  { what: 'unknown layer type', config: variant((c) => { c.model.layers[0] = { type: 'lstm', units: 3 }; }), expect: [['/model/layers/0/type', 'unknown type "lstm"; expected one of "dense", "conv2d", "maxPooling2d", "flatten"']] },
  {
    what: 'conv2d without filters',
    config: variant((c) => { image(c); c.model.layers = [{ type: 'conv2d', kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 784 }]; }),
    expect: [['/model/layers/0/filters', 'is required but missing']],
  },
  { what: 'dense with 0 units', config: variant((c) => { c.model.layers[0].units = 0; }), expect: [['/model/layers/0/units', 'expected a number >= 1, got 0']] },
  {
    what: 'misspelt layer key',
    config: variant((c) => { c.model.layers[0] = { type: 'dense', unit: 16 }; }),
    expect: [['/model/layers/0/unit', 'unknown key "unit"; expected one of: type, units, activation, useBias'], ['/model/layers/0/units', 'is required but missing']],
  },
  {
    what: 'kernel size of one number in a list',
    config: variant((c) => { image(c); c.model.layers = [{ type: 'conv2d', filters: 2, kernelSize: [3] }, { type: 'flatten' }, { type: 'dense', units: 784 }]; }),
    expect: [['/model/layers/0/kernelSize', 'expected a size: one positive integer or [height, width], got [3]']],
  },
  { what: 'unknown activation', config: variant((c) => { c.model.layers[0].activation = 'relux'; }), expect: [['/model/layers/0/activation', /expected one of "linear", "relu".*got "relux"/]] },
  { what: 'unknown loss', config: variant((c) => { c.model.loss = 'crossentropy'; }), expect: [['/model/loss', 'expected one of "mse", "softmaxCrossEntropy", got "crossentropy"']] },
  {
    what: 'first layer shape does not match the data',
    config: variant((c) => { c.model.input = [28, 28, 1]; }),
    expect: [['/model/input', 'expected [784] to match the data (mnist gives 28×28×1 images with flatten: true), got [28, 28, 1]']],
  },
  {
    what: 'dense straight on an image',
    config: variant((c) => { image(c); }),
    expect: [['/model/layers/0', 'dense needs a flat input but gets [28, 28, 1]; add {"type": "flatten"} before it']],
  },
  {
    what: 'conv kernel bigger than the image',
    config: variant((c) => { image(c); c.model.layers = [{ type: 'conv2d', filters: 2, kernelSize: 30 }, { type: 'flatten' }, { type: 'dense', units: 784 }]; }),
    expect: [['/model/layers/0/kernelSize', 'a 30×30 window does not fit the 28×28 input with padding "valid"']],
  },
  {
    what: 'conv2d on flat data',
    config: variant((c) => { c.model.layers = [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 784 }]; }),
    expect: [['/model/layers/0', 'conv2d needs an input of shape [height, width, channels] but gets [784]']],
  },
  {
    what: 'output size does not match the target',
    config: variant((c) => { c.model.layers[1].units = 10; }),
    expect: [['/model/layers/1/units', 'target "input" reconstructs the input: expected 784 values']],
  },
  {
    what: 'classifier with the wrong class count',
    config: variant((c) => { c.data.target = 'labels'; c.model.loss = 'softmaxCrossEntropy'; c.model.layers[1].units = 12; }),
    expect: [['/model/layers/1/units', 'target "labels" has 10 classes: expected 10']],
  },
  {
    what: 'cross-entropy on an autoencoder',
    config: variant((c) => { c.model.loss = 'softmaxCrossEntropy'; }),
    expect: [['/model/loss', '"softmaxCrossEntropy" needs data.target "labels"']],
  },
  {
    what: 'softmax on a hidden layer',
    config: variant((c) => { c.model.layers[0].activation = 'softmax'; }),
    expect: [['/model/layers/0/activation', 'softmax is allowed only on the last dense/conv2d layer']],
  },
  {
    what: 'unknown optimizer lists what is available',
    config: variant((c) => { c.optimizer = { name: 'nadam' }; }),
    // Built-ins come from tfjs unless an installed plugin (here plugin-optimizers, when present) provides the name.
    expect: [['/optimizer/name', /unknown optimizer "nadam"; available: .*adagrad \((tfjs|@taylorlens\/plugin-optimizers)\).*adam \((tfjs|@taylorlens\/plugin-optimizers)\).*echoSgd \(@taylorlens\/plugin-echo\).*sgd \((tfjs|@taylorlens\/plugin-optimizers)\)/]],
  },
  {
    what: 'bad built-in optimizer options',
    config: variant((c) => { c.optimizer.options = { beta1: 1.5, lr: 0.1 }; }),
    expect: [['/optimizer/options/beta1', 'expected a number < 1, got 1.5'], ['/optimizer/options/lr', 'unknown key "lr"; expected one of: learningRate, beta1, beta2, epsilon']],
  },
  {
    what: "bad options for a plugin's optimizer",
    config: variant((c) => { c.optimizer = { name: 'echoSgd', options: { learningRate: -1 } }; }),
    expect: [['/optimizer/options/learningRate', 'expected a number > 0, got -1']],
  },
  {
    what: 'unknown plugin lists what is installed',
    config: variant((c) => { c.plugins = [{ name: 'nope' }]; }),
    expect: [['/plugins/0/name', /unknown plugin "nope": no package @taylorlens\/plugin-nope is installed .*installed plugin packages: .*echo/]],
  },
  {
    what: 'bad plugin options',
    config: variant((c) => { c.plugins = [{ name: 'echo', options: { every: 0, label: 'c', colour: 'red' } }]; }),
    expect: [
      ['/plugins/0/options/every', 'expected a number >= 1, got 0'],
      ['/plugins/0/options/label', 'expected one of "a", "b", got "c"'],
      ['/plugins/0/options/colour', 'unknown key "colour"'],
    ],
  },
  {
    what: 'plugin listed twice',
    config: variant((c) => { c.plugins = [{ name: 'echo' }, { name: 'echo' }]; }),
    expect: [['/plugins/1/name', 'plugin "echo" is already listed at /plugins/0']],
  },
  { what: 'plugin name not a package-name part', config: variant((c) => { c.plugins = [{ name: 'Echo Plugin' }]; }), expect: [['/plugins/0/name', /got "Echo Plugin"/]] },
  {
    what: 'idx source without its files',
    config: variant((c) => { c.data = { source: 'idx', target: 'input', flatten: true, testImages: 't.idx' }; }),
    expect: [['/data/trainImages', 'is required but missing'], ['/data/trainLabels', 'is required but missing'], ['/data/testLabels', 'is required when "testImages" is given']],
  },
  {
    what: 'idx file that does not exist',
    config: variant((c) => { c.data = { source: 'idx', target: 'input', flatten: true, trainImages: 'nope-images.idx', trainLabels: 'nope-labels.idx' }; }),
    expect: [['/data/trainImages', /file not found: .*nope-images\.idx/], ['/data/trainLabels', /file not found: .*nope-labels\.idx/]],
  },
  { what: 'unknown data source', config: variant((c) => { c.data.source = 'svhn'; }), expect: [['/data/source', 'unknown source "svhn"; expected one of "mnist", "idx", "cifar10"']] },
  { what: 'missing target', config: variant((c) => { delete c.data.target; }), expect: [['/data/target', 'is required but missing']] },
  { what: 'cifar10 folder missing', config: variant((c) => { c.data = { source: 'cifar10', dir: 'no-cifar', target: 'labels' }; }), expect: [['/data/dir', /folder not found: .*no-cifar/]] },
  {
    what: 'bad trace settings',
    config: variant((c) => { c.output.trace = { every: 0, rounds: [3, 3], maxRounds: 'all' }; }),
    expect: [['/output/trace/every', 'expected a number >= 1, got 0'], ['/output/trace/rounds', 'expected distinct items'], ['/output/trace/maxRounds', 'expected an integer, got string "all"']],
  },
  { what: 'missing output', config: variant((c) => { delete c.output; }), expect: [['/output', 'is required but missing']] },
  { what: 'not an object', config: [1, 2] as unknown as Json, expect: [['/', 'expected an object, got an array [1,2]']] },
  { what: 'not JSON at all', config: '{ "name": "tiny", ', expect: [['/', 'not valid JSON']] },
];

describe('taylorlens run <invalid config>', () => {
  it.each(cases.map((c, i) => [i + 1, c.what, c] as const))('%i. %s → exit 2, every problem named, nothing written', async (i, _what, c) => {
    const file = path.join(project.dir, `bad-${i}.json`);
    fs.writeFileSync(file, typeof c.config === 'string' ? c.config : JSON.stringify(c.config));
    const io = memoryIo(project.dir);
    const code = await main(['run', file], io);
    const err = io.err();
    expect(code, err).toBe(2);
    expect(err).toContain(`invalid config ${file}`);
    const lines = err.split('\n');
    for (const [pointer, message] of c.expect) {
      const hit = lines.find((l) => l.startsWith(`  ${pointer}: `) && (typeof message === 'string' ? l.includes(message) : message.test(l)));
      expect(hit, `no line "${pointer}: ${String(message)}" in:\n${err}`).toBeDefined();
    }
    expect(fs.existsSync(path.join(project.dir, 'runs')), 'an output folder was created').toBe(false);
    expect(io.out()).toBe('');
  });

  it('reports every problem of a config at once, counted', async () => {
    const cfg = variant((c) => {
      c.epochs = -2;
      c.model.layers[0].units = 'many';
      c.optimizer = { name: 'nadam' };
      c.plugins = [{ name: 'echo', options: { every: 0 } }];
    });
    const io = memoryIo(project.dir);
    expect(await main(['run', writeConfig(project.dir, cfg, 'many.json')], io)).toBe(2);
    expect(io.err()).toMatch(/\(4 problems\):/);
    for (const p of ['/epochs', '/model/layers/0/units', '/optimizer/name', '/plugins/0/options/every']) expect(io.err()).toContain(`  ${p}: `);
    expect(fs.existsSync(path.join(project.dir, 'runs'))).toBe(false);
  });

  it('a missing config file is a usage error naming the file', async () => {
    const io = memoryIo(project.dir);
    expect(await main(['run', 'does-not-exist.json'], io)).toBe(2);
    expect(io.err()).toContain(`${path.join(project.dir, 'does-not-exist.json')}`);
    expect(io.err()).toContain('file not found');
  });

  it('usage errors exit 2: no config, config and --resume, bad option values, unknown command', async () => {
    for (const argv of [['run'], ['run', 'a.json', '--resume', 'r'], ['demo', '--epochs', '0'], ['frobnicate'], ['--backend', 'tpu', 'doctor'], ['compare', 'a']]) {
      const io = memoryIo(project.dir);
      expect(await main(argv, io), `${argv.join(' ')}: ${io.err()}`).toBe(2);
      expect(io.err().length).toBeGreaterThan(0);
    }
    expect(fs.existsSync(path.join(project.dir, 'runs'))).toBe(false);
  });

  it('--help and --version exit 0', async () => {
    const help = memoryIo(project.dir);
    expect(await main(['--help'], help)).toBe(0);
    for (const cmd of ['run', 'demo', 'report', 'compare', 'doctor', '--backend']) expect(help.out()).toContain(cmd);
    const version = memoryIo(project.dir);
    expect(await main(['--version'], version)).toBe(0);
    expect(version.out()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
