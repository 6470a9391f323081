/**
 * Running a validated config end to end: backend, data, model, plugins, a run folder with
 * run.json / metrics.jsonl / checkpoints / trace, signals, and the report at the end.
 * `resumeRun` continues an interrupted run from its last checkpoint, bit for bit.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { STAGE_REPORT, type RunSummary } from '../hooks.js';
import { preflight } from '../preflight.js';
import { RunDir } from '../store/run-dir.js';
import type { Plugin } from '../plugin.js';
import { Trainer } from '../trainer.js';
import { readCheckpoint, restoreCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint.js';
import { validateConfig, type ResolvedConfig } from './config.js';
import type { OptimizerEntry } from './optimizers.js';
import { disposeRunData, loadRunData } from './data.js';
import { recordMetrics, truncateMetrics } from './metrics.js';
import { buildModel, describeModel } from './model.js';
import { UsageError } from './errors.js';
import { writeRunReport } from './report.js';
import { readRunFile, RUN_FORMAT, writeRunFile, type RunFile, type RunFileStatus, type RunSession } from './run-file.js';
import { RunStore, WEIGHTS_DIR } from './store.js';
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

/** Continue an interrupted (or crashed) run from its last checkpoint. */
export async function resumeRun(dir: string, opts: RunOptions): Promise<RunOutcome> {
  let runDir: RunDir;
  let run: RunFile;
  try {
    runDir = RunDir.open(path.resolve(opts.cwd, dir));
    run = readRunFile(runDir);
  } catch (e) {
    throw new UsageError(`cannot resume: ${(e as Error).message}`);
  }
  if (run.status === 'completed') throw new UsageError(`cannot resume ${runDir.dir}: the run already completed`);
  if (run.status === 'diverged') {
    throw new UsageError(`cannot resume ${runDir.dir}: the run diverged (${run.reason ?? 'non-finite loss'}); resuming would repeat it. Start a new run with a smaller learning rate`);
  }
  const resolved = await validateConfig(run.config, { source: runDir.path('run.json') + ' (config)', baseDir: run.configDir, cwd: opts.cwd });
  const ckpt = readCheckpoint(runDir);
  if (opts.backend && opts.backend !== run.backend.name) {
    opts.reporter.warn(`warning: resuming on ${opts.backend} but the run started on ${run.backend.name}; the result will not match an uninterrupted run bit for bit`);
  }
  return execute(resolved, { ...opts, backend: opts.backend ?? run.backend.name }, { runDir, run, ckpt });
}

interface Resume { runDir: RunDir; run: RunFile; ckpt: CheckpointState | null }

async function execute(resolved: ResolvedConfig, opts: RunOptions, resume: Resume | null): Promise<RunOutcome> {
  const cfg = resolved.config;
  const rep = opts.reporter;
  const t0 = Date.now();
  const choice = await selectBackend(opts.backend ?? cfg.backend, { modelFlopsPerStep: resolved.flopsPerStep });
  const data = loadRunData(cfg.data, resolved.baseDir, resolved.outputShape, cfg.validation ?? false);
  let model: ReturnType<typeof buildModel> | null = null;
  let optimizer: ReturnType<OptimizerEntry['create']> | null = null;
  let plugins: Plugin[];
  let runDir: RunDir;
  try {
    model = buildModel(cfg.model, cfg.seed);
    optimizer = resolved.optimizer.create(cfg.optimizer.options ?? {});
    plugins = resolved.plugins.map((p) => p.module.module.create!(p.options));
    runDir = resume?.runDir ?? RunDir.create(path.resolve(resolved.baseDir, cfg.output.dir), cfg.name);
  } catch (e) {
    // Nothing written yet: release what was built and report the error as it is.
    optimizer?.dispose();
    model?.dispose();
    disposeRunData(data);
    throw e;
  }
  const store = new RunStore(runDir, cfg.output.trace);
  const from = { epoch: resume?.ckpt?.epoch ?? 0, round: resume?.ckpt?.round ?? 0 };
  const session: RunSession = {
    startedAt: new Date(t0).toISOString(), fromEpoch: from.epoch, fromRound: from.round, status: 'running', backend: choice.name,
  };
  const run: RunFile = resume?.run ?? newRunFile(resolved, choice, t0, opts.cwd);
  run.status = 'running';
  delete run.reason;
  delete run.error;
  run.backend = { name: choice.name, source: choice.source };
  run.sessions.push(session);
  run.data = data.description;

  let trainer: Trainer | null = null;
  let summary: RunSummary | null = null;
  let status: RunFileStatus = 'failed';
  let stopMetrics = () => {};
  let stopTracking = () => {};
  let removeSignals = () => {};
  let recorder: TraceRecorder | null = null;
  try {
    trainer = new Trainer(model, { loss: cfg.model.loss, optimizer, plugins, store });
    const t = trainer;
    run.model.parameters = t.anatomy.variables.reduce((n, v) => n + v.size, 0);
    run.model.layers = t.anatomy.describe();
    await preflight(t.anatomy, t.loss);
    if (resume) {
      if (resume.ckpt) await restoreCheckpoint(runDir, resume.ckpt, t);
      const cut = truncateMetrics(runDir, from.epoch, from.round, resume.ckpt?.epochRow ?? null);
      rep.info(`resuming ${runDir.dir} from epoch ${from.epoch} (round ${from.round}); dropped ${cut.dropped} metrics row(s) written after that checkpoint`);
    }
    if (store.traceDir) {
      recorder = new TraceRecorder(store, cfg.model, cfg.data.target, t.anatomy, resume ? TraceRecorder.read(store.traceDir) : null);
      recorder.dropAfter(from.round);
      recorder.attach(t);
    }
    writeRunFile(runDir, run);
    if (!resume?.ckpt) {
      const initial = { epoch: 0, round: 0, rngState: cfg.seed >>> 0, plugins: {} };
      await saveCheckpoint(runDir, t, initial, null);
      run.checkpoint = { epoch: 0, round: 0 };
    }
    // Checkpoint last in each epoch's end, once plugins have added their numbers to the row.
    t.hooks.afterEpoch.tapPromise({ name: 'taylorlens:checkpoint', stage: STAGE_REPORT + 10_000 }, async (ctx) => {
      const latest = await saveCheckpoint(runDir, t, t.state(), ctx.row);
      run.checkpoint = { epoch: latest.epoch, round: latest.round };
      writeRunFile(runDir, run);
    });
    yieldEveryRound(t);
    t.hooks.afterRun.tap({ name: 'taylorlens:summary', stage: STAGE_REPORT + 10_000 }, (_ctx, s) => { summary = s; });
    stopMetrics = recordMetrics(t, runDir);
    stopTracking = rep.track?.(t, { epochs: cfg.epochs, batchesPerEpoch: Math.ceil(data.x.shape[0] / cfg.batchSize), fromEpoch: from.epoch }) ?? stopTracking;
    if (opts.handleSignals) removeSignals = handleSignals(t, runDir, run, rep);
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
    status = 'failed';
    run.error = (e as Error).message;
    run.reason = `failed: ${(e as Error).message.split('\n')[0]}`;
    rep.warn(`error: ${(e as Error).message}`);
  } finally {
    removeSignals();
    stopTracking();
    stopMetrics();
    runDir.close();
  }

  // Finish the folder: final weights, trace index, run.json, report.
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

  const tReport = Date.now();
  let reportPath: string | null = null;
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

  optimizer.dispose();
  model.dispose();
  disposeRunData(data);
  rep.info(`status: ${status}${run.reason ? ` (${run.reason})` : ''}`);
  if (reportPath) rep.info(`report: ${reportPath}`);
  return { dir: runDir.dir, status, exitCode: exitCodeFor(status), run, reportPath };
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

/** weights/NN.npy (float32, tfjs layouts) and weights/index.json naming each. */
async function writeFinalWeights(runDir: RunDir, trainer: Trainer): Promise<void> {
  const entries: { file: string; layer: string; name: string; shape: number[] }[] = [];
  let i = 0;
  for (const p of trainer.anatomy.layers) {
    for (const [name, v] of [['kernel', p.kernel], ['bias', p.bias]] as const) {
      if (!v) continue;
      const file = `${String(i++).padStart(2, '0')}.npy`;
      runDir.writeNpy(`${WEIGHTS_DIR}/${file}`, { dtype: 'float32', shape: v.shape, data: await v.data() as Float32Array });
      entries.push({ file, layer: p.name, name, shape: [...v.shape] });
    }
  }
  runDir.writeJson(`${WEIGHTS_DIR}/index.json`, { dtype: 'float32', order: 'C', weights: entries });
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

/**
 * First SIGINT/SIGTERM: ask the trainer to stop after the current round (the run then ends as
 * 'interrupted' with everything flushed). A second one: flush what we have and exit 130 now.
 */
function handleSignals(trainer: Trainer, runDir: RunDir, run: RunFile, rep: RunReporter): () => void {
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      rep.warn(`\n${sig}: finishing the current round, then saving (send again to stop at once)`);
      trainer.stop(sig, 'interrupted');
      return;
    }
    try {
      runDir.flushSync();
      run.status = 'interrupted';
      run.reason = `${sig} twice: stopped mid-round; resume continues from the last checkpoint`;
      writeRunFile(runDir, run);
    } finally {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
