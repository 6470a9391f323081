/**
 * @taylorlens/sweep: the `sweep`, `sweep-status`, `sweep-compare` and `worker` commands of the
 * taylorlens CLI (which loads this package on demand), and the pieces behind them.
 * Each command returns its exit code: 0 ok, 1 some run did not complete, 2 refused before any work, 130 stopped.
 */
import path from 'node:path';
import { UsageError } from '@taylorlens/core';
import { compareSweep } from './compare.js';
import { expandSweepFile } from './expand.js';
import { prepareSweepFolder } from './folder.js';
import { defaultParallel, runLocal, startLanes } from './local.js';
import { formatStatus, sweepStatus } from './status.js';

export { expandSweep, expandSweepFile, type Expansion, type SweepFile, type SweepAxis, type SweepRun } from './expand.js';
export { prepareSweepFolder, readManifest, viewRun, findRunDir, readAttempts, type Manifest, type Attempt, type RunView, type RunState, MANIFEST, RUNS_DIR } from './folder.js';
export { launchRun } from './launch.js';
export { runLocal, defaultParallel, startLanes } from './local.js';
export { Lane } from './lane.js';
// The queue (BullMQ, ioredis: ≈ 0.2 s to load) is imported by the commands that use it, not here.
export type { JobData, WorkOptions } from './queue.js';
export { sweepStatus, formatStatus, type StatusRow } from './status.js';
export { compareSweep, groupSweep, formatGroups, type GroupRow } from './compare.js';

/** What the CLI hands over: where to write, where it runs, whether it may handle signals, its own entry to start runs with. */
export interface SweepIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
  signals?: boolean;
  /** The taylorlens CLI entry (its main.js) each run is started with. */
  cli: string;
}

/** `taylorlens sweep <file>`: expand, write the sweep folder, then run locally or enqueue. */
export async function sweepCommand(file: string, o: { parallel?: number; queue?: string; queueName?: string; backend?: string }, io: SweepIo): Promise<number> {
  if (o.queue && o.parallel !== undefined) throw new UsageError('give either --parallel (run here) or --queue (workers run it), not both');
  // Here: the lanes load (Node, tfjs, the CLI: ≈ 1.3 s) while this process expands and validates the sweep.
  const lanes = o.queue ? [] : startLanes(o.parallel ?? defaultParallel(), io.cli, io.cwd);
  let x, m;
  try {
    x = await expandSweepFile(file, io.cwd);
    m = prepareSweepFolder(x);
  } catch (e) {
    await Promise.all(lanes.map((l) => l.close()));
    throw e;
  }
  const log = (l: string) => io.stdout.write(l + '\n');
  log(`sweep ${x.name}: ${x.runs.length} runs in ${x.dir}`);
  if (o.queue) {
    const { enqueue } = await import('./queue.js');
    const code = await enqueue(x.dir, m, { url: o.queue, queueName: o.queueName, log });
    log(`sweep: start workers on machines that see ${x.dir} at this path: taylorlens worker --queue ${o.queue}`);
    return code;
  }
  return runLocal(x.dir, m, { cli: io.cli, parallel: o.parallel, backend: o.backend, cwd: io.cwd, signals: io.signals ?? false, log, lanes });
}

/** `taylorlens sweep-status <sweepDir>`. */
export async function sweepStatusCommand(dir: string, o: { json?: boolean }, io: SweepIo): Promise<number> {
  const s = sweepStatus(path.resolve(io.cwd, dir));
  io.stdout.write(o.json ? JSON.stringify(s, null, 2) + '\n' : formatStatus(s));
  return 0;
}

/** `taylorlens sweep-compare <sweepDir> --out <dir>`. */
export async function sweepCompareCommand(dir: string, o: { out: string }, io: SweepIo): Promise<number> {
  const r = await compareSweep(path.resolve(io.cwd, dir), o.out, io.cwd);
  io.stdout.write(r.text);
  if (r.missing.length) io.stderr.write(`left out (not completed): ${r.missing.join(', ')}\n`);
  for (const w of r.report?.warnings ?? []) io.stderr.write(`warning: ${w}\n`);
  if (r.report) io.stdout.write(`report: ${r.report.path}\n`);
  return r.report && r.report.warnings.length === 0 ? 0 : 1;
}

/** `taylorlens worker --queue <url>`. */
export async function workerCommand(o: { queue: string; queueName?: string; concurrency?: number; stallMs?: number; backend?: string }, io: SweepIo): Promise<number> {
  const { work } = await import('./queue.js');
  return work({
    url: o.queue, queueName: o.queueName, concurrency: o.concurrency, stallMs: o.stallMs, backend: o.backend,
    cli: io.cli, cwd: io.cwd, signals: io.signals ?? false, log: (l) => io.stdout.write(l + '\n'),
  });
}
