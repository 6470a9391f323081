/**
 * Running a validated config end to end: backend, data, model, plugins, a run folder with
 * run.json / metrics.jsonl / checkpoints / trace, signals, and the report at the end.
 * `resumeRun` continues an interrupted run from its last checkpoint, bit for bit.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelAnatomy } from '../anatomy.js';
import { selectBackend } from '../backend.js';
import type { WarningEvent } from '../events.js';
import { STAGE_REPORT, type RunSummary } from '../hooks.js';
import { resolveLoss } from '../losses.js';
import { preflight } from '../preflight.js';
import { RUN_JSON, RunDir } from '../store/run-dir.js';
import type { Plugin } from '../plugin.js';
import { Trainer, type TrainerState } from '../trainer.js';
import { readCheckpoint, restoreCheckpoint, saveCheckpoint, verifyCheckpoint, type CheckpointState } from './checkpoint.js';
import { validateConfig, type ResolvedConfig } from './config.js';
import type { OptimizerEntry } from './optimizers.js';
import { disposeRunData, loadRunData, type DataFileRecord, type RunData } from './data.js';
import { checkStreamAgainstModel, openStreamData, StreamDataError, type OpenedStream, type StreamRecord } from './stream-data.js';
import { checkMetricsCover, recordMetrics, truncateMetrics } from './metrics.js';
import { isModuleData, isSavedModelSpec, type AnyDataSpec, type DataSpec, type ModelSpec, type ModuleDataSpec, type RunConfig, type ResolvedModelSpec } from './config-types.js';
import { buildModel, describeModel } from './model.js';
import { UsageError } from './errors.js';
import { writeFinalWeights } from './final-weights.js';
import { acquireRunLock, takeoverMessage, type RunLock } from './lock.js';
import { checkPluginsAgainstModel, runPlan } from './plan-check.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import { writeRunReport } from './report.js';
import { readRunFile, RUN_FORMAT, writeRunFile, type RunFile, type RunFileStatus, type RunSession, type RunWarning } from './run-file.js';
import { RunSignals } from './signals.js';
import {
  checkLoadedAgainstData, copySavedModel, describeSavedModel, loadedShapes, loadSavedModel, recordFrom, type LoadedSavedModel,
} from './saved-model.js';
import { RunStore, TRACE_DIR } from './store.js';
import { savedKerasDescription, TraceRecorder } from './trace.js';
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
    // A saved model resumes from the copy the run made of it, not from wherever the original is now.
    const config = isSavedModelSpec(run.config.model) && run.model.saved
      ? { ...run.config, model: { ...run.config.model, saved: runDir.path(run.model.saved.modelJson) } }
      : run.config;
    const resolved = await validateConfig(config, { source: runDir.path('run.json') + ' (config)', baseDir: run.configDir, cwd: opts.cwd });
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
    else if (n.sha256 !== b.sha256 && b.split === 'module') {
      out.push(`data module ${b.path} changed since the run started (sha256 ${b.sha256.slice(0, 12)}… → ${n.sha256.slice(0, 12)}…, ${b.bytes} → ${n.bytes} bytes): the resumed run streams from different code`);
    } else if (n.sha256 !== b.sha256) out.push(`data file ${b.path} changed since the run started (sha256 ${b.sha256.slice(0, 12)}… → ${n.sha256.slice(0, 12)}…, ${b.bytes} → ${n.bytes} bytes): the resumed run trains on different data`);
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
  const { model, outputShape, saved } = await modelOf(resolved);
  let optimizer: ReturnType<OptimizerEntry['create']> | null = null;
  let stream: OpenedStream | null = null;
  let data: TrainingData | null = null;
  let plugins: Plugin[];
  let runDir: RunDir;
  let lock: RunLock | null = null;
  try {
    optimizer = resolved.optimizer.create(cfg.optimizer.options ?? {});
    // A streamed source is opened (its module run, its first batch checked against the model) before the plugins plan with its numbers.
    if (isModuleData(cfg.data)) stream = await openStream(resolved, cfg.data, model, outputShape, saved, from.epoch);
    const streamPlan = stream ? { samples: stream.plannedSamples, batchesPerEpoch: stream.batchesPerEpoch ?? 0 } : undefined;
    // A new run's folder gets its name only when created; plugins check their paths against its place.
    const plan = runPlan(resolved, model, from.epoch, resume?.runDir.dir ?? path.join(outRoot, '(new run folder)'), streamPlan);
    const checked = await checkPluginsAgainstModel(resolved, model, optimizer, plan);
    if (checked.problems.length > 0) throw new ConfigError(resolved.source, checked.problems);
    plugins = checked.plugins;
    data = stream
      ? streamData(stream, cfg, resolved.baseDir)
      : tensorData(loadRunData(cfg.data as DataSpec, resolved.baseDir, outputShape, cfg.validation ?? false), cfg);
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
    if (data) data.dispose();
    else stream?.dispose();
    throw e;
  }
  try {
    return await runIn(runDir, { resolved, opts, resume, choice, model, saved, optimizer, plugins, data, t0, from });
  } finally {
    lock?.release();
  }
}

/**
 * The model a config names and its per-sample output shape: built from the layer specs, or loaded
 * from the saved files and checked against the data and what taylorlens can train (before any work:
 * problems are ConfigErrors at /model/saved, exit 2, nothing written).
 */
async function modelOf(resolved: ResolvedConfig): Promise<{ model: LayersModel; outputShape: number[]; saved: LoadedSavedModel | null }> {
  const cfg = resolved.config;
  if (!resolved.saved) {
    return { model: buildModel(cfg.model as ModelSpec, cfg.seed), outputShape: resolved.outputShape!, saved: null };
  }
  let loaded: LoadedSavedModel;
  try {
    loaded = await loadSavedModel(resolved.saved);
  } catch (e) {
    throw new ConfigError(resolved.source, [{ pointer: '/model/saved', message: (e as Error).message }]);
  }
  const problems: ConfigProblem[] = [];
  const shapes = loadedShapes(loaded, problems);
  // A streamed source's shapes are checked against the loaded model once the stream is open.
  if (shapes && resolved.data && !isModuleData(cfg.data)) checkLoadedAgainstData(loaded, shapes, resolved.data, cfg.data.target, problems);
  if (problems.length === 0) {
    const file = resolved.saved.file;
    try {
      const loss = resolveLoss(loaded.model, cfg.model.loss);
      const layers = modelAnatomy(loaded.model, { lossAbsorbs: loss.absorbs }).layers;
      layers.forEach((l, i) => {
        if (l.activation !== 'softmax') return;
        if (i < layers.length - 1 || loss.absorbs !== 'softmax') {
          problems.push({
            pointer: '/model/saved',
            message: `${file}: layer "${l.name}" has a softmax activation, which is allowed only on the last Dense/Conv2D layer with loss "softmaxCrossEntropy" (which applies it to the logits)`,
          });
        }
      });
    } catch (e) {
      problems.push({ pointer: '/model/saved', message: `${file}: taylorlens cannot train this model: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  if (problems.length > 0) {
    loaded.model.dispose();
    throw new ConfigError(resolved.source, problems);
  }
  return { model: loaded.model, outputShape: shapes!.output, saved: loaded };
}

/** What a run trains on: tensors in memory (the built-in sources) or a stream (`data.source: "module"`). */
interface TrainingData {
  /** run.json's `data`, in words. */
  description: string;
  files: DataFileRecord[];
  batchesPerEpoch: number;
  /** run.json's `stream`: the data were streamed (null: tensors). */
  stream: StreamRecord | null;
  /** Train the whole run (from `resume` when given). */
  fit(t: Trainer, resume: TrainerState | undefined): Promise<RunSummary>;
  dispose(): void;
}

function tensorData(d: RunData, cfg: RunConfig<ResolvedModelSpec, AnyDataSpec>): TrainingData {
  return {
    description: d.description, files: d.files, batchesPerEpoch: Math.ceil(d.x.shape[0] / cfg.batchSize), stream: null,
    fit: (t, resume) => t.fit(d.x, d.y, {
      epochs: cfg.epochs, batchSize: cfg.batchSize, shuffle: cfg.shuffle ?? true, seed: cfg.seed,
      validationData: d.test ? [d.test.x, d.test.y] : undefined, resume,
    }),
    dispose: () => disposeRunData(d),
  };
}

/**
 * A stream, trained with `Trainer.fitDataset`: batch by batch, a fresh pass per epoch (or one
 * iterator across epochs with data.batchesPerEpoch). Plugins that draw samples read passes of
 * their own over the same stream (`run.inputs`, which fitDataset sets to `streamSamples(stream)`).
 */
function streamData(s: OpenedStream, cfg: RunConfig<ResolvedModelSpec, AnyDataSpec>, baseDir: string): TrainingData {
  return {
    description: s.description(baseDir), files: [s.file], batchesPerEpoch: s.batchesPerEpoch ?? 0, stream: s.record(),
    fit: (t, resume) => t.fitDataset(s.train, {
      epochs: cfg.epochs, seed: cfg.seed, batchesPerEpoch: s.spec.batchesPerEpoch,
      validationData: s.validation ? [s.validation.x, s.validation.y] : undefined, resume,
    }),
    dispose: () => s.dispose(),
  };
}

/**
 * Open a streamed source before any work: import the module, call its export, read the first
 * batch (after the batches a resumed run already trained, with data.batchesPerEpoch), check it
 * against the model, and count one pass when nothing says how many batches an epoch has. Every
 * problem is a ConfigError naming the field and the module (exit 2, nothing written).
 */
async function openStream(resolved: ResolvedConfig, spec: ModuleDataSpec, model: LayersModel, outputShape: number[],
  saved: LoadedSavedModel | null, fromEpoch: number): Promise<OpenedStream> {
  const cfg = resolved.config;
  let s: OpenedStream;
  try {
    s = await openStreamData(spec, resolved.baseDir, {
      seed: cfg.seed, batchSize: cfg.batchSize, validation: cfg.validation ?? false, skipBatches: fromEpoch * (spec.batchesPerEpoch ?? 0),
    });
  } catch (e) {
    throw e instanceof StreamDataError ? new ConfigError(resolved.source, e.problems) : e;
  }
  try {
    const problems: ConfigProblem[] = [];
    const input = (model.inputs[0].shape as (number | null)[]).slice(1) as number[];
    const inputFrom = saved ? `the input of ${resolved.saved!.file}` : 'model.input';
    checkStreamAgainstModel(s, { input, output: outputShape, inputFrom }, cfg.model.loss, cfg.batchSize, problems);
    if (problems.length > 0) throw new ConfigError(resolved.source, problems);
    await s.plan();
    return s;
  } catch (e) {
    s.dispose();
    throw e instanceof StreamDataError ? new ConfigError(resolved.source, e.problems) : e;
  }
}

interface Prepared {
  resolved: ResolvedConfig;
  opts: RunOptions;
  resume: Resume | null;
  choice: { name: string; source: string };
  model: LayersModel;
  /** The saved model the run trains (config model.saved), as loaded. */
  saved: LoadedSavedModel | null;
  optimizer: ReturnType<OptimizerEntry['create']>;
  plugins: Plugin[];
  data: TrainingData;
  t0: number;
  from: { epoch: number; round: number };
}

/** The run itself, in its (locked) folder: train, then the final files and the report. */
async function runIn(runDir: RunDir, p: Prepared): Promise<RunOutcome> {
  const { resolved, opts, resume, choice, model, saved, optimizer, plugins, data, t0, from } = p;
  const cfg = resolved.config;
  const rep = opts.reporter;
  const store = new RunStore(runDir, cfg.output.trace);
  const session: RunSession = {
    startedAt: new Date(t0).toISOString(), fromEpoch: from.epoch, fromRound: from.round, status: 'running', backend: choice.name,
  };
  const run: RunFile = resume?.run ?? newRunFile(resolved, choice, t0, opts.cwd, saved);
  const previousData = run.dataFiles;
  run.status = 'running';
  delete run.reason;
  delete run.error;
  run.backend = { name: choice.name, source: choice.source };
  run.sessions.push(session);
  run.data = data.description;
  run.dataFiles = data.files;
  if (data.stream) run.stream = data.stream;
  else delete run.stream;
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
      // A new run of a saved model keeps a copy of it (model.json and weights, as read) in saved-model/.
      if (saved && !resume) run.model.saved = { ...copySavedModel(runDir, saved), lossFrom: saved.check.lossFrom };
      writeRunFile(runDir, run);
      changed = true;
      if (resume) {
        const cut = truncateMetrics(runDir, from.epoch, from.round, resume.ckpt?.epochRow ?? null);
        rep.info(`resuming ${runDir.dir} from epoch ${from.epoch} (round ${from.round}); dropped ${cut.dropped} metrics row(s) written after that checkpoint`);
        if (data.stream) {
          rep.info(`the data are streamed from ${data.stream.module}: this session opened the stream afresh (${data.stream.skipped > 0
            ? `and read and dropped the ${data.stream.skipped} batches already trained`
            : 'each epoch is a fresh pass'}); it continues as the run left alone would only if the stream yields the same batches in a new process`);
        }
      }
      if (store.traceDir) {
        const spec = saved
          ? { loss: cfg.model.loss, keras: savedKerasDescription(saved.check.topology, t.anatomy.inputShape), saved: run.model.saved && recordFrom(run.model.saved, TRACE_DIR) }
          : cfg.model as ModelSpec;
        recorder = new TraceRecorder(store, spec, isModuleData(cfg.data) ? 'stream' : cfg.data.target, t.anatomy, resume ? TraceRecorder.read(store.traceDir) : null);
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
      stopMetrics = recordMetrics(t, runDir, { tensorboard: cfg.output.tensorboard === true });
      stopTracking = rep.track?.(t, { epochs: cfg.epochs, batchesPerEpoch: data.batchesPerEpoch, fromEpoch: from.epoch }) ?? stopTracking;
      signals?.training(t);
      opts.onTrainer?.(t, runDir.dir);

      session.setupMs = Date.now() - t0;
      rep.info(`run folder: ${runDir.dir}`);
      rep.info(`training ${run.model.description} on ${run.data} with ${cfg.optimizer.name}, backend ${choice.name}, seed ${cfg.seed}`);
      const tFit = Date.now();
      const startState = resume?.ckpt && resume.ckpt.epoch > 0 ? resume.ckpt.trainer : undefined;
      try {
        summary = await data.fit(t, startState);
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
    data.dispose();
  }
}

function newRunFile(resolved: ResolvedConfig, choice: { name: string; source: string }, t0: number, cwd: string, saved: LoadedSavedModel | null): RunFile {
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
    model: { description: saved ? describeSavedModel(saved, cfg.model.loss) : describeModel(cfg.model as ModelSpec), parameters: 0, layers: '' },
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
