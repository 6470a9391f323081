// The demo end to end on a small MNIST slice, its report in headless Chromium, `report` rebuilding
// it from the folder alone, `compare` across runs, and `doctor`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryIo } from '../src/io.js';
import { main } from '../src/program.js';
import { renderInChromium } from '../../core/test/helpers/chromium.js';
import { onlyRun, readJson, readRows, tempProject, tinyConfig, writeConfig, type Project } from '../../core/test/fixtures/project.js';

let project: Project;
let demoDir: string;
let demoOut: string;
beforeAll(async () => {
  project = tempProject('taylorlens-demo-');
  const io = memoryIo(project.dir);
  const code = await main(['--backend', 'wasm', 'demo', '--limit', '512', '--epochs', '1', '--out', 'demo-runs'], io);
  demoOut = io.out() + io.err();
  expect(code, demoOut).toBe(0);
  demoDir = onlyRun(path.join(project.dir, 'demo-runs'));
});
afterAll(() => project.cleanup());

async function expectCleanRender(file: string): Promise<string> {
  const r = await renderInChromium(file);
  expect(r.consoleErrors, r.consoleMessages.join('\n')).toEqual([]);
  expect(r.networkRequests).toEqual([]);
  return r.dom;
}

describe('taylorlens demo', () => {
  it("trains the paper's autoencoder with every installed plugin on and writes a completed run folder", () => {
    const run = readJson(path.join(demoDir, 'run.json'));
    expect(run.status).toBe('completed');
    expect(run.config.model.layers.map((l: { units: number }) => l.units)).toEqual([50, 30, 20, 30, 50, 784]);
    expect(run.config).toMatchObject({ batchSize: 64, epochs: 1, optimizer: { name: 'adam', options: { learningRate: 1e-3 } }, model: { loss: 'mse' } });
    expect(run.config.data).toMatchObject({ source: 'mnist', limit: 512, target: 'input' });
    // The fixture plugin is installed in this project, so the demo switches it on at its demoOptions.
    expect(run.config.plugins).toContainEqual({ name: 'echo', options: { every: 2 } });
    expect(demoOut).toMatch(/demo: plugins on: .*echo/);
    const rows = readRows(demoDir);
    expect(rows.filter((r) => r.kind === 'round')).toHaveLength(8);
    expect(rows.filter((r) => r.kind === 'epoch')).toHaveLength(1);
    expect(typeof rows.at(-1)!.val_loss).toBe('number');
    expect(demoOut).toContain(`report: ${path.join(demoDir, 'report.html')}`);
  });

  it('writes a self-contained report that renders in Chromium without console errors', async () => {
    const dom = await expectCleanRender(path.join(demoDir, 'report.html'));
    expect(dom).toContain('Training loss per round');
    expect(dom).toContain('Loss per epoch');
    expect(dom).toContain('Echo plugin');
    expect(dom).toContain('<svg');
  });

  it('`report <runDir>` rebuilds report.html from the run folder alone', async () => {
    const file = path.join(demoDir, 'report.html');
    const before = fs.readFileSync(file, 'utf8');
    fs.rmSync(file);
    const io = memoryIo(project.dir);
    expect(await main(['report', demoDir], io), io.err()).toBe(0);
    expect(io.out()).toContain(`report: ${file}`);
    const after = fs.readFileSync(file, 'utf8');
    for (const s of ['Training loss per round', 'Echo plugin', 'demo-mnist-autoencoder']) expect(after).toContain(s);
    expect(after.length).toBeGreaterThan(before.length * 0.9);
    const missing = memoryIo(project.dir);
    expect(await main(['report', path.join(project.dir, 'nope')], missing)).toBe(1);
    expect(missing.err()).toContain('missing folder');
  });

  it('`compare` puts runs side by side: loss per run, final numbers, each plugin\'s comparison', async () => {
    const cfg = tinyConfig({ name: 'small', epochs: 1, plugins: [{ name: 'echo' }], output: { dir: 'other-runs' } });
    const runIo = memoryIo(project.dir);
    expect(await main(['--backend', 'wasm', 'run', writeConfig(project.dir, cfg)], runIo), runIo.err()).toBe(0);
    const other = onlyRun(path.join(project.dir, 'other-runs'));
    const io = memoryIo(project.dir);
    expect(await main(['compare', demoDir, other, '--out', 'cmp'], io), io.err()).toBe(0);
    const file = path.join(project.dir, 'cmp', 'report.html');
    expect(io.out()).toContain(`report: ${file}`);
    const dom = await expectCleanRender(file);
    for (const s of ['Training loss per run', 'Final numbers per run', 'demo-mnist-autoencoder', 'small', 'Echo across runs']) expect(dom).toContain(s);
  });
});

describe('taylorlens doctor', () => {
  it('names the backend, versions, kernels each backend lacks, our fixes, CUDA and WebGPU status, plugins', async () => {
    const io = memoryIo(project.dir);
    expect(await main(['doctor'], io), io.err()).toBe(0);
    const out = io.out();
    expect(out).toMatch(/backend that would be picked: \w+/);
    expect(out).toContain(`node: ${process.version}`);
    expect(out).toContain('@tensorflow/tfjs-core: 4.22.0');
    expect(out).toMatch(/kernels to train a dense \+ conv2d \+ max-pool net with softmax cross-entropy \(\d+, found on cpu\):\n {2}.*Conv2DBackpropFilter.*MaxPoolGrad/);
    expect(out).toMatch(/missing per registered backend \(after our fixes\):\n {2}cpu: none\n {2}wasm: none/);
    expect(out).toContain('wasm/Conv2DBackpropFilter: missing on wasm');
    expect(out).toMatch(/tfjs-node-gpu CUDA libraries:\n {2}(not installed|.*\.node:)/);
    expect(out).toMatch(/webgpu: (not installed|installed)/);
    expect(out).toMatch(/echo: @taylorlens\/plugin-echo 0\.0\.1 \(trainer plugin; optimizers echoSgd\)/);
  });
});
