/**
 * A sweep on a BullMQ queue (Redis): `enqueue` puts one job per unfinished run; `work` takes jobs,
 * one run per slot (default: one per core), and runs each with launch.ts into the sweep folder,
 * which every worker must see at the same absolute path (a network file system): the job carries
 * the folder and the manifest's token, and a worker that does not read that token back refuses.
 *
 * Failures: a worker that dies stops renewing its job's lock; after `stallMs` another worker's
 * stalled check puts the job back and it is resumed from the run's last checkpoint — once
 * (maxStalledCount 1); attempts are recorded in the run's attempts.json. A run that fails for a
 * reason of its own (invalid config, diverged, crashed) fails its job for good (UnrecoverableError).
 */
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { launchRun } from './launch.js';
import { describe } from './local.js';
import { readManifest, viewRun, workerName, type Manifest } from './folder.js';

export const DEFAULT_QUEUE = 'taylorlens-sweep';
export const DEFAULT_STALL_MS = 30_000;

export interface JobData {
  sweepDir: string;
  id: string;
  token: string;
}

function connect(url: string): Redis {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: expected a Redis URL such as redis://127.0.0.1:6379, got ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue: expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`);
  // BullMQ's workers block on Redis: ioredis must not give up on a command (maxRetriesPerRequest null).
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
}

async function connected(url: string): Promise<Redis> {
  const redis = connect(url);
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${url}: ${(e as Error).message}`);
  }
  return redis;
}

export const jobIdOf = (m: Manifest, id: string) => `${m.token}-${id}`;

/** Enqueue every run that has not finished; a run whose job failed (e.g. its worker was stopped) is retried. */
export async function enqueue(sweepDir: string, m: Manifest, opts: { url: string; queueName?: string; log: (l: string) => void }): Promise<number> {
  const redis = await connected(opts.url);
  const queue = new Queue<JobData>(opts.queueName ?? DEFAULT_QUEUE, { connection: redis });
  try {
    let added = 0;
    let retried = 0;
    let done = 0;
    for (const r of m.runs) {
      const state = viewRun(sweepDir, r.id).state;
      if (state === 'completed' || state === 'diverged' || state === 'failed') { done++; continue; }
      const jobId = jobIdOf(m, r.id);
      const job = await queue.getJob(jobId);
      if (job && await job.isFailed()) {
        await job.retry();
        retried++;
      } else if (!job) {
        await queue.add(r.id, { sweepDir: path.resolve(sweepDir), id: r.id, token: m.token }, { jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
        added++;
      }
    }
    opts.log(`sweep: queue ${queue.name} at ${opts.url}: ${added} run(s) enqueued, ${retried} retried, ${done} already finished, ${m.runs.length - added - retried - done} already queued`);
    return 0;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export interface WorkOptions {
  /** The taylorlens CLI entry each run is started with (LaunchOptions.cli). */
  cli: string;
  url: string;
  queueName?: string;
  concurrency?: number;
  stallMs?: number;
  backend?: string;
  cwd: string;
  signals: boolean;
  log: (line: string) => void;
}

/** Take runs from the queue until SIGINT/SIGTERM (exit 130) or a job names a folder this machine cannot see (exit 2). */
export async function work(opts: WorkOptions): Promise<number> {
  const redis = await connected(opts.url);
  const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
  const children = new Set<ChildProcess>();
  let closing = false;
  let exitCode = 130;
  let done!: () => void;
  const finished = new Promise<void>((r) => { done = r; });

  const shutdown = (code: number) => {
    if (closing) return;
    closing = true;
    exitCode = code;
    for (const c of children) c.kill('SIGINT');
    void worker.close().then(done, done);
  };

  const processor = async (job: Job<JobData>, token?: string) => {
    const { sweepDir, id } = job.data;
    let ok = false;
    try {
      ok = readManifest(sweepDir).token === job.data.token;
    } catch { /* not visible here */ }
    if (!ok) {
      opts.log(`worker ${workerName()}: refusing run ${id}: the sweep folder ${sweepDir} is not the shared one on this machine (${os.hostname()}): `
        + `its sweep.json is missing or has another token. Every worker must see the sweep folder at the same absolute path (a network file system); stopping`);
      await job.moveToDelayed(Date.now() + 1000, token);
      shutdown(2);
      throw new DelayedError();
    }
    const queuedMs = job.processedOn !== undefined ? job.processedOn - job.timestamp : undefined;
    opts.log(`worker ${workerName()}: run ${id} (attempt ${job.attemptsStarted})`);
    const r = await launchRun(sweepDir, id, {
      cli: opts.cli, backend: opts.backend, cwd: opts.cwd, queuedMs,
      onChild: (c) => { children.add(c); c.once('exit', () => children.delete(c)); },
    });
    opts.log(`worker ${workerName()}: run ${id}: ${describe(r)}`);
    if (r.state === 'completed') return { state: r.state };
    if (closing && (r.state === 'interrupted' || r.state === 'pending')) {
      // Stopped by this worker's own shutdown: back to the queue for another worker, no attempt lost.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    throw new UnrecoverableError(`run ${id}: ${describe(r)}\n(see ${path.join(sweepDir, 'runs', id, 'log.txt')})`);
  };

  const worker: Worker<JobData> = new Worker<JobData>(opts.queueName ?? DEFAULT_QUEUE, processor, {
    connection: redis, concurrency: opts.concurrency ?? Math.max(1, os.availableParallelism()),
    lockDuration: stallMs, stalledInterval: stallMs, maxStalledCount: 1,
  });
  worker.on('error', (e) => opts.log(`worker ${workerName()}: ${e.message}`));
  worker.on('stalled', (jobId) => opts.log(`worker ${workerName()}: job ${jobId} stalled (its worker stopped renewing it): back to the queue, to resume from its last checkpoint`));
  const onSignal = () => shutdown(130);
  if (opts.signals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  await worker.waitUntilReady();
  opts.log(`worker ${workerName()}: taking runs from queue ${worker.name} at ${opts.url}, ${worker.opts.concurrency} at a time`);
  await finished;
  if (opts.signals) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  redis.disconnect();
  return exitCode;
}
