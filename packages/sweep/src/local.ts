/**
 * A sweep on this machine: N lanes, each launching one run at a time (launch.ts). Started again
 * after a stop, it skips finished runs, resumes interrupted ones and starts the rest. SIGINT or
 * SIGTERM stops it: each running run is interrupted once (it ends at a round boundary with its
 * checkpoint), no new run starts, exit 130.
 */
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { acquireRunLock } from '@taylorlens/core';
import { launchRun, type LaunchResult } from './launch.js';
import type { Manifest } from './folder.js';

export interface LocalOptions {
  parallel?: number;
  backend?: string;
  cwd: string;
  /** Install SIGINT/SIGTERM handlers (a real process). */
  signals: boolean;
  log: (line: string) => void;
}

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
  const lock = acquireRunLock(sweepDir, 'sweep');
  const todo = manifest.runs.map((r) => r.id);
  const children = new Set<ChildProcess>();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    opts.log(`sweep: stopping: interrupting ${children.size} running run(s); start the sweep again to continue`);
    for (const c of children) c.kill('SIGINT');
  };
  if (opts.signals) {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  }
  const results = new Map<string, LaunchResult>();
  const lane = async () => {
    for (let id = todo.shift(); id !== undefined && !stopped; id = todo.shift()) {
      const r = await launchRun(sweepDir, id, {
        backend: opts.backend, cwd: opts.cwd,
        onChild: (c) => { children.add(c); c.once('exit', () => children.delete(c)); },
      });
      results.set(id, r);
      opts.log(`sweep: ${id}: ${describe(r)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, lane));
  } finally {
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
