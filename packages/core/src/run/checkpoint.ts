/**
 * Epoch checkpoints: weights (one .npy per variable), optimizer state (`getWeights()` plus any
 * tf.Variable the optimizer keeps outside it, e.g. Adam's β-powers, which `setWeights` would
 * otherwise recompute with `pow` and change in the last bit), trainer and plugin state.
 *
 * Layout: checkpoint/epoch-000003/{state.json, weights/NN.npy, optimizer/NN.npy, extra/<key>.npy,
 * plugins/<name>/…}, and checkpoint/latest.json naming the newest complete one. latest.json is
 * replaced atomically only after every file of the new checkpoint (plugins' files included, see the
 * `saveStateFiles` hook) is written, so a crash leaves the previous one intact.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { MetricsRow } from '../events.js';
import type { StateFiles } from '../hooks.js';
import { decodeNpy, readNpyHeader, type NpyDtype } from '../store/npy.js';
import type { RunDir } from '../store/run-dir.js';
import type { Trainer, TrainerState } from '../trainer.js';
import { CHECKPOINT_DIR } from './store.js';

export interface CheckpointState {
  epoch: number;
  round: number;
  trainer: TrainerState;
  /** Variables in the anatomy's order (names are this process's; order is what matters). */
  variables: { name: string; shape: number[]; file: string }[];
  optimizer: {
    className: string;
    weights: { name: string; file: string }[];
    extra: { key: string; file: string }[];
  };
  /** The epoch's metrics row, so a resume can restore it if the crash came before it was written. */
  epochRow: MetricsRow | null;
  savedAt: string;
  /** This checkpoint's folder, relative to the run folder (absent in checkpoints written before it was added). */
  dir?: string;
}

/** Plugins' folders inside a checkpoint: `<checkpoint>/plugins/<name>/`. */
export const CHECKPOINT_PLUGINS_DIR = 'plugins';

/** The StateFiles the saveStateFiles/loadStateFiles hooks get for checkpoint folder `dir`. */
function stateFiles(runDir: RunDir, dir: string, at: { epoch: number; round: number }, state: Record<string, unknown>, create: boolean): StateFiles {
  return {
    epoch: at.epoch, round: at.round, root: runDir.path(dir), state,
    dir(name: string): string {
      if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(name)) throw new Error(`checkpoint: plugin folder name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-'`);
      const p = runDir.path(dir, CHECKPOINT_PLUGINS_DIR, name);
      if (create) fs.mkdirSync(p, { recursive: true });
      return p;
    },
  };
}

export interface LatestPointer {
  epoch: number;
  round: number;
  dir: string;
}

const pad = (n: number) => String(n).padStart(6, '0');
const npyDtype = (t: tf.Tensor): NpyDtype => {
  if (t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool') return t.dtype;
  throw new Error(`checkpoint: cannot store a ${t.dtype} tensor`);
};

async function writeTensor(runDir: RunDir, rel: string, t: tf.Tensor): Promise<void> {
  runDir.writeNpy(rel, { dtype: npyDtype(t), shape: t.shape, data: await t.data() as Float32Array | Int32Array | Uint8Array });
}

/** Tensors an optimizer holds as own properties (state `getWeights` may not round-trip exactly). */
function extraVariables(o: tf.Optimizer): [string, tf.Variable][] {
  return Object.entries(o).filter(([, v]) => v instanceof tf.Variable) as [string, tf.Variable][];
}

/** Write a checkpoint for trainer state `t` (normally `trainer.state()` at an epoch end). */
export async function saveCheckpoint(runDir: RunDir, trainer: Trainer, t: TrainerState, epochRow: MetricsRow | null): Promise<LatestPointer> {
  const dir = `${CHECKPOINT_DIR}/epoch-${pad(t.epoch)}`;
  fs.rmSync(runDir.path(dir), { recursive: true, force: true });
  const variables: CheckpointState['variables'] = [];
  for (const [i, v] of trainer.anatomy.variables.entries()) {
    const file = `${dir}/weights/${String(i).padStart(2, '0')}.npy`;
    await writeTensor(runDir, file, v);
    variables.push({ name: v.name, shape: v.shape, file });
  }
  const named = await trainer.optimizer.getWeights();
  const weights: CheckpointState['optimizer']['weights'] = [];
  try {
    for (const [i, w] of named.entries()) {
      const file = `${dir}/optimizer/${String(i).padStart(2, '0')}.npy`;
      await writeTensor(runDir, file, w.tensor);
      weights.push({ name: w.name, file });
    }
  } finally {
    for (const w of named) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
  const extra: CheckpointState['optimizer']['extra'] = [];
  for (const [key, v] of extraVariables(trainer.optimizer)) {
    const file = `${dir}/extra/${key.replace(/[^A-Za-z0-9_-]/g, '_')}.npy`;
    await writeTensor(runDir, file, v);
    extra.push({ key, file });
  }
  // Plugins' own files (and any JSON they add to t.plugins), before state.json and latest.json commit them.
  await trainer.hooks.saveStateFiles.promise(stateFiles(runDir, dir, t, t.plugins, true));
  const state: CheckpointState = {
    epoch: t.epoch, round: t.round, trainer: t, variables,
    optimizer: { className: trainer.optimizer.getClassName(), weights, extra },
    epochRow: epochRow ? { ...epochRow } : null,
    savedAt: new Date().toISOString(),
    dir,
  };
  runDir.writeJson(`${dir}/state.json`, state);
  const latest: LatestPointer = { epoch: t.epoch, round: t.round, dir };
  runDir.writeJson(`${CHECKPOINT_DIR}/latest.json`, latest);
  // Only the newest checkpoint is kept: runs can be long and weights large.
  for (const e of fs.readdirSync(runDir.path(CHECKPOINT_DIR))) {
    if (e.startsWith('epoch-') && `${CHECKPOINT_DIR}/${e}` !== dir) fs.rmSync(runDir.path(CHECKPOINT_DIR, e), { recursive: true, force: true });
  }
  return latest;
}

/** A checkpoint file that cannot be used: the message names the file and says what is wrong with it. */
export class CheckpointError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'CheckpointError';
  }
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(file, code === 'ENOENT' ? `missing file: expected ${what} here`
      : code === 'EISDIR' ? `is a folder, expected ${what} (a file)` : `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `${what} is not valid JSON (${(e as Error).message}); the file is damaged`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** The epoch folders that hold a state.json, newest first (to tell a user what a damaged latest.json could point at). */
function completeCheckpoints(runDir: RunDir): string[] {
  const root = runDir.path(CHECKPOINT_DIR);
  return fs.readdirSync(root).filter((e) => /^epoch-\d+$/.test(e) && fs.existsSync(path.join(root, e, 'state.json'))).sort().reverse();
}

/** The newest complete checkpoint, from checkpoint/latest.json; null when the run has none. Throws CheckpointError naming the damaged file. */
export function readCheckpoint(runDir: RunDir): CheckpointState | null {
  const latestFile = runDir.path(CHECKPOINT_DIR, 'latest.json');
  if (!fs.existsSync(latestFile)) return null;
  const latest = readJsonFile(latestFile, 'the pointer to the newest checkpoint');
  if (!isObj(latest) || !isCount(latest.epoch) || !isCount(latest.round) || typeof latest.dir !== 'string'
    || !/^checkpoint\/epoch-\d{6,}$/.test(latest.dir)) {
    const found = completeCheckpoints(runDir);
    throw new CheckpointError(latestFile, `expected {"epoch": <integer>, "round": <integer>, "dir": "checkpoint/epoch-NNNNNN"}, got ${JSON.stringify(latest).slice(0, 120)}; `
      + (found.length ? `complete checkpoints here: ${found.join(', ')}` : 'no complete checkpoint folder is left'));
  }
  const stateFile = runDir.path(latest.dir, 'state.json');
  const state = readJsonFile(stateFile, `the checkpoint named by ${latestFile}`);
  const missing = ['trainer', 'variables', 'optimizer'].filter((k) => !isObj(state) || state[k] === undefined);
  if (!isObj(state) || missing.length > 0 || !Array.isArray(state.variables) || !isCount(state.epoch) || !isCount(state.round)) {
    throw new CheckpointError(stateFile, `not a checkpoint state: ${missing.length ? `missing ${missing.join(', ')}` : 'epoch, round or variables malformed'}`);
  }
  return state as unknown as CheckpointState;
}

/**
 * Every tensor file a checkpoint names exists and is as long as its .npy header says, checked
 * from headers and sizes alone (before a resume writes anything). Throws CheckpointError naming the file.
 */
export function verifyCheckpoint(runDir: RunDir, state: CheckpointState): void {
  const files = [...state.variables.map((v) => v.file), ...(state.optimizer.weights ?? []).map((w) => w.file), ...(state.optimizer.extra ?? []).map((e) => e.file)];
  for (const rel of files) {
    if (typeof rel !== 'string') throw new CheckpointError(runDir.path(state.dir ?? CHECKPOINT_DIR, 'state.json'), 'names a tensor file that is not a string path');
    const file = runDir.path(rel);
    let fd: number | undefined;
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) throw new CheckpointError(file, 'is not a file, expected a .npy array of the checkpoint');
      fd = fs.openSync(file, 'r');
      const head = Buffer.alloc(Math.min(st.size, 65_536 + 12));
      fs.readSync(fd, head, 0, head.length, 0);
      const layout = readNpyHeader(head, file);
      if (st.size < layout.fileBytes) {
        throw new CheckpointError(file, `truncated: its header says shape (${layout.shape.join(', ')}) of ${layout.descr}, ${layout.fileBytes} bytes, but the file has ${st.size}`);
      }
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new CheckpointError(file, 'missing file: the checkpoint names it but it is not there');
      throw new CheckpointError(file, (e as Error).message.replace(`${file}: `, ''));
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

function readTensor(runDir: RunDir, rel: string): tf.Tensor {
  const file = runDir.path(rel);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new CheckpointError(file, `cannot read the checkpoint array: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing file' : (e as Error).message}`);
  }
  const a = decodeNpy(bytes, file);
  if (a.dtype !== 'float32' && a.dtype !== 'int32') throw new CheckpointError(file, `expected a float32 or int32 array, got ${a.dtype}`);
  return tf.tensor(a.data as Float32Array | Int32Array, a.shape, a.dtype);
}

/**
 * Put weights, optimizer state and extras back, and hand plugins their checkpoint folders
 * (`loadStateFiles`); the trainer state goes to `fit({resume})`.
 */
export async function restoreCheckpoint(runDir: RunDir, state: CheckpointState, trainer: Trainer): Promise<void> {
  const vars = trainer.anatomy.variables;
  if (vars.length !== state.variables.length) {
    throw new Error(`${runDir.path(CHECKPOINT_DIR)}: checkpoint has ${state.variables.length} variables but the model has ${vars.length}; was the config changed?`);
  }
  vars.forEach((v, i) => {
    const t = readTensor(runDir, state.variables[i].file);
    try {
      if (t.shape.join() !== v.shape.join()) {
        throw new Error(`${runDir.path(state.variables[i].file)}: shape [${t.shape}] does not match variable ${v.name} [${v.shape}]`);
      }
      v.assign(t);
    } finally {
      t.dispose();
    }
  });
  const opt = trainer.optimizer;
  if (opt.getClassName() !== state.optimizer.className) {
    throw new Error(`checkpoint optimizer is ${state.optimizer.className} but the config builds ${opt.getClassName()}`);
  }
  const named = state.optimizer.weights.map((w) => ({ name: w.name, tensor: readTensor(runDir, w.file) }));
  try {
    await opt.setWeights(named);
  } finally {
    tf.dispose(named.map((n) => n.tensor));
  }
  const own = new Map(extraVariables(opt));
  for (const e of state.optimizer.extra) {
    const v = own.get(e.key);
    if (!v) continue;
    const t = readTensor(runDir, e.file);
    v.assign(t);
    t.dispose();
  }
  const dir = state.dir ?? `${CHECKPOINT_DIR}/epoch-${pad(state.epoch)}`;
  await trainer.hooks.loadStateFiles.promise(stateFiles(runDir, dir, state, state.trainer.plugins ?? {}, false));
}
