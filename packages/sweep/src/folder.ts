/**
 * The sweep folder: `sweep.json` (the manifest: every run's id, axis labels, seed, and a token that
 * workers read back to know they see the same folder), and per run `runs/<id>/` holding its
 * `config.json`, `attempts.json` (who ran it, when, how it ended), `log.txt` (the CLI's output) and
 * the ordinary run folder the CLI creates there. A run's state is read from its run folder, so
 * `report`, `compare` and `run --resume` work on it as on any run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, RUN_LOCK, writeJsonAtomic, type RunFile } from '@taylorlens/core';
import type { Expansion } from './expand.js';

export const SWEEP_FORMAT = 'taylorlens-sweep/1';
export const MANIFEST = 'sweep.json';
export const RUNS_DIR = 'runs';
export const RUN_CONFIG = 'config.json';
export const ATTEMPTS = 'attempts.json';
export const RUN_LOG = 'log.txt';

export interface Manifest {
  format: typeof SWEEP_FORMAT;
  name: string;
  source: string;
  createdAt: string;
  /** Random: a worker that reads this token from the folder named in a job sees the sweep's own folder. */
  token: string;
  axes: Expansion['axes'];
  runs: { id: string; axes: Record<string, string>; seed: number }[];
}

export interface Attempt {
  attempt: number;
  worker: string;
  action: 'start' | 'resume';
  startedAt: string;
  /** Queue only: milliseconds from enqueue to this attempt's start. */
  queuedMs?: number;
  endedAt?: string;
  exitCode?: number;
  status?: string;
  /** The process the run ran in (a local sweep's lane runs several runs, one after another). */
  pid?: number;
}

export type RunState = 'pending' | 'running' | 'interrupted' | 'completed' | 'diverged' | 'failed';

export interface RunView {
  id: string;
  state: RunState;
  /** The run folder the CLI created (null before the run started). */
  runDir: string | null;
  run: RunFile | null;
  epochs: number;
  /** Epochs as of the last checkpoint (or all, once finished). */
  epochDone: number;
  attempts: Attempt[];
}

export const runHome = (sweepDir: string, id: string) => path.join(sweepDir, RUNS_DIR, id);

export function readManifest(sweepDir: string): Manifest {
  const file = path.join(sweepDir, MANIFEST);
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw new Error(`${file}: cannot read the sweep manifest: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing file: not a sweep folder?' : (e as Error).message}`);
  }
  if (m.format !== SWEEP_FORMAT) throw new Error(`${file}: expected format "${SWEEP_FORMAT}", got ${JSON.stringify(m.format)}`);
  return m;
}

/**
 * Create the sweep folder (or reopen it: the same sweep started again). A folder that holds a
 * different sweep — other runs or other configs — is refused before anything is written.
 */
export function prepareSweepFolder(x: Expansion): Manifest {
  const file = path.join(x.dir, MANIFEST);
  if (fs.existsSync(file)) {
    const m = readManifest(x.dir);
    const differs = m.runs.length !== x.runs.length || x.runs.some((r, i) => {
      if (m.runs[i]?.id !== r.id) return true;
      const cfg = path.join(runHome(x.dir, r.id), RUN_CONFIG);
      return !fs.existsSync(cfg) || !isDeepStrictEqual(JSON.parse(fs.readFileSync(cfg, 'utf8')), r.config);
    });
    if (differs) {
      throw new ConfigError(x.source, [{
        pointer: '/name',
        message: `${x.dir} already holds a different sweep (other runs or configs); expected a new name, or delete that folder to start over`,
      }]);
    }
    return m;
  }
  for (const r of x.runs) {
    fs.mkdirSync(runHome(x.dir, r.id), { recursive: true });
    writeJsonAtomic(path.join(runHome(x.dir, r.id), RUN_CONFIG), r.config);
  }
  const m: Manifest = {
    format: SWEEP_FORMAT, name: x.name, source: x.source, createdAt: new Date().toISOString(), token: randomBytes(8).toString('hex'),
    axes: x.axes, runs: x.runs.map((r) => ({ id: r.id, axes: r.axes, seed: r.seed })),
  };
  // The manifest last: a folder with a manifest has every run's config.
  writeJsonAtomic(file, m);
  return m;
}

/** The run folder the CLI made under `runs/<id>/` (the only folder there), or null. */
export function findRunDir(sweepDir: string, id: string): string | null {
  const home = runHome(sweepDir, id);
  const dirs = fs.readdirSync(home, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(home, e.name));
  if (dirs.length > 1) throw new Error(`${home}: expected at most one run folder, found ${dirs.length}: ${dirs.map((d) => path.basename(d)).join(', ')}`);
  return dirs[0] ?? null;
}

export function readAttempts(sweepDir: string, id: string): Attempt[] {
  try {
    return JSON.parse(fs.readFileSync(path.join(runHome(sweepDir, id), ATTEMPTS), 'utf8')) as Attempt[];
  } catch {
    return [];
  }
}

/** One launcher per run at a time (a lane, or the worker holding the job), so read-modify-write is safe. */
export function writeAttempts(sweepDir: string, id: string, attempts: Attempt[]): void {
  writeJsonAtomic(path.join(runHome(sweepDir, id), ATTEMPTS), attempts);
}

export function viewRun(sweepDir: string, id: string): RunView {
  const runDir = findRunDir(sweepDir, id);
  const attempts = readAttempts(sweepDir, id);
  const config = JSON.parse(fs.readFileSync(path.join(runHome(sweepDir, id), RUN_CONFIG), 'utf8')) as { epochs: number };
  let run: RunFile | null = null;
  if (runDir && fs.existsSync(path.join(runDir, 'run.json'))) run = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')) as RunFile;
  let state: RunState = 'pending';
  const writer = runDir !== null && lockHeld(path.join(runDir, RUN_LOCK));
  if (run) {
    // `running` with no live writer: it died (Ctrl-C twice, a crash, a killed worker); resumable like `interrupted`.
    state = run.status === 'running' ? (writer ? 'running' : 'interrupted') : run.status;
  } else if (writer) {
    state = 'running';
  }
  const epochDone = state === 'completed' ? run!.summary?.epochsCompleted ?? config.epochs : run?.checkpoint?.epoch ?? 0;
  return { id, state, runDir, run, epochs: config.epochs, epochDone, attempts };
}

/**
 * Whether run.lock has a writer that may be alive: false when the file is gone, or names a process
 * of this host that no longer exists (the core takes such a lock over on resume). A lock of
 * another host counts as held: this machine cannot tell.
 */
function lockHeld(file: string): boolean {
  let owner: { pid?: number; host?: string };
  try {
    owner = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: number; host?: string };
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'; // being written: held
  }
  if (owner.host !== os.hostname() || typeof owner.pid !== 'number') return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Who is running this: `host:pid` of the sweep process or worker. */
export const workerName = () => `${os.hostname()}:${process.pid}`;
