import type * as tf from '@tensorflow/tfjs-core';

/** Tensors keyed by variable name (tfjs `Variable.name`), the way tfjs optimizers key state. */
export type NamedTensors = Record<string, tf.Tensor>;

/** What an optimizer step reports so that instruments work with any optimizer. */
export interface StepReport {
  /** Learning rate used for this step (scalar), when the optimizer has one. */
  learningRate?: number;
  /** The update actually applied, `W_{n+1} − W_n`, per variable. Owned by the trainer: disposed after `afterStep`. */
  direction?: NamedTensors;
  /** Effective per-weight step size (|update| / |gradient| where defined), per variable. Disposed after `afterStep`. */
  stepSize?: NamedTensors;
}

/**
 * An optimizer that can report what its step did. The trainer prefers this over
 * `applyGradients` when present; plugin-optimizers implements it, third parties may too.
 */
export interface InstrumentedOptimizer {
  applyGradientsReported(
    grads: NamedTensors,
    extra: { round: number; loss: number | undefined },
  ): StepReport;
}

export function isInstrumentedOptimizer(o: unknown): o is InstrumentedOptimizer {
  return typeof (o as InstrumentedOptimizer | null)?.applyGradientsReported === 'function';
}

/**
 * An optimizer that can also report steps it is asked for by someone else (`minimize` in a
 * hand-written loop, `model.fit`): while `keepStepReports(true)` is on, its plain
 * `applyGradients` makes the report too and keeps the latest for `takeStepReport`.
 */
export interface ReportingOptimizer {
  keepStepReports(on: boolean): void;
  /** The latest step's report, once (its tensors become the caller's); undefined when none is waiting. */
  takeStepReport(): StepReport | undefined;
}

export function isReportingOptimizer(o: unknown): o is ReportingOptimizer {
  const r = o as ReportingOptimizer | null;
  return typeof r?.keepStepReports === 'function' && typeof r.takeStepReport === 'function';
}

/**
 * Where a run keeps its files, as plugins see it. Absent when a trainer runs without a run
 * folder (then plugins keep results in memory only).
 */
export interface RunStoreLike {
  /** The run folder. */
  readonly dir: string;
  /** A plugin's own folder `<runDir>/<name>/`, created on first use. */
  pluginDir(name: string): string;
  /** `<runDir>/trace/` when tracing is on, else null. */
  readonly traceDir: string | null;
  /** Whether round `n` is traced (meant for small runs). */
  traces(round: number): boolean;
}

/**
 * What a plugin package exports as `taylorlensPlugin`, so the CLI and reports can find it by
 * convention (`@taylorlens/plugin-<name>`) without the core naming any plugin.
 */
export interface PluginModule {
  /** Short name used in configs (`"regret"`) and as the results folder. */
  readonly name: string;
  /** JSON schema of the options `create` accepts. */
  readonly schema?: object;
  /** A trainer plugin from validated options. */
  create?(options: unknown): import('./plugin.js').Plugin;
  /** Sensible options for the demo run. */
  readonly demoOptions?: object;
  /** Report sections from a run folder's files alone. */
  reportSections?(runDir: string): Promise<ReportSectionLike[]>;
  /** Sections comparing several runs (one line per run). */
  compareSections?(runs: { label: string; dir: string }[]): Promise<ReportSectionLike[]>;
  /** Optimizers this package provides, by config name. */
  readonly optimizers?: Record<string, { schema?: object; create(options: unknown): import('@tensorflow/tfjs-core').Optimizer }>;
}

/** A report section as the report renderer takes it (see report/html.ts). */
export interface ReportSectionLike {
  id: string;
  title: string;
  intro?: string;
  figures: { caption: string; spec: object }[];
  tables?: unknown[];
  notes?: string[];
  /**
   * Results a reader must not take at face value (e.g. values that missed their certificate):
   * shown prominently at the top of the section, and printed by the `report` and `compare` commands.
   */
  flags?: string[];
  /**
   * Set (by `compareSections`) instead of content when the section is left out: why, in words,
   * e.g. "the runs share no scope this comparison plots (a: …; b: …)". `compare` shows no such section;
   * it lists it, with its reason, in the report and on stderr, so nothing goes missing silently.
   */
  leftOut?: string;
}
