/**
 * Running a validated config end to end: backend, data, model, plugins, a run folder with
 * run.json / metrics.jsonl / checkpoints / trace, signals, and the report at the end.
 * `resumeRun` continues an interrupted run from its last checkpoint, bit for bit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { selectBackend } from '../backend.js';
import type { WarningEvent } from '../events.js';
import { STAGE_REPORT, type RunSummary } from '../hooks.js';
import { preflight } from '../preflight.js';
import { RUN_JSON, RunDir } from '../store/run-dir.js';
import type { Plugin } from '../plugin.js';
import { Trainer } from '../trainer.js';
import { readCheckpoint, restoreCheckpoint, saveCheckpoint, verifyCheckpoint, type CheckpointState } from './checkpoint.js';
import { validateConfig, type ResolvedConfig } from './config.js';
import type { OptimizerEntry } from './optimizers.js';
import { disposeRunData, loadRunData, type DataFileRecord, type RunData } from './data.js';
import { checkMetricsCover, recordMetrics, truncateMetrics } from './metrics.js';
import { buildModel, describeModel } from './model.js';
import { UsageError } from './errors.js';
import { writeFinalWeights } from './final-weights.js';
import { acquireRunLock, takeoverMessage, type RunLock } from './lock.js';
import { checkPluginsAgainstModel, runPlan } from './plan-check.js';
import { ConfigError } from './problems.js';
import { writeRunReport } from './report.js';
import { readRunFile, RUN_FORMAT, writeRunFile, type RunFile, type RunFileStatus, type RunSession, type RunWarning } from './run-file.js';
import { RunSignals } from './signals.js';
import { RunStore } from './store.js';
import { TraceRecorder } from './trace.js';
import { runtimeVersions } from './versions.js';

/** What a run tells its user; the CLI prints, tests collect. */
export interface RunReporter {
  info(line: string): void;
  warn(line: string): void;
  /** Show training progress; returns a function that stops showing it. */
  track?(trainer: Trainer, plan: { epochs: number; batchesPerEpoch: number; fromEpoch: number }): () => void;
}

export interface RunOptions {
  /** Plugin packages are looked up from here first. */
  cwd: string;
  /** --backend: overrides the config's (and, on resume, the recorded one). */
  backend?: string;
  reporter: RunReporter;
  /** Turn SIGINT/SIGTERM into a clean 'interrupted' end (the CLI does). */
  handleSignals?: boolean;
  /** Called once the trainer exists (lets tests and embedders stop or observe a run). */
  onTrainer?: (trainer: Trainer, runDir: string) => void;
}

export interface RunOutcome {
  dir: string;
  status: RunFileStatus;
  /** 0 completed, 1 diverged or failed, 130 interrupted. */
  exitCode: number;
  run: RunFile;
  reportPath: string | null;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

export function exitCodeFor(status: RunFileStatus): number {
  if (status === 'completed') return EXIT_OK;
  if (status === 'interrupted') return EXIT_INTERRUPTED;
  return EXIT_FAILURE;
}

/** Start a new run of a validated config. */
export function startRun(resolved: ResolvedConfig, opts: RunOptions): Promise<RunOutcome> {
  return execute(resolved, opts, null);
}

/**
 * Continue an interrupted (or crashed) run from its last checkpoint. Takes the run folder's lock
 * first (a second writer is refused), then checks everything a resume needs — run.json, the
 * config, the checkpoint's files, metrics.jsonl — before it writes anything (UsageError, exit 2).
 */
export async function resumeRun(dir: string, opts: RunOptions): Promise<RunOutcome> {
  let runDir: RunDir;
  try {
    runDir = RunDir.open(path.resolve(opts.cwd, dir));
  } catch (e) {
    throw new UsageError(`cannot resume: ${(e as Error).message}`);
  }
  if (!fs.existsSync(runDir.path(RUN_JSON))) throw new UsageError(`cannot resume: ${runDir.path(RUN_JSON)}: missing file: not a run folder?`);
  const lock = acquireRunLock(runDir.dir, 'run --resume');
  try {
    const notes: string[] = [];
    const took = takeoverMessage(lock);
    if (took) notes.push(took);
    let run: RunFile;
    try {
      run = readRunFile(runDir);
    } catch (e) {
      throw new UsageError(`cannot resume: ${(e as Error).message}`);
    }
    if (run.status === 'completed') throw new UsageError(`cannot resume ${runDir.dir}: the run already completed`);
    if (run.status === 'diverged') {
      throw new UsageError(`cannot resume ${runDir.dir}: the run diverged (${run.reason ?? 'non-finite loss'}); resuming would repeat it. Start a new run with a smaller learning rate`);
    }
    const resolved = await validateConfig(run.config, { source: runDir.path('run.json') + ' (config)', baseDir: run.configDir, cwd: opts.cwd });
    let ckpt: CheckpointState | null;
    try {
      ckpt = readCheckpoint(runDir);
      if (ckpt) verifyCheckpoint(runDir, ckpt);
      checkMetricsCover(runDir, ckpt?.round ?? 0);
    } catch (e) {
      throw new UsageError(`cannot resume ${runDir.dir}: ${(e as Error).message}`);
    }
    if (opts.backend && opts.backend !== run.backend.name) {
      notes.push(`resuming on ${opts.backend} but the run started on ${run.backend.name}; the result will not match an uninterrupted run bit for bit`);
    }
    return await execute(resolved, { ...opts, backend: opts.backend ?? run.backend.name }, { runDir, run, ckpt, lock, notes });
  } finally {
    lock.release();
  }
}

interface Resume { runDir: RunDir; run: RunFile; ckpt: CheckpointState | null; lock: RunLock; notes: string[] }

/** Record a warning in run.json (once, with a count) and show it. */
function warner(run: RunFile, rep: RunReporter): (source: string, message: string) => void {
  const list: RunWarning[] = run.warnings ??= [];
  return (source, message) => {
    rep.warn(`warning: ${source === 'core' ? '' : `${source}: `}${message}`);
    const same = list.find((w) => w.source === source && w.message === message);
    if (same) same.count += 1;
    else list.push({ source, message, session: run.sessions.length, count: 1 });
  };
}

/** A resumed run's data files against the ones it recorded: a changed file is worth a word. */
function dataChanges(before: DataFileRecord[] | undefined, now: DataFileRecord[]): string[] {
  if (!before) return [];
  const out: string[] = [];
  for (const b of before) {
    const n = now.find((x) => x.split === b.split && x.path === b.path);
    if (!n) out.push(`the run read ${b.path} (${b.split}) before, this session does not`);
    else if (n.sha256 !== b.sha256) out.push(`data file ${b.path} changed since the run started (sha256 ${b.sha256.slice(0, 12)}… → ${n.sha256.slice(0, 12)}…, ${b.bytes} → ${n.bytes} bytes): the resumed run trains on different data`);
  }
  return out;
}

async function execute(resolved: ResolvedConfig, opts: RunOptions, resume: Resume | null): Promise<RunOutcome> {
  const cfg = resolved.config;
  const rep = opts.reporter;
  const t0 = Date.now();
  const choice = await selectBackend(opts.backend ?? cfg.backend, { modelFlopsPerStep: resolved.flopsPerStep });
  const from = { epoch: resume?.ckpt?.epoch ?? 0, round: resume?.ckpt?.round ?? 0 };
  const outRoot = path.resolve(resolved.baseDir, cfg.output.dir);

  // Everything that can refuse the run, before the run folder exists (resuming: before it changes).
  const model = buildModel(cfg.model, cfg.seed);
  let optimizer: ReturnType<OptimizerEntry['create']> | null = null;
  let data: RunData | null = null;
  let plugins: Plugin[];
  let runDir: RunDir;
  let lock: RunLock | null = null;
  try {
    optimizer = resolved.optimizer.create(cfg.optimizer.options ?? {});
    // A new run's folder gets its name only when created; plugins check their paths against its place.
    const plan = runPlan(resolved, model, from.epoch, resume?.runDir.dir ?? path.join(outRoot, '(new run folder)'));
    const checked = await checkPluginsAgainstModel(resolved, model, optimizer, plan);
    if (checked.problems.length > 0) throw new ConfigError(resolved.source, checked.problems);
    plugins = checked.plugins;
    data = loadRunData(cfg.data, resolved.baseDir, resolved.outputShape, cfg.validation ?? false);
    if (resume) {
      runDir = resume.runDir;
    } else {
      try {
        runDir = RunDir.create(outRoot, cfg.name);
      } catch (e) {
        throw new ConfigError(resolved.source, [{ pointer: '/output/dir', message: (e as Error).message }]);
      }
      lock = acquireRunLock(runDir.dir, 'run');
    }
  } catch (e) {
    // Nothing written yet: release what was built and report the error as it is.
    optimizer?.dispose();
    model.dispose();
    if (data) disposeRunData(data);
    throw e;
  }
  try {
    return await runIn(runDir, { resolved, opts, resume, choice, model, optimizer, plugins, data, t0, from });
  } finally {
    lock?.release();
  }
}

interface Prepared {
  resolved: ResolvedConfig;
  opts: RunOptions;
  resume: Resume | null;
  choice: { name: string; source: string };
  model: ReturnType<typeof buildModel>;
  optimizer: ReturnType<OptimizerEntry['create']>;
  plugins: Plugin[];
  data: RunData;
  t0: number;
  from: { epoch: number; round: number };
}

/** The run itself, in its (locked) folder: train, then the final files and the report. */
async function runIn(runDir: RunDir, p: Prepared): Promise<RunOutcome> {
  const { resolved, opts, resume, choice, model, optimizer, plugins, data, t0, from } = p;
  const cfg = resolved.config;
  const rep = opts.reporter;
  const store = new RunStore(runDir, cfg.output.trace);
  const session: RunSession = {
    startedAt: new Date(t0).toISOString(), fromEpoch: from.epoch, fromRound: from.round, status: 'running', backend: choice.name,
  };
  const run: RunFile = resume?.run ?? newRunFile(resolved, choice, t0, opts.cwd);
  const previousData = run.dataFiles;
  run.status = 'running';
  delete run.reason;
  delete run.error;
  run.backend = { name: choice.name, source: choice.source };
  run.sessions.push(session);
  run.data = data.description;
  run.dataFiles = data.files;
  const warn = warner(run, rep);
  for (const n of resume?.notes ?? []) warn('core', n);
  for (const n of dataChanges(previousData, data.files)) warn('core', n);

  // From here until this function returns, no signal finds the default handler.
  let changed = false; // whether this session has written anything into the folder yet
  const signals = opts.handleSignals ? new RunSignals({
    dir: runDir.dir,
    warn: (line) => rep.warn(line),
    emergency: (sig) => {
      runDir.flushSync();
      if (changed) {
        run.status = 'interrupted';
        run.reason = `${sig} twice: stopped mid-round; resume continues from the last checkpoint`;
        session.status = 'interrupted';
        session.endedAt = new Date().toISOString();
        writeRunFile(runDir, run);
      } else if (!resume) {
        fs.rmSync(runDir.dir, { recursive: true, force: true }); // a new folder with nothing of the run in it yet
      }
    },
  }).install() : null;

  let trainer: Trainer | null = null;
  let summary: RunSummary | null = null;
  let status: RunFileStatus = 'failed';
  let stopMetrics = () => {};
  let stopTracking = () => {};
  let recorder: TraceRecorder | null = null;
  try {
    try {
      trainer = new Trainer(model, { loss: cfg.model.loss, optimizer, plugins, store });
      const t = trainer;
      t.events.on('warning', (e: WarningEvent) => warn(e.source, e.message));
      run.model.parameters = t.anatomy.variables.reduce((n, v) => n + v.size, 0);
      run.model.layers = t.anatomy.describe();
      await preflight(t.anatomy, t.loss);
      if (resume?.ckpt) await restoreCheckpoint(runDir, resume.ckpt, t);
      writeRunFile(runDir, run);
      changed = true;
      if (resume) {
        const cut = truncateMetrics(runDir, from.epoch, from.round, resume.ckpt?.epochRow ?? null);
        rep.info(`resuming ${runDir.dir} from epoch ${from.epoch} (round ${from.round}); dropped ${cut.dropped} metrics row(s) written after that checkpoint`);
      }
      if (store.traceDir) {
        recorder = new TraceRecorder(store, cfg.model, cfg.data.target, t.anatomy, resume ? TraceRecorder.read(store.traceDir) : null);
        recorder.dropAfter(from.round);
        recorder.attach(t);
      }
      if (!resume?.ckpt) {
        const initial = { epoch: 0, round: 0, rngState: cfg.seed >>> 0, plugins: {} };
        await saveCheckpoint(runDir, t, initial, null);
        run.checkpoint = { epoch: 0, round: 0 };
      }
      // Checkpoint last in each epoch's end, once plugins have added their numbers to the row; the
      // metrics rows go to disk first, so a committed checkpoint never points past them.
      t.hooks.afterEpoch.tapPromise({ name: 'taylorlens:checkpoint', stage: STAGE_REPORT + 10_000 }, async (ctx) => {
        runDir.flushSync();
        const latest = await saveCheckpoint(runDir, t, t.state(), ctx.row);
        run.checkpoint = { epoch: latest.epoch, round: latest.round };
        writeRunFile(runDir, run);
      });
      yieldEveryRound(t);
      t.hooks.afterRun.tap({ name: 'taylorlens:summary', stage: STAGE_REPORT + 10_000 }, (_ctx, s) => { summary = s; });
      stopMetrics = recordMetrics(t, runDir);
      stopTracking = rep.track?.(t, { epochs: cfg.epochs, batchesPerEpoch: Math.ceil(data.x.shape[0] / cfg.batchSize), fromEpoch: from.epoch }) ?? stopTracking;
      signals?.training(t);
      opts.onTrainer?.(t, runDir.dir);

      session.setupMs = Date.now() - t0;
      rep.info(`run folder: ${runDir.dir}`);
      rep.info(`training ${run.model.description} on ${run.data} with ${cfg.optimizer.name}, backend ${choice.name}, seed ${cfg.seed}`);
      const tFit = Date.now();
      const startState = resume?.ckpt && resume.ckpt.epoch > 0 ? resume.ckpt.trainer : undefined;
      try {
        summary = await t.fit(data.x, data.y, {
          epochs: cfg.epochs, batchSize: cfg.batchSize, shuffle: cfg.shuffle ?? true, seed: cfg.seed,
          validationData: data.test ? [data.test.x, data.test.y] : undefined, resume: startState,
        });
        status = summary.status === 'stopped' ? 'completed' : summary.status === 'running' ? 'failed' : summary.status as RunFileStatus;
        if (summary.reason) run.reason = summary.reason;
      } finally {
        session.trainMs = Date.now() - tFit;
      }
    } catch (e) {
      if (!changed) throw e; // refused before this session wrote anything: see below
      status = 'failed';
      run.error = (e as Error).message;
      run.reason = `failed: ${(e as Error).message.split('\n')[0]}`;
      rep.warn(`error: ${(e as Error).message}`);
    } finally {
      stopTracking();
      stopMetrics();
      runDir.close();
    }

    // Finish the folder: final weights (one set), trace index, run.json. Signals wait for these.
    if (signals) signals.phase = 'finishing';
    if (trainer && status !== 'failed') await writeFinalWeights(runDir, trainer);
    recorder?.write();
    const s = summary as RunSummary | null;
    if (s) {
      const { status: trainerStatus, ...rest } = s;
      run.summary = { ...rest, trainerStatus };
    }
    run.status = status;
    session.status = status;
    session.endedAt = new Date().toISOString();
    addTimings(run, session, Date.now() - t0);
    writeRunFile(runDir, run);
    // Let a signal that arrived during those writes reach its handler while still 'finishing'.
    if (signals) await new Promise<void>((resolve) => setImmediate(resolve));

    // The report: run.json is final, so a signal now ends the process at once.
    let reportPath: string | null = null;
    if (signals?.pending) {
      rep.warn(`report not written (stopped by ${signals.received.at(-1)}); rebuild it with \`taylorlens report ${runDir.dir}\``);
    } else {
      if (signals) signals.phase = 'report';
      const tReport = Date.now();
      try {
        const r = await writeRunReport(runDir.dir, { cwd: opts.cwd });
        reportPath = r.path;
        for (const w of r.warnings) rep.warn(`warning: ${w}`);
      } catch (e) {
        rep.warn(`warning: could not write the report: ${(e as Error).message}`);
      }
      session.reportMs = Date.now() - tReport;
      run.timings.reportMs += session.reportMs;
      run.timings.totalMs += session.reportMs;
      writeRunFile(runDir, run);
    }

    rep.info(`status: ${status}${run.reason ? ` (${run.reason})` : ''}`);
    if (reportPath) rep.info(`report: ${reportPath}`);
    const exitCode = signals?.pending ? EXIT_INTERRUPTED : exitCodeFor(status);
    return { dir: runDir.dir, status, exitCode, run, reportPath };
  } catch (e) {
    // Only errors before the first write get here (a checkpoint that does not fit the model, a
    // missing kernel): the folder is as it was, or — a new run — removed, since nothing is in it.
    if (changed) throw e;
    if (resume) throw new UsageError(`cannot resume ${runDir.dir}: ${(e as Error).message}`);
    fs.rmSync(runDir.dir, { recursive: true, force: true });
    throw e;
  } finally {
    signals?.remove();
    optimizer.dispose();
    model.dispose();
    disposeRunData(data);
  }
}

function newRunFile(resolved: ResolvedConfig, choice: { name: string; source: string }, t0: number, cwd: string): RunFile {
  const cfg = resolved.config;
  const now = new Date(t0).toISOString();
  return {
    format: RUN_FORMAT, name: cfg.name, status: 'running', config: cfg, configDir: resolved.baseDir, seed: cfg.seed,
    backend: { name: choice.name, source: choice.source },
    versions: {
      ...runtimeVersions(cwd),
      ...Object.fromEntries(resolved.plugins.map((p) => [p.module.packageName, p.module.version])),
    },
    plugins: resolved.plugins.map((p) => ({ name: p.module.name, package: p.module.packageName, version: p.module.version })),
    optimizer: { name: resolved.optimizer.name, provider: resolved.optimizer.provider },
    model: { description: describeModel(cfg.model), parameters: 0, layers: '' },
    data: '',
    createdAt: now, updatedAt: now,
    timings: { totalMs: 0, trainMs: 0, setupMs: 0, reportMs: 0 },
    sessions: [], checkpoint: null, summary: null,
  };
}

/** Add a session's setup and training time (the report's is added once it is written). */
function addTimings(run: RunFile, s: RunSession, totalMs: number): void {
  run.timings.totalMs += totalMs;
  run.timings.setupMs += s.setupMs ?? 0;
  run.timings.trainMs += s.trainMs ?? 0;
}

/**
 * On wasm/cpu a whole run can be one chain of promise microtasks, which never lets Node's event
 * loop reach its poll phase: signals (and piped output) would wait until training ends. Yield a
 * macrotask turn after a round whenever ~50 ms have passed since the last one.
 */
export function yieldEveryRound(trainer: Trainer, everyMs = 50): void {
  let last = Date.now();
  trainer.hooks.afterBatch.tapPromise({ name: 'taylorlens:yield', stage: STAGE_REPORT + 10_000 }, async () => {
    if (Date.now() - last < everyMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    last = Date.now();
  });
}
