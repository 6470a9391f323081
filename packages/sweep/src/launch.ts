/**
 * Running one run of a sweep as the ordinary CLI in a child process (`taylorlens run <config>`, or
 * `run --resume <runDir>` when an earlier attempt left a run folder), so a crash of one run never
 * takes its launcher down (a local sweep runs it in a lane, lane.ts: a child process that runs
 * one run after another). The child is started with a guard (dist/guard.js) that interrupts it
 * cleanly when its launcher dies, so a killed worker leaves no orphan holding the run's lock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lane } from './lane.js';
import { findRunDir, readAttempts, RUN_CONFIG, RUN_LOG, runHome, viewRun, workerName, writeAttempts, type RunState } from './folder.js';

/** How long a launcher waits for an earlier attempt's process to let go of the run folder. */
const LOCK_WAIT_MS = 60_000;

// The compiled guard, from src/ (tests) as from dist/.
const GUARD = fileURLToPath(new URL('../dist/guard.js', import.meta.url));

export interface LaunchOptions {
  /** The taylorlens CLI entry (main.js of @taylorlens/cli, which hands in its own; this package cannot depend on it). */
  cli: string;
  /** --backend for the child. */
  backend?: string;
  /** Folder the child runs in (plugins are looked up from it first). */
  cwd: string;
  /** Queue only: how long the job waited before this attempt. */
  queuedMs?: number;
  /** Told of the child once it runs (to forward signals). */
  onChild?: (child: ChildProcess) => void;
  /** Run in this lane (a process that runs one run after another) instead of a process of its own; `onChild` is then not called. */
  lane?: Lane;
}

export interface LaunchResult {
  /** `skipped`: the run had already completed, or had ended diverged/failed (never repeated). */
  action: 'start' | 'resume' | 'skipped';
  state: RunState;
  exitCode: number | null;
  /** When the CLI refused the run or it failed: the end of what it printed (why). */
  why?: string;
}

/** Bring one run to an end: skip it if finished, resume it if it has a run folder, start it otherwise. */
export async function launchRun(sweepDir: string, id: string, opts: LaunchOptions): Promise<LaunchResult> {
  let before = viewRun(sweepDir, id);
  // A run taken over from a dead worker: its orphaned child interrupts itself (guard.ts); wait for its lock to go.
  for (const until = Date.now() + LOCK_WAIT_MS; before.state === 'running' && Date.now() < until; before = viewRun(sweepDir, id)) {
    await new Promise((r) => setTimeout(r, 250));
  }
  if (before.state === 'completed' || before.state === 'diverged' || before.state === 'failed') {
    return { action: 'skipped', state: before.state, exitCode: null };
  }
  // A folder the CLI created but never wrote run.json into holds nothing trained: start afresh.
  if (before.runDir && !before.run && before.state !== 'running') fs.rmSync(before.runDir, { recursive: true, force: true });
  const runDir = findRunDir(sweepDir, id);
  const action = runDir ? 'resume' : 'start';
  const home = runHome(sweepDir, id);
  const args = [...(opts.backend ? ['--backend', opts.backend] : []), 'run', ...(runDir ? ['--resume', runDir] : [path.join(home, RUN_CONFIG)])];

  const attempts = readAttempts(sweepDir, id);
  const mine = {
    attempt: attempts.length + 1, worker: workerName(), action, startedAt: new Date().toISOString(),
    ...(opts.queuedMs !== undefined ? { queuedMs: opts.queuedMs } : {}),
  } as const;
  writeAttempts(sweepDir, id, [...attempts, mine]);

  const log = fs.openSync(path.join(home, RUN_LOG), 'a');
  fs.writeSync(log, `\n== attempt ${mine.attempt} (${action}) by ${mine.worker} at ${mine.startedAt}: taylorlens ${args.join(' ')}\n`);
  let exitCode: number | null;
  let pid: number | undefined;
  const from = fs.fstatSync(log).size;
  try {
    if (opts.lane) {
      ({ exitCode, pid } = await opts.lane.run(args, path.join(home, RUN_LOG)));
    } else {
      // Own process group: a Ctrl-C at the terminal reaches the launcher only, which forwards one SIGINT.
      const child = spawn(process.execPath, ['--import', GUARD, opts.cli, ...args], { cwd: opts.cwd, stdio: ['ignore', log, log], detached: true });
      pid = child.pid;
      opts.onChild?.(child);
      exitCode = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
      });
    }
  } finally {
    fs.closeSync(log);
  }
  const after = viewRun(sweepDir, id);
  const list = readAttempts(sweepDir, id);
  const last = list.at(-1);
  if (last && last.attempt === mine.attempt) Object.assign(last, { endedAt: new Date().toISOString(), exitCode, status: after.run?.status ?? 'not started', pid });
  writeAttempts(sweepDir, id, list);
  const why = exitCode === 1 || exitCode === 2 ? tail(path.join(home, RUN_LOG), from) : undefined;
  return { action, state: after.state, exitCode, ...(why ? { why } : {}) };
}

/** The last lines this attempt wrote to the log (at most 8 lines, 1,000 characters). */
function tail(file: string, from: number): string {
  const text = fs.readFileSync(file, 'utf8').slice(from).trim();
  return text.split('\n').slice(-8).join('\n').slice(-1000);
}
