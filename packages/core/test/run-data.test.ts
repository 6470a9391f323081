// Data sources beyond the embedded MNIST (IDX files, CIFAR-10 batches), validation on the test
// split, and runs that fail: a corrupt data file, a plugin throwing mid-run, a missing backend.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, memoryIo } from '@taylorlens/cli';
import { encodeIdx } from '../src/data/idx.js';
import { resolvePackage } from '../src/run/plugins.js';
import { onlyRun, readJson, readRows, tempProject, tinyConfig, writeConfig, type Project } from './fixtures/project.js';

let project: Project;
beforeAll(() => {
  project = tempProject('taylorlens-data-');
  // 40 train / 12 test images of 8×8, labels 0–9.
  const write = (name: string, n: number, seed: number) => {
    const px = Uint8Array.from({ length: n * 64 }, (_, i) => (i * 37 + seed * 11) % 256);
    fs.writeFileSync(path.join(project.dir, `${name}-images.idx`), encodeIdx({ dtype: 'uint8', shape: [n, 8, 8], data: px }));
    fs.writeFileSync(path.join(project.dir, `${name}-labels.idx`), encodeIdx({ dtype: 'uint8', shape: [n], data: Array.from({ length: n }, (_, i) => (i + seed) % 10) }));
  };
  write('train', 40, 1);
  write('test', 12, 2);
  // A fake CIFAR-10 folder: 3 records per batch file (1 label byte + 3072 pixels).
  const cifar = path.join(project.dir, 'cifar');
  fs.mkdirSync(cifar);
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    const rec = Buffer.alloc(3 * 3073);
    for (let r = 0; r < 3; r++) {
      rec[r * 3073] = r;
      for (let i = 1; i < 3073; i++) rec[r * 3073 + i] = (i * 7 + r) % 256;
    }
    fs.writeFileSync(path.join(cifar, f), rec);
  }
});
afterAll(() => project.cleanup());

async function runCfg(name: string, cfg: Record<string, unknown>) {
  const io = memoryIo(project.dir);
  const code = await main(['--backend', 'wasm', 'run', writeConfig(project.dir, cfg, `${name}.json`)], io);
  return { code, io };
}

const classifier = (input: number[], layers: unknown[]) => ({ input, layers, loss: 'softmaxCrossEntropy' });

describe('data sources', () => {
  it('IDX files: a classifier trains with validation on the test split each epoch', async () => {
    const cfg = tinyConfig({
      name: 'idx', epochs: 2, batchSize: 16, validation: true,
      model: classifier([64], [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 10, activation: 'softmax' }]),
      data: { source: 'idx', trainImages: 'train-images.idx', trainLabels: 'train-labels.idx', testImages: 'test-images.idx', testLabels: 'test-labels.idx', target: 'labels', flatten: true },
      output: { dir: 'runs-idx' },
    });
    const { code, io } = await runCfg('idx', cfg);
    expect(code, io.err()).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-idx'));
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.data).toBe(`idx (from ${project.dir}) train 40, test 12 × [64] → labels`);
    // Provenance: the four files read, with size and checksum.
    expect(run.dataFiles.map((f: { split: string; path: string }) => [f.split, path.basename(f.path)])).toEqual([
      ['train', 'train-images.idx'], ['train', 'train-labels.idx'], ['test', 'test-images.idx'], ['test', 'test-labels.idx'],
    ]);
    for (const f of run.dataFiles) {
      expect(f.bytes).toBe(fs.statSync(f.path).size);
      expect(f.sha256).toBe(createHash('sha256').update(fs.readFileSync(f.path)).digest('hex'));
    }
    const epochs = readRows(dir).filter((r) => r.kind === 'epoch');
    expect(epochs).toHaveLength(2);
    for (const e of epochs) expect(Number.isFinite(e.val_loss)).toBe(true);
    expect(readRows(dir).filter((r) => r.kind === 'round')).toHaveLength(6);
  });

  it('IDX images feed a convnet as [height, width, 1]; a mismatched input shape is caught from the header', async () => {
    const bad = tinyConfig({
      name: 'idx-shape', model: classifier([28, 28, 1], [{ type: 'flatten' }, { type: 'dense', units: 10 }]),
      data: { source: 'idx', trainImages: 'train-images.idx', trainLabels: 'train-labels.idx', target: 'labels' }, output: { dir: 'runs-idx-shape' },
    });
    const r = await runCfg('idx-shape', bad);
    expect(r.code).toBe(2);
    expect(r.io.err()).toContain('/model/input: expected [8, 8, 1] to match the data (the IDX images are 8×8×1), got [28, 28, 1]');
    const good = { ...bad, model: classifier([8, 8, 1], [{ type: 'conv2d', filters: 2, kernelSize: 3, activation: 'relu' }, { type: 'flatten' }, { type: 'dense', units: 10 }]) };
    const ok = await runCfg('idx-conv', good);
    expect(ok.code, ok.io.err()).toBe(0);
  });

  it('CIFAR-10 binary batches train a convnet on [32, 32, 3]', async () => {
    const cfg = tinyConfig({
      name: 'cifar', epochs: 1, batchSize: 5, validation: true,
      model: classifier([32, 32, 3], [{ type: 'conv2d', filters: 2, kernelSize: 5, strides: 3, activation: 'relu' }, { type: 'maxPooling2d', poolSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 }]),
      data: { source: 'cifar10', dir: 'cifar', limit: 10, target: 'labels' },
      optimizer: { name: 'momentum', options: { learningRate: 0.01, momentum: 0.5 } },
      output: { dir: 'runs-cifar' },
    });
    const { code, io } = await runCfg('cifar', cfg);
    expect(code, io.err()).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-cifar'));
    expect(readJson(path.join(dir, 'run.json')).data).toMatch(/^cifar10 \(from .*cifar\) train 10, test 3 × \[32, 32, 3\] → labels$/);
  });
});

describe('runs that fail', () => {
  it('a corrupt data file is refused with the file named, exit 2, and no run folder', async () => {
    const file = path.join(project.dir, 'short-images.idx');
    fs.writeFileSync(file, encodeIdx({ dtype: 'uint8', shape: [40, 8, 8], data: new Uint8Array(40 * 64) }).subarray(0, 100));
    const cfg = tinyConfig({
      name: 'corrupt', model: classifier([64], [{ type: 'dense', units: 10 }]),
      data: { source: 'idx', trainImages: 'short-images.idx', trainLabels: 'train-labels.idx', target: 'labels', flatten: true },
      output: { dir: 'runs-corrupt' },
    });
    const { code, io } = await runCfg('corrupt', cfg);
    expect(code).toBe(2);
    expect(io.err()).toContain(`error: ${file}:`);
    expect(fs.existsSync(path.join(project.dir, 'runs-corrupt'))).toBe(false);
  });

  it('an error mid-run ends it as failed with the error recorded and earlier rows kept', async () => {
    const cfg = tinyConfig({ name: 'fails', plugins: [{ name: 'echo', options: { failAtRound: 11 } }], output: { dir: 'runs-fails' } });
    const { code, io } = await runCfg('fails', cfg);
    expect(code).toBe(1);
    expect(io.err()).toContain('echo: failing at round 11 as asked');
    const dir = onlyRun(path.join(project.dir, 'runs-fails'));
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.status).toBe('failed');
    expect(run.error).toContain('echo: failing at round 11 as asked');
    expect(readRows(dir).filter((r) => r.kind === 'round').map((r) => r.round)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'weights'))).toBe(false);
  });

  it('a backend that cannot start is a failure named before anything is written', async () => {
    const cfg = tinyConfig({ name: 'tfnode', backend: 'tensorflow', output: { dir: 'runs-tfnode' } });
    const io = memoryIo(project.dir);
    const code = await main(['run', writeConfig(project.dir, cfg, 'tfnode.json')], io);
    // Where tfjs-node is installed the run simply works; here it normally is not.
    const installed = resolvePackage('@tensorflow/tfjs-node', project.dir) !== null;
    expect(code, io.err()).toBe(installed ? 0 : 1);
    if (installed) return;
    expect(io.err()).toMatch(/no usable backend for --backend tensorflow/);
    expect(fs.existsSync(path.join(project.dir, 'runs-tfnode'))).toBe(false);
  });
});
