// Runs that cannot be corrupted, in-process (the same behaviour through real processes, with real
// signals, is in run-safety.slow.test.ts): one writer per run folder (the lock, stale locks taken
// over), what each signal does in each phase, final weights written as one set, warnings that reach
// the terminal, run.json and the report, a report of a run that diverged at round 2 with every
// plugin on, data provenance, and plugin paths confined to the run folder.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256File } from '../src/run/data.js';
import { acquireRunLock, ownerAlive, processStart, RunLockedError, type LockOwner } from '../src/run/lock.js';
import { RunSignals } from '../src/run/signals.js';
import { decodeNpy } from '../src/store/npy.js';
import { onlyRun, readJson, readRows, tempProject, type Project, writeNamedConfig, runCliIn } from './fixtures/project.js';
import { writeBatteryData } from './helpers/battery.js';

let project: Project;
beforeAll(() => {
  project = tempProject('taylorlens-safety-');
  writeBatteryData(project.dir);
});
afterAll(() => project.cleanup());

type Json = Record<string, any>;

/** A 36-8-36 autoencoder on the battery's 48 6×6 images: 6 rounds per epoch on cpu. */
function config(name: string, edit: (c: Json) => void = () => {}): string {
  const c: Json = {
    name, seed: 1, epochs: 2, batchSize: 8, backend: 'cpu',
    model: { input: [36], layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 36 }], loss: 'mse' },
    data: { source: 'idx', trainImages: 'data/images.idx', trainLabels: 'data/labels.idx', target: 'input', flatten: true },
    optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
    output: { dir: `runs-${name}` },
  };
  return writeNamedConfig(project.dir, name, c, edit);
}

const cli = (...argv: string[]) => runCliIn(project.dir, argv);

/** The pid of a process that has exited (so certainly not running now). */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
}

function owner(pid: number, extra: Partial<LockOwner> = {}): LockOwner {
  return { pid, host: os.hostname(), startedAt: '2025-01-01T00:00:00.000Z', processStart: null, command: 'run', token: 'feedbeef', ...extra };
}

describe('run.lock: one writer per run folder', () => {
  const folder = () => fs.mkdtempSync(path.join(project.dir, 'lock-'));

  it('is created exclusively with pid, host, start time and token; a second taker is refused; release removes it', () => {
    const dir = folder();
    const a = acquireRunLock(dir, 'run');
    const file = path.join(dir, 'run.lock');
    expect(readJson(file)).toMatchObject({ pid: process.pid, host: os.hostname(), command: 'run', token: a.owner.token });
    expect(() => acquireRunLock(dir, 'run --resume')).toThrow(RunLockedError);
    expect(() => acquireRunLock(dir, 'run --resume')).toThrow(/is being written by another process \(pid \d+ on host .*`taylorlens run` since/);
    a.release();
    expect(fs.existsSync(file)).toBe(false);
    const b = acquireRunLock(dir, 'run --resume');
    expect(b.tookOver).toBeNull();
    a.release(); // not ours any more: leaves b's lock alone
    expect(readJson(file).token).toBe(b.owner.token);
    b.release();
  });

  it('a lock whose process is gone is stale and taken over, saying whose it was', () => {
    const dir = folder();
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(owner(dead)));
    expect(ownerAlive(owner(dead))).toBe(false);
    const lock = acquireRunLock(dir, 'run --resume');
    expect(lock.tookOver).toMatchObject({ pid: dead });
    lock.release();
  });

  it('a live pid that started after the lock was taken is a reused pid: stale (Linux)', () => {
    if (processStart(process.pid) === null) return; // no /proc here
    expect(ownerAlive(owner(process.pid, { processStart: processStart(process.pid) }))).toBe(true);
    expect(ownerAlive(owner(process.pid, { processStart: '1' }))).toBe(false);
  });

  it('a lock on another host cannot be checked from here: refused, and the message says how to clear it', () => {
    const dir = folder();
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(owner(12345, { host: 'some-other-machine' })));
    expect(() => acquireRunLock(dir, 'run')).toThrow(/runs on another machine, which this one cannot check: if it is no longer running, delete .*run\.lock/);
  });

  it('an unreadable lock: refused while fresh (its writer may be mid-write), taken over once old', () => {
    const dir = folder();
    const file = path.join(dir, 'run.lock');
    fs.writeFileSync(file, '');
    expect(() => acquireRunLock(dir, 'run')).toThrow(RunLockedError);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(file, old, old);
    const lock = acquireRunLock(dir, 'run');
    expect(lock.tookOver).toBe('unreadable');
    lock.release();
  });

  it('a resume while the run is going (same process, concurrently) is refused with exit 2 and the run is unharmed', async () => {
    const file = config('busy', (c) => { c.epochs = 12; c.batchSize = 4; });
    const running = cli('run', file);
    const root = path.join(project.dir, 'runs-busy');
    // Wait for the first epoch's checkpoint, then try to resume the folder being written.
    const until = Date.now() + 60_000;
    while (!(fs.existsSync(root) && fs.readdirSync(root).length === 1 && fs.existsSync(path.join(root, fs.readdirSync(root)[0], 'metrics.jsonl'))
      && fs.readFileSync(path.join(root, fs.readdirSync(root)[0], 'metrics.jsonl'), 'utf8').includes('"kind":"epoch"'))) {
      if (Date.now() > until) throw new Error('the run did not reach its first epoch');
      await new Promise((r) => setTimeout(r, 10));
    }
    const dir = onlyRun(root);
    const second = await cli('run', '--resume', dir);
    expect(second.code).toBe(2);
    expect(second.err).toContain(`error: ${dir} is being written by another process (pid ${process.pid} on host ${os.hostname()}, \`taylorlens run\` since`);
    const first = await running;
    expect(first.code, first.err).toBe(0);
    const rounds = readRows(dir).filter((r) => r.kind === 'round').map((r) => r.round);
    expect(rounds).toEqual(Array.from({ length: 12 * 12 }, (_, i) => i + 1));
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });

  it('a resume of a run whose writer died (stale lock) takes the lock over with a message and completes', async () => {
    const r = await cli('run', config('stale'));
    expect(r.code, r.err).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-stale'));
    const run = readJson(path.join(dir, 'run.json'));
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...run, status: 'running' }));
    const dead = deadPid();
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(owner(dead)));
    const resumed = await cli('run', '--resume', dir);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain(`warning: taking over the lock of ${dir}: its owner (pid ${dead} on host ${os.hostname()}, \`taylorlens run\` since 2025-01-01T00:00:00.000Z) is no longer running`);
    expect(readJson(path.join(dir, 'run.json')).warnings).toContainEqual(expect.objectContaining({ source: 'core', message: expect.stringContaining('taking over the lock') }));
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });
});

describe('signals, phase by phase (RunSignals)', () => {
  function harness() {
    const lines: string[] = [];
    const emergency = vi.fn();
    const exit = vi.fn(() => { throw new Error('exit'); }) as unknown as (code: number) => never;
    const signals = new RunSignals({ dir: '/runs/x', warn: (l) => lines.push(l), emergency }, exit);
    const trainer = { stop: vi.fn() };
    return { lines, emergency, exit, signals, trainer };
  }

  it('during training: the first asks the trainer to stop, a second writes run.json (emergency) and exits 130', () => {
    const h = harness();
    h.signals.training(h.trainer as never);
    h.signals.handle('SIGINT');
    expect(h.trainer.stop).toHaveBeenCalledWith('SIGINT', 'interrupted');
    expect(h.exit).not.toHaveBeenCalled();
    expect(() => h.signals.handle('SIGINT')).toThrow('exit');
    expect(h.emergency).toHaveBeenCalledWith('SIGINT');
    expect(h.exit).toHaveBeenCalledWith(130);
  });

  it('during setup: the signal is kept and stops training before its first round', () => {
    const h = harness();
    h.signals.handle('SIGTERM');
    expect(h.lines[0]).toContain('SIGTERM: stopping before the first round');
    h.signals.training(h.trainer as never);
    expect(h.trainer.stop).toHaveBeenCalledWith('SIGTERM', 'interrupted');
  });

  it('while the final files are written: any number of signals wait; afterwards the report is skipped', () => {
    const h = harness();
    h.signals.training(h.trainer as never);
    h.signals.handle('SIGINT'); // the graceful stop
    h.signals.phase = 'finishing';
    expect(h.signals.pending).toBe(false);
    for (const s of ['SIGINT', 'SIGTERM', 'SIGINT'] as const) h.signals.handle(s);
    expect(h.exit).not.toHaveBeenCalled();
    expect(h.emergency).not.toHaveBeenCalled();
    expect(h.signals.pending).toBe(true);
    expect(h.lines.filter((l) => l.includes('writing the run\'s final files first'))).toHaveLength(1);
  });

  it('while the report is built: exit 130 at once (run.json is final), saying how to rebuild it', () => {
    const h = harness();
    h.signals.phase = 'report';
    expect(() => h.signals.handle('SIGTERM')).toThrow('exit');
    expect(h.exit).toHaveBeenCalledWith(130);
    expect(h.lines[0]).toContain('rebuild its report with `taylorlens report /runs/x`');
  });
});

describe('what a run writes', () => {
  it('final weights are one set: a resumed run replaces the earlier set whole, leaving no partial folders', async () => {
    const file = config('weights', (c) => { c.plugins = [{ name: 'echo', options: { failAtRound: 8 } }]; });
    const failed = await cli('run', file);
    expect(failed.code).toBe(1); // failed runs write no final weights; make it interrupted with weights next
    const dir = onlyRun(path.join(project.dir, 'runs-weights'));
    // An earlier session's (stale) set, with an extra file the new set does not have.
    fs.mkdirSync(path.join(dir, 'weights'));
    fs.writeFileSync(path.join(dir, 'weights', '99.npy'), 'old');
    fs.mkdirSync(path.join(dir, 'weights.partial-deadbeef')); // left by a process killed while writing
    const run = readJson(path.join(dir, 'run.json'));
    run.config.plugins = [];
    run.plugins = [];
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run));
    const resumed = await cli('run', '--resume', dir);
    expect(resumed.code, resumed.err).toBe(0);
    const names = fs.readdirSync(path.join(dir, 'weights')).sort();
    expect(names).toEqual(['00.npy', '01.npy', '02.npy', '03.npy', 'index.json']);
    for (const w of readJson(path.join(dir, 'weights', 'index.json')).weights) {
      expect(decodeNpy(fs.readFileSync(path.join(dir, 'weights', w.file))).shape).toEqual(w.shape);
    }
    expect(fs.readdirSync(dir).filter((e) => e.startsWith('weights.'))).toEqual([]);
  });

  it('data provenance: every file read, with size and sha256, in run.json and the report', async () => {
    const r = await cli('run', config('provenance'));
    expect(r.code, r.err).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-provenance'));
    const run = readJson(path.join(dir, 'run.json'));
    const images = path.join(project.dir, 'data', 'images.idx');
    expect(run.data).toBe(`idx (from ${path.join(project.dir, 'data')}) train 48 × [36] → input`);
    expect(run.dataFiles).toEqual([
      { split: 'train', path: images, bytes: fs.statSync(images).size, sha256: sha256File(images) },
      expect.objectContaining({ split: 'train', path: path.join(project.dir, 'data', 'labels.idx') }),
    ]);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Data files read (provenance)');
    expect(html).toContain(sha256File(images));
  });

  it("a plugin's outDir is a folder inside the run folder", async () => {
    const r = await cli('run', config('outdir', (c) => { c.epochs = 1; c.plugins = [{ name: 'activation', options: { outDir: 'act/out', probeSize: 8 } }]; }));
    expect(r.code, r.err).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-outdir'));
    expect(fs.existsSync(path.join(dir, 'act', 'out', 'activation.json'))).toBe(true);
    expect(fs.existsSync(path.join(project.dir, 'act'))).toBe(false);
  });

  it('the output folder resolves against the config file, not the working folder', async () => {
    fs.mkdirSync(path.join(project.dir, 'sub', 'data'), { recursive: true });
    for (const f of ['images.idx', 'labels.idx']) fs.copyFileSync(path.join(project.dir, 'data', f), path.join(project.dir, 'sub', 'data', f));
    const file = config('relative', (c) => { c.epochs = 1; c.output.dir = 'out'; });
    fs.renameSync(file, path.join(project.dir, 'sub', 'relative.json'));
    const r = await cli('run', 'sub/relative.json');
    expect(r.code, r.err).toBe(0);
    expect(fs.readdirSync(path.join(project.dir, 'sub', 'out'))).toHaveLength(1);
    expect(fs.existsSync(path.join(project.dir, 'out'))).toBe(false);
  });
});

describe('warnings reach the terminal, run.json and the report', () => {
  it('regret scopes skipped for budget: on stderr, in run.json, in the report (its own section and the regret notes)', async () => {
    const r = await cli('run', config('skipped', (c) => {
      c.epochs = 1;
      c.plugins = [{ name: 'regret', options: { network: { enabled: false }, budget: { memoryMB: 0.05 } } }];
    }));
    expect(r.code, r.err).toBe(0);
    const skipped = r.err.split('\n').filter((l) => l.startsWith('warning: regret: skipping scope '));
    expect(skipped.length, r.err).toBeGreaterThan(0);
    const dir = onlyRun(path.join(project.dir, 'runs-skipped'));
    const warnings = readJson(path.join(dir, 'run.json')).warnings;
    expect(warnings.filter((w: Json) => w.source === 'regret' && w.message.startsWith('skipping scope '))).toHaveLength(skipped.length);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Warnings during the run');
    expect(html).toMatch(/was skipped for budget/);
  });

  it('a resume from a checkpoint without regret state says so on the terminal', async () => {
    const file = config('noregretstate', (c) => {
      c.epochs = 1;
      c.plugins = [{ name: 'regret', options: { network: { enabled: false }, neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } } }];
    });
    expect((await cli('run', file)).code).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-noregretstate'));
    // One more epoch to go, from a checkpoint as written before checkpoints held regret state.
    const run = readJson(path.join(dir, 'run.json'));
    run.config.epochs = 2;
    fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ ...run, status: 'interrupted' }));
    const stateFile = path.join(dir, 'checkpoint', 'epoch-000001', 'state.json');
    const state = readJson(stateFile);
    expect(state.trainer.plugins.regret).toBeDefined();
    delete state.trainer.plugins.regret;
    fs.writeFileSync(stateFile, JSON.stringify(state));
    fs.rmSync(path.join(dir, 'checkpoint', 'epoch-000001', 'plugins'), { recursive: true, force: true });
    const resumed = await cli('run', '--resume', dir);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain('warning: regret: resumed run: regret accounting starts at the resumed round (the checkpoint holds no regret state)');
  });
});

describe('a run that diverged at round 2, every plugin on', () => {
  let dir: string;
  let run: { code: number; out: string; err: string };
  beforeAll(async () => {
    run = await cli('run', config('diverged', (c) => {
      c.optimizer = { name: 'sgd', options: { learningRate: 1e30 } };
      c.plugins = [{ name: 'regret', options: { neurons: { perLayer: 2 }, budget: { maxOverhead: 1e6 } } }, { name: 'activation', options: { probeSize: 8 } }, { name: 'echo' }];
    }));
    dir = onlyRun(path.join(project.dir, 'runs-diverged'));
  });

  it('ends diverged at round 2 (exit 1) with the round before it recorded and a report', () => {
    expect(run.code, run.err).toBe(1);
    const file = readJson(path.join(dir, 'run.json'));
    expect(file.status).toBe('diverged');
    expect(file.reason).toMatch(/at round 2$/);
    expect(readRows(dir).filter((r) => r.kind === 'round').map((r) => r.round)).toEqual([1]);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    expect(run.err).not.toContain('could not write the report');
    expect(run.err).not.toContain('its report section failed');
  });

  it("regret leaves the non-finite round out: regret.json holds round 1's numbers, no nulls, status diverged", () => {
    const regret = readJson(path.join(dir, 'regret', 'regret.json'));
    expect(regret.status).toBe('diverged');
    expect(regret.rounds).toBe(1);
    for (const s of Object.values<Json>(regret.scopes)) {
      for (const c of s.checkpoints) {
        expect(c.round).toBe(1);
        expect([c.cumulativeLoss, ...c.ball.phi, ...c.ball.regret, ...c.ball.radius].every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
      }
    }
  });

  it('`taylorlens report` rebuilds it without a failed section, and says how the non-finite round was handled', async () => {
    const r = await cli('report', dir);
    expect(r.code, r.err).toBe(0);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('the round whose loss diverged has no row');
    expect(html).toContain('The run diverged: the round whose loss was not finite is not in any sum');
    expect(html).not.toContain('could not be built');
  });
});
