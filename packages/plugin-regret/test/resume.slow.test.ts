// Regret that survives a resume, end to end: the real `taylorlens` binary in child processes, with
// every regret scope on, interrupted mid-epoch (SIGINT) or killed (SIGKILL) in the middle of writing
// a checkpoint, then `run --resume`d: regret.json (every checkpoint), losses.npy, the spilled stored
// rounds, the regret trace, the metrics rows and the final weights are those of the same run left
// alone, bit for bit. Also the convnet under cross-entropy in-process (stored rounds everywhere,
// reservoirs replacing spilled rounds after the checkpoint).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend, softmaxCrossEntropy } from '@taylorlens/core';
import { CONV, expectResumeMatches, expectSameRegret, filesUnder } from './helpers/resume.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..', '..');
const CLI_MAIN = path.join(REPO, 'packages', 'cli', 'dist', 'main.js');
const FAULT = pathToFileURL(path.join(HERE, 'helpers', 'fault.mjs')).href;

let project: string;

beforeAll(() => {
  // The binary runs from dist/: build core, this plugin and the CLI (incremental; errors elsewhere do not stop the emit).
  try {
    execFileSync(path.join(REPO, 'node_modules', '.bin', 'tsc'), ['-b', 'packages/core', 'packages/plugin-regret', 'packages/cli'], { cwd: REPO, stdio: 'pipe' });
  } catch (e) {
    const out = String((e as { stdout?: Buffer }).stdout ?? '');
    if (/src\/(cli|run|plugin\.ts|rounds|scopes|quadratic|state-files)/.test(out)) throw new Error(`build failed:\n${out}`);
  }
  expect(fs.readFileSync(path.join(REPO, 'packages', 'plugin-regret', 'dist', 'plugin.js'), 'utf8')).toContain('saveStateFiles');
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'regret-resume-cli-'));
  writeProject(project);
});
afterAll(() => { if (project) fs.rmSync(project, { recursive: true, force: true }); });

/** IDX files of 96 6×6 images with 4 classes, and the two configs (3 epochs of 12 rounds). */
function writeProject(dir: string): void {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'regret-resume-test', private: true, type: 'module' }));
  const idx = (file: string, magic: number, dims: number[], data: number[]) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    fs.writeFileSync(path.join(dir, file), Buffer.concat([head, Buffer.from(data)]));
  };
  const N = 96;
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 9) & 127;
  const labels = Array.from({ length: N }, (_, i) => i % 4);
  const images = labels.flatMap((l) => Array.from({ length: 36 }, (_, p) => rnd() + (p % 4 === l ? 120 : 0)));
  idx('images.idx', 0x803, [N, 6, 6], images);
  idx('labels.idx', 0x801, [N], labels);
  const data = { source: 'idx', trainImages: 'images.idx', trainLabels: 'labels.idx' };
  const common = { seed: 3, epochs: 3, batchSize: 8, backend: 'wasm', optimizer: { name: 'adam', options: { learningRate: 0.01 } } };
  for (const kind of ['alone', 'cut']) {
    // Squared error: statistics for every layer and 3 neurons per layer, stored rounds for the network;
    // no solve at epoch 1, so that checkpoint holds device partial sums and buffered rounds.
    write(dir, `mse-${kind}.json`, {
      ...common, name: 'mse',
      model: {
        input: [36], loss: 'mse',
        layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 4, activation: 'relu' }, { type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 36 }],
      },
      data: { ...data, target: 'input', flatten: true },
      plugins: [{ name: 'regret', options: { neurons: { perLayer: 3 }, network: { every: 3 }, checkpoint: { everyEpochs: 2 }, budget: { maxOverhead: 1e6 } } }],
      output: { dir: `runs-mse-${kind}`, trace: { every: 5 } },
    });
    // Cross-entropy convnet: stored rounds everywhere, reservoirs, a memory budget that makes rounds spill.
    write(dir, `ce-${kind}.json`, {
      ...common, name: 'ce',
      model: {
        input: [6, 6, 1], loss: 'softmaxCrossEntropy',
        layers: [{ type: 'conv2d', filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }, { type: 'maxPooling2d', poolSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 10 }],
      },
      data: { ...data, target: 'labels' },
      plugins: [{
        name: 'regret',
        options: {
          layers: { every: 2 }, neurons: { perLayer: 2, every: 1, reservoir: 4 }, network: { every: 1, reservoir: 5 },
          budget: { maxOverhead: 1e6, memoryMB: 0.01 }, solver: { maxIterations: 20 },
        },
      }],
      output: { dir: `runs-ce-${kind}`, trace: { every: 5 } },
    });
  }
}

function write(dir: string, name: string, cfg: unknown): void {
  fs.writeFileSync(path.join(dir, name), JSON.stringify(cfg, null, 2));
}

interface Child { code: number | null; signal: NodeJS.Signals | null; out: string }

/** The CLI in a child process, with a fault (helpers/fault.mjs) when asked. */
function cli(args: string[], fault?: { path: string; nth: number; signal: 'SIGINT' | 'SIGKILL' }): Promise<Child> {
  const env = { ...process.env };
  if (fault) Object.assign(env, { TAYLORLENS_FAULT_PATH: fault.path, TAYLORLENS_FAULT_NTH: String(fault.nth), TAYLORLENS_FAULT_SIGNAL: fault.signal });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', FAULT, CLI_MAIN, ...args], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

const onlyRun = (root: string) => {
  const entries = fs.readdirSync(path.join(project, root));
  expect(entries).toHaveLength(1);
  return path.join(project, root, entries[0]);
};
const json = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const rows = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const weights = (dir: string) => filesUnder(path.join(dir, 'weights'));

const alone: Record<string, string> = {};
async function aloneRun(kind: 'mse' | 'ce'): Promise<string> {
  if (!alone[kind]) {
    const r = await cli(['run', `${kind}-alone.json`]);
    expect(r.code, r.out).toBe(0);
    alone[kind] = onlyRun(`runs-${kind}-alone`);
  }
  return alone[kind];
}

/** Resume `dir` and check it against the uninterrupted run of the same config. */
async function resumeAndCompare(dir: string, kind: 'mse' | 'ce'): Promise<void> {
  const resumed = await cli(['run', '--resume', dir]);
  expect(resumed.code, resumed.out).toBe(0);
  expect(resumed.out).not.toMatch(/regret accounting starts|ignoring the checkpoint's regret state|holds no regret state/);
  const a = await aloneRun(kind);
  expect(weights(dir)).toEqual(weights(a));
  expect(rows(dir)).toEqual(rows(a));
  expectSameRegret(dir, a);
  expect(json(path.join(dir, 'run.json')).status).toBe('completed');
}

describe('taylorlens run --resume keeps the regret accounting', () => {
  for (const kind of ['mse', 'ce'] as const) {
    it(`${kind}: SIGINT in epoch 2, resumed from the epoch-1 checkpoint: bit for bit the uninterrupted run`, async () => {
      await aloneRun(kind);
      // Ctrl-C just after the epoch-1 checkpoint is committed (the 2nd latest.json: epoch 0, then 1).
      const cut = await cli(['run', `${kind}-cut.json`], { path: `checkpoint${path.sep}latest.json`, nth: 2, signal: 'SIGINT' });
      expect(cut.code, cut.out).toBe(130);
      const dir = onlyRun(`runs-${kind}-cut`);
      expect(json(path.join(dir, 'run.json'))).toMatchObject({ status: 'interrupted', checkpoint: { epoch: 1, round: 12 } });
      const trained = rows(dir).filter((r) => r.kind === 'round').length;
      expect(trained).toBeGreaterThan(12); // stopped inside epoch 2, after recording rounds past the checkpoint
      expect(trained).toBeLessThan(24);
      expect(json(path.join(dir, 'regret', 'regret.json')).rounds).toBe(trained); // its own end-of-run solve
      await resumeAndCompare(dir, kind);
    });
  }

  it('ce: SIGKILL in the middle of writing the epoch-2 checkpoint\'s regret state: resumes from epoch 1, same results', async () => {
    await aloneRun('ce');
    fs.rmSync(path.join(project, 'runs-ce-cut'), { recursive: true, force: true });
    const scopes = ['checkpoint', 'epoch-000002', 'plugins', 'regret', 'scopes', ''].join(path.sep);
    const killed = await cli(['run', 'ce-cut.json'], { path: scopes, nth: 4, signal: 'SIGKILL' });
    expect(killed.signal, killed.out).toBe('SIGKILL');
    const dir = onlyRun('runs-ce-cut');
    expect(json(path.join(dir, 'checkpoint', 'latest.json'))).toMatchObject({ epoch: 1, round: 12 });
    expect(fs.existsSync(path.join(dir, 'checkpoint', 'epoch-000002', 'plugins', 'regret', 'scopes'))).toBe(true); // half written
    expect(fs.existsSync(path.join(dir, 'checkpoint', 'epoch-000002', 'state.json'))).toBe(false);
    // The killed session had solved epoch 2 already: regret.json is ahead of the checkpoint.
    expect(json(path.join(dir, 'regret', 'regret.json')).rounds).toBe(24);
    await resumeAndCompare(dir, 'ce');
  });

  it('mse: SIGKILL after the regret state is written, before the checkpoint is committed: same results', async () => {
    await aloneRun('mse');
    fs.rmSync(path.join(project, 'runs-mse-cut'), { recursive: true, force: true });
    const state = ['checkpoint', 'epoch-000002', 'state.json'].join(path.sep);
    const killed = await cli(['run', 'mse-cut.json'], { path: state, nth: 1, signal: 'SIGKILL' });
    expect(killed.signal, killed.out).toBe('SIGKILL');
    const dir = onlyRun('runs-mse-cut');
    expect(json(path.join(dir, 'checkpoint', 'latest.json'))).toMatchObject({ epoch: 1 });
    expect(fs.existsSync(path.join(dir, 'checkpoint', 'epoch-000002', 'plugins', 'regret', 'regret-state.json'))).toBe(true);
    await resumeAndCompare(dir, 'mse');
  });
});

describe('in-process, cross-entropy convnet', () => {
  let root: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'regret-resume-ce-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('stored rounds everywhere, reservoirs replacing spilled rounds after the checkpoint: the same regret', async () => {
    await expectResumeMatches({
      name: 'ce', model: CONV, loss: softmaxCrossEntropy, epochs: 2,
      options: {
        layers: { every: 2 }, neurons: { perLayer: 1, every: 1, reservoir: 4 }, network: { every: 1, reservoir: 5 },
        budget: { maxOverhead: 1e6, memoryMB: 0.01 }, solver: { maxIterations: 30 },
      },
    }, root);
    const spilled = fs.readdirSync(root).map((d) => filesUnder(path.join(root, d, 'regret', 'rounds')));
    expect(spilled.every((f) => Object.keys(f).length > 0)).toBe(true); // it did spill
  });
});
