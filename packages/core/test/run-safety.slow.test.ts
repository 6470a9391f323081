// Runs that cannot be corrupted, through the real `taylorlens` binary in child processes: two
// `run --resume` of one folder at once, a resume while the run is going, a writer killed with
// SIGKILL (its stale lock taken over), repeated double Ctrl-C (two SIGINTs 30 ms apart) at many
// moments, and SIGTERM while the final weights are written. After each: exit code 2 or 130 (never
// death by signal), run.json never left `running`, no half-written set of final weights, and the
// metrics rows of a finished run exactly rounds 1…N.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy } from '../src/store/npy.js';
import { buildCli, CLI_MAIN, REPO_ROOT, onlyRun, readJson, readRows, tempProject, type Project, writeNamedConfig } from './fixtures/project.js';
import { writeBatteryData, SAMPLES } from './helpers/battery.js';

const FAULT = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'fault.mjs')).href;

let project: Project;
beforeAll(() => {
  buildCli(); // the binary runs from dist/
  expect(fs.readFileSync(path.join(REPO_ROOT, 'packages', 'core', 'dist', 'run', 'runner.js'), 'utf8')).toContain('acquireRunLock');
  project = tempProject('taylorlens-safety-slow-');
  writeBatteryData(project.dir);
});
afterAll(() => project?.cleanup());

type Json = Record<string, any>;

/** batchSize 1: 48 rounds per epoch of the battery's 6×6 autoencoder, on cpu. */
function config(name: string, epochs: number, edit: (c: Json) => void = () => {}): string {
  const c: Json = {
    name, seed: 2, epochs, batchSize: 1, backend: 'cpu',
    model: { input: [36], layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 36 }], loss: 'mse' },
    data: { source: 'idx', trainImages: 'data/images.idx', trainLabels: 'data/labels.idx', target: 'input', flatten: true },
    optimizer: { name: 'sgd', options: { learningRate: 0.05 } },
    output: { dir: `runs-${name}` },
  };
  return writeNamedConfig(project.dir, name, c, edit);
}

interface Exit { code: number | null; signal: NodeJS.Signals | null; out: string }
interface Child { proc: ChildProcess; out: () => string; done: Promise<Exit> }

function start(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', FAULT, CLI_MAIN, ...args], { cwd: project.dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const done = new Promise<Exit>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
  return { proc, out: () => out, done };
}

const cli = (args: string[], env?: Record<string, string>) => start(args, env).done;

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Epoch rows in the only run folder under `root` (0 while there is none). */
function epochsDone(root: string): number {
  if (!fs.existsSync(root) || fs.readdirSync(root).length !== 1) return 0;
  const m = path.join(root, fs.readdirSync(root)[0], 'metrics.jsonl');
  return fs.existsSync(m) ? (fs.readFileSync(m, 'utf8').match(/"kind":"epoch"/g) ?? []).length : 0;
}

function expectRounds(dir: string, n: number): void {
  const rounds = readRows(dir).filter((r) => r.kind === 'round').map((r) => r.round);
  expect(rounds).toEqual(Array.from({ length: n }, (_, i) => i + 1));
}

/** No half-written final weights: no partial folder; weights/, when there, lists exactly its files, each complete. */
function expectWholeWeights(dir: string): void {
  expect(fs.readdirSync(dir).filter((e) => /^weights\./.test(e)), 'a partial or old weights folder was left').toEqual([]);
  const w = path.join(dir, 'weights');
  if (!fs.existsSync(w)) return;
  const index = readJson(path.join(w, 'index.json'));
  expect(fs.readdirSync(w).sort()).toEqual([...index.weights.map((e: Json) => e.file), 'index.json'].sort());
  for (const e of index.weights) expect(decodeNpy(fs.readFileSync(path.join(w, e.file))).shape).toEqual(e.shape);
}

/** A run stopped after 2 of `epochs` epochs (its config said 2; run.json now asks for more), ready to resume. */
async function interruptedRun(name: string, epochs: number): Promise<string> {
  const r = await cli(['run', config(name, 2)]);
  expect(r.code, r.out).toBe(0);
  const dir = onlyRun(path.join(project.dir, `runs-${name}`));
  const run = readJson(path.join(dir, 'run.json'));
  run.config.epochs = epochs;
  run.status = 'interrupted';
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run, null, 2));
  return dir;
}

const LOCKED = /error: .* is being written by another process \(pid \d+ on host [^,]+, `taylorlens run( --resume)?` since [^)]+\): one writer per run folder, so this command wrote nothing/;

describe('one writer per run folder, with real processes', () => {
  it('two `run --resume` of one folder at once: one resumes, the other is refused (exit 2); the rows are exactly 1…N', async () => {
    // 38 epochs to go (several seconds), so that both processes start long before either could finish.
    const dir = await interruptedRun('twice', 40);
    const [a, b] = await Promise.all([cli(['run', '--resume', dir]), cli(['run', '--resume', dir])]);
    const codes = [a.code, b.code].sort();
    expect(codes, a.out + '\n----\n' + b.out).toEqual([0, 2]);
    const refused = a.code === 2 ? a : b;
    expect(refused.out).toMatch(LOCKED);
    expect(refused.out).not.toContain('resuming ');
    expectRounds(dir, 40 * SAMPLES);
    expect(readJson(path.join(dir, 'run.json'))).toMatchObject({ status: 'completed', sessions: [expect.anything(), expect.anything()] });
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });

  it('a resume while the run is going is refused at once (exit 2); the run finishes untouched', async () => {
    const root = path.join(project.dir, 'runs-going');
    const first = start(['run', config('going', 40)]); // long enough to outlast the second process's start
    await until('the first epoch', () => epochsDone(root) >= 1);
    const dir = onlyRun(root);
    const second = await cli(['run', '--resume', dir]);
    expect(second.code, second.out).toBe(2);
    expect(second.out).toMatch(LOCKED);
    const r = await first.done;
    expect(r.code, r.out).toBe(0);
    expectRounds(dir, 40 * SAMPLES);
    expect(readJson(path.join(dir, 'run.json')).sessions).toHaveLength(1);
  });

  it('a writer killed with SIGKILL leaves a stale lock: the resume takes it over, says so, and completes', async () => {
    const root = path.join(project.dir, 'runs-killed');
    const first = start(['run', config('killed', 8)]);
    await until('the first epoch', () => epochsDone(root) >= 1);
    first.proc.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const dir = onlyRun(root);
    const lock = readJson(path.join(dir, 'run.lock'));
    expect(lock).toMatchObject({ pid: first.proc.pid, command: 'run' });
    expect(readJson(path.join(dir, 'run.json')).status).toBe('running'); // SIGKILL cannot be handled
    const r = await cli(['run', '--resume', dir]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`warning: taking over the lock of ${dir}: its owner (pid ${first.proc.pid} on host`);
    expectRounds(dir, 8 * SAMPLES);
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });
});

describe('signals until the process exits', () => {
  // When the first SIGINT goes out: ms after the run printed its folder (training under way), or
  // once the last epoch's row is written (the final files and the report are next).
  const trials: { name: string; after: number | 'last epoch' }[] = [
    { name: 'd0', after: 0 }, { name: 'd40', after: 40 }, { name: 'd150', after: 150 },
    { name: 'd400', after: 400 }, { name: 'dlast1', after: 'last epoch' }, { name: 'dlast2', after: 'last epoch' },
  ];

  it.each(trials.map((t) => [t.name, t] as const))('two SIGINTs 30 ms apart (%s): exit 130, run.json never `running`, weights whole, resumable', async (name, t) => {
    const epochs = 8; // about 2 s of training: the delays above all land inside it
    const root = path.join(project.dir, `runs-${name}`);
    const child = start(['run', config(name, epochs)]);
    if (t.after === 'last epoch') await until('the last epoch', () => epochsDone(root) >= epochs);
    else {
      await until('the run folder line', () => child.out().includes('run folder: '));
      await new Promise((r) => setTimeout(r, t.after as number));
    }
    child.proc.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 30));
    child.proc.kill('SIGINT');
    const r = await child.done;
    expect(r.signal, r.out).toBeNull();
    expect(r.code, r.out).toBe(130);
    const dir = onlyRun(root);
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.status, r.out).not.toBe('running');
    expect(['interrupted', 'completed']).toContain(run.status);
    expectWholeWeights(dir);
    if (run.status === 'interrupted') {
      const resumed = await cli(['run', '--resume', dir]);
      expect(resumed.code, resumed.out).toBe(0);
      expectWholeWeights(dir);
    }
    expectRounds(dir, epochs * SAMPLES);
    expect(readJson(path.join(dir, 'run.json')).status).toBe('completed');
  });

  it('SIGTERM while the final weights are written: they are finished as a set, run.json says completed, exit 130 without the report', async () => {
    const root = path.join(project.dir, 'runs-final');
    // 12 dense layers: 24 weight files; the signal arrives as the 5th is opened.
    const r = await cli(['run', config('final', 2, (c) => {
      c.model.layers = [...Array.from({ length: 11 }, () => ({ type: 'dense', units: 8, activation: 'relu' })), { type: 'dense', units: 36 }];
    })], { TAYLORLENS_FAULT_PATH: `${path.sep}weights.partial-`, TAYLORLENS_FAULT_NTH: '5', TAYLORLENS_FAULT_SIGNAL: 'SIGTERM' });
    expect(r.signal, r.out).toBeNull();
    expect(r.code, r.out).toBe(130);
    expect(r.out).toContain("SIGTERM: writing the run's final files first (they are written as a set), then stopping without the report");
    expect(r.out).toContain('report not written (stopped by SIGTERM)');
    const dir = onlyRun(root);
    expect(readJson(path.join(dir, 'run.json')).status).toBe('completed');
    expectWholeWeights(dir);
    expect(readJson(path.join(dir, 'weights', 'index.json')).weights).toHaveLength(24);
    expectRounds(dir, 2 * SAMPLES);
    // The report it skipped can be built from the folder.
    const rebuilt = await cli(['report', dir]);
    expect(rebuilt.code, rebuilt.out).toBe(0);
  });

  it('SIGINT mid-run, then SIGTERM while the final weights are written: interrupted, whole weights, resumable', async () => {
    const root = path.join(project.dir, 'runs-final2');
    const child = start(['run', config('final2', 4)], { TAYLORLENS_FAULT_PATH: `${path.sep}weights.partial-`, TAYLORLENS_FAULT_NTH: '2', TAYLORLENS_FAULT_SIGNAL: 'SIGTERM' });
    await until('the first epoch', () => epochsDone(root) >= 1);
    child.proc.kill('SIGINT');
    const r = await child.done;
    expect(r.signal, r.out).toBeNull();
    expect(r.code, r.out).toBe(130);
    const dir = onlyRun(root);
    expect(readJson(path.join(dir, 'run.json')).status).toBe('interrupted');
    expectWholeWeights(dir);
    const resumed = await cli(['run', '--resume', dir]);
    expect(resumed.code, resumed.out).toBe(0);
    expectRounds(dir, 4 * SAMPLES);
  });
});
