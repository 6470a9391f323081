/** run.json: what a run was (config, versions, backend, seed) and how it went (status, timings, summary). */
import type { RunSummary } from '../hooks.js';
import type { RunDir } from '../store/run-dir.js';
import type { AnyDataSpec, ResolvedModelSpec, RunConfig } from './config-types.js';
import type { DataFileRecord } from './data.js';
import type { SavedModelRecord } from './saved-model.js';
import type { StreamRecord } from './stream-data.js';

export const RUN_FORMAT = 'taylorlens-run/1';

/** The trainer's 'stopped' (a plugin ended the run early, on purpose) is recorded as completed. */
export type RunFileStatus = 'running' | 'completed' | 'diverged' | 'interrupted' | 'failed';

export interface RunSession {
  startedAt: string;
  endedAt?: string;
  /** Epoch/round this session started from (0/0 for a fresh run). */
  fromEpoch: number;
  fromRound: number;
  status: RunFileStatus;
  backend: string;
  /** Milliseconds: setup (data, model, preflight), training, report. */
  setupMs?: number;
  trainMs?: number;
  reportMs?: number;
}

export interface RunFile {
  format: typeof RUN_FORMAT;
  name: string;
  status: RunFileStatus;
  /** Why it ended if not completed normally (divergence, signal, error, a plugin's stop). */
  reason?: string;
  /** The config exactly as validated (a saved model's loss filled in when it came from its trainingConfig). */
  config: RunConfig<ResolvedModelSpec, AnyDataSpec>;
  /** Folder the config's relative paths resolve against. */
  configDir: string;
  seed: number;
  backend: { name: string; source: string };
  versions: Record<string, string | null>;
  plugins: { name: string; package: string; version: string | null }[];
  optimizer: { name: string; provider: string };
  /** `saved`: a model the config named as `model.saved`, copied into the run folder (`saved-model/`). */
  model: { description: string; parameters: number; layers: string; saved?: SavedModelRecord & { lossFrom: 'config' | 'trainingConfig' } };
  /** The data in words: source, where from, sizes, target. */
  data: string;
  /** Provenance: every data file read (path, bytes, sha256), as of the latest session; a streamed source's module file has split "module". */
  dataFiles?: DataFileRecord[];
  /** Only for a streamed source (`data.source: "module"`): the data were streamed batch by batch from this module's export. */
  stream?: StreamRecord;
  /** Warnings of every session (plugins' `warning` events and the core's own), each once with a count. */
  warnings?: RunWarning[];
  createdAt: string;
  updatedAt: string;
  /** Summed over sessions. */
  timings: { totalMs: number; trainMs: number; setupMs: number; reportMs: number };
  sessions: RunSession[];
  checkpoint: { epoch: number; round: number } | null;
  summary: (Omit<RunSummary, 'status'> & { trainerStatus: string }) | null;
  error?: string;
}

export interface RunWarning {
  /** `core` or the plugin's name. */
  source: string;
  message: string;
  /** Session (1-based) that first gave it, and how many times it was given. */
  session: number;
  count: number;
}

export function writeRunFile(runDir: RunDir, run: RunFile): void {
  run.updatedAt = new Date().toISOString();
  runDir.writeJson('run.json', run);
}

export function readRunFile(runDir: RunDir): RunFile {
  const run = runDir.readRunJson<RunFile>();
  if (run.format !== RUN_FORMAT) {
    throw new Error(`${runDir.path('run.json')}: expected format "${RUN_FORMAT}", got ${JSON.stringify(run.format)}; not a taylorlens run folder?`);
  }
  return run;
}
