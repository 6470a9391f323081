/**
 * A sweep on this machine: N lanes, each a process that runs one run after another (lane.ts,
 * through launch.ts's bookkeeping). Started again
 * after a stop, it skips finished runs, resumes interrupted ones and starts the rest. SIGINT or
 * SIGTERM stops it: each running run is interrupted once (it ends at a round boundary with its
 * checkpoint), no new run starts, exit 130.
 */
import os from 'node:os';
import { acquireRunLock } from '@taylorlens/core';
import { Lane } from './lane.js';
import { launchRun, type LaunchResult } from './launch.js';
import type { Manifest } from './folder.js';

export interface LocalOptions {
  /** The taylorlens CLI entry each run is started with (LaunchOptions.cli). */
  cli: string;
  parallel?: number;
  backend?: string;
  cwd: string;
  /** Install SIGINT/SIGTERM handlers (a real process). */
  signals: boolean;
  log: (line: string) => void;
  /** Lanes started earlier (so that they load while the sweep is expanded; see startLanes); runLocal closes them. */
  lanes?: Lane[];
}

/** Start `n` lanes now: each loads Node, tfjs and the CLI (≈ 1.3 s) while the caller goes on. */
export const startLanes = (n: number, cli: string, cwd: string): Lane[] => Array.from({ length: n }, () => new Lane(cli, cwd).start());

/** One line per run: what was done and how it ended; exit 2 before a run folder exists is the CLI refusing the config. */
export function describe(r: LaunchResult): string {
  if (r.action === 'skipped') return `already ${r.state}`;
  const why = r.why ? `:\n    ${r.why.replace(/\n/g, '\n    ')}` : '';
  if (r.exitCode === 2 && r.state === 'pending') return `${r.action} → refused before any work (exit 2)${why}`;
  return `${r.action} → ${r.state}${r.exitCode ? ` (exit ${r.exitCode})` : ''}${why}`;
}

export const defaultParallel = () => Math.max(1, os.availableParallelism());

/** Run every unfinished run; returns the exit code (0 all completed, 1 some did not, 130 stopped). */
export async function runLocal(sweepDir: string, manifest: Manifest, opts: LocalOptions): Promise<number> {
  const parallel = opts.parallel ?? defaultParallel();
  // One local sweep per folder (the core's writer lock, on the sweep folder): a second one would start the same runs.
  let lock: ReturnType<typeof acquireRunLock>;
  try {
    lock = acquireRunLock(sweepDir, 'sweep');
  } catch (e) {
    await Promise.all((opts.lanes ?? []).map((l) => l.close()));
    throw e;
  }
  const todo = manifest.runs.map((r) => r.id);
  const lanes = opts.lanes ?? [];
  // One lane per parallel slot, no more than there are runs.
  const n = Math.min(parallel, todo.length);
  const extra = lanes.splice(n).map((l) => l.close());
  while (lanes.length < n) lanes.push(new Lane(opts.cli, opts.cwd)); // started by their first run
  const busy = new Set<Lane>();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    opts.log(`sweep: stopping: interrupting ${busy.size} running run(s); start the sweep again to continue`);
    for (const l of lanes) l.interrupt();
  };
  if (opts.signals) {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }
  const results = new Map<string, LaunchResult>();
  const work = async (lane: Lane) => {
    for (let id = todo.shift(); id !== undefined && !stopped; id = todo.shift()) {
      busy.add(lane);
      const r = await launchRun(sweepDir, id, { cli: opts.cli, backend: opts.backend, cwd: opts.cwd, lane }).finally(() => busy.delete(lane));
      results.set(id, r);
      opts.log(`sweep: ${id}: ${describe(r)}`);
    }
    await lane.close();
  };
  try {
    await Promise.all([...lanes.map(work), ...extra]);
  } finally {
    // Every lane gone before the sweep returns (a lane that ran nothing exits at once).
    await Promise.all(lanes.map((l) => l.close()));
    lock.release();
    if (opts.signals) {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
  if (stopped) return 130;
  const bad = [...results].filter(([, r]) => r.state !== 'completed');
  opts.log(`sweep: ${results.size - bad.length} of ${results.size} runs completed${bad.length ? `; not completed: ${bad.map(([id, r]) => `${id} (${r.exitCode === 2 && r.state === 'pending' ? 'refused' : r.state})`).join(', ')}; see runs/<id>/log.txt` : ''}`);
  return bad.length ? 1 : 0;
}
