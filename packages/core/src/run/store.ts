/** The run folder as plugins see it (RunStoreLike): plugin folders, the trace folder, which rounds are traced. */
import fs from 'node:fs';
import path from 'node:path';
import { METRICS_CSV, METRICS_JSONL, RUN_JSON, RunDir } from '../store/run-dir.js';
import type { RunStoreLike } from '../types.js';
import type { TraceSpec } from './config-types.js';

export const CHECKPOINT_DIR = 'checkpoint';
export const TRACE_DIR = 'trace';
export const WEIGHTS_DIR = 'weights';
export const REPORT_HTML = 'report.html';
/** The writer's lock (run/lock.ts): one process writes a run folder at a time. */
export const RUN_LOCK = 'run.lock';
/** The copy of a saved model (config `model.saved`) the run started from (run/saved-model.ts). */
export const SAVED_MODEL_DIR = 'saved-model';
/** Names in a run folder that belong to the core; a plugin cannot take them. */
export const RESERVED_NAMES = [RUN_JSON, METRICS_JSONL, METRICS_CSV, CHECKPOINT_DIR, TRACE_DIR, WEIGHTS_DIR, REPORT_HTML, RUN_LOCK, SAVED_MODEL_DIR, 'tensorboard'];

/**
 * A path that comes from a plugin's options, confined to the run folder: relative to it, never
 * absolute, never leaving it with `..`, never inside the core's own files. Throws naming `option`.
 */
export function runFolderPath(runFolder: string, rel: string, option: string): string {
  const root = path.resolve(runFolder);
  if (path.isAbsolute(rel)) {
    throw new Error(`${option}: ${JSON.stringify(rel)} is an absolute path; expected a path relative to the run folder (${root})`);
  }
  const abs = path.resolve(root, rel);
  const inside = path.relative(root, abs);
  if (inside === '' || inside === '..' || inside.startsWith('..' + path.sep) || path.isAbsolute(inside)) {
    throw new Error(`${option}: ${JSON.stringify(rel)} leaves the run folder; expected a folder inside it (e.g. "${path.basename(abs) || 'out'}")`);
  }
  const first = inside.split(path.sep)[0];
  if (RESERVED_NAMES.includes(first)) {
    throw new Error(`${option}: ${JSON.stringify(rel)} is the run folder's own "${first}"; expected a name other than ${RESERVED_NAMES.join(', ')}`);
  }
  return abs;
}

export const DEFAULT_TRACE_MAX_ROUNDS = 100;

/**
 * Which rounds a trace spec selects: rounds 1, 1+every, 1+2·every, … and the listed rounds,
 * the first `maxRounds` of them. With neither `every` nor `rounds`, every round. Pure, so plugins
 * and the trace recorder always agree, resumed or not.
 */
export function tracePlan(spec: TraceSpec): (round: number) => boolean {
  const every = spec.every ?? (spec.rounds ? undefined : 1);
  const max = spec.maxRounds ?? DEFAULT_TRACE_MAX_ROUNDS;
  const inEvery = (r: number) => every !== undefined && (r - 1) % every === 0;
  const extra = [...new Set(spec.rounds ?? [])].filter((r) => !inEvery(r)).sort((a, b) => a - b);
  const listed = new Set(spec.rounds ?? []);
  return (round: number) => {
    if (!Number.isInteger(round) || round < 1 || !(inEvery(round) || listed.has(round))) return false;
    const rank = (every !== undefined ? Math.floor((round - 1) / every) + 1 : 0) + extra.filter((r) => r <= round).length;
    return rank <= max;
  };
}

export class RunStore implements RunStoreLike {
  readonly dir: string;
  readonly traceDir: string | null;
  private readonly plan: ((round: number) => boolean) | null;

  constructor(readonly runDir: RunDir, trace?: TraceSpec) {
    this.dir = runDir.dir;
    this.plan = trace ? tracePlan(trace) : null;
    this.traceDir = trace ? runDir.path(TRACE_DIR) : null;
    if (this.traceDir) fs.mkdirSync(this.traceDir, { recursive: true });
  }

  pluginDir(name: string): string {
    if (RESERVED_NAMES.includes(name)) {
      throw new Error(`plugin name '${name}' clashes with the run folder's own '${name}'; expected a name other than ${RESERVED_NAMES.join(', ')}`);
    }
    return this.runDir.pluginDir(name);
  }

  traces(round: number): boolean {
    return this.plan !== null && this.plan(round);
  }
}
