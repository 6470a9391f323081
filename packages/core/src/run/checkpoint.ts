/**
 * Epoch checkpoints: weights (one .npy per variable), optimizer state (`getWeights()` plus any
 * tf.Variable the optimizer keeps outside it, e.g. Adam's β-powers, which `setWeights` would
 * otherwise recompute with `pow` and change in the last bit), trainer and plugin state.
 *
 * Layout: checkpoint/epoch-000003/{state.json, weights/NN.npy, optimizer/NN.npy, extra/<key>.npy},
 * and checkpoint/latest.json naming the newest complete one. latest.json is replaced atomically
 * only after every file of the new checkpoint is written, so a crash leaves the previous one intact.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { MetricsRow } from '../events.js';
import { decodeNpy, type NpyDtype } from '../store/npy.js';
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
  const state: CheckpointState = {
    epoch: t.epoch, round: t.round, trainer: t, variables,
    optimizer: { className: trainer.optimizer.getClassName(), weights, extra },
    epochRow: epochRow ? { ...epochRow } : null,
    savedAt: new Date().toISOString(),
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

export function readCheckpoint(runDir: RunDir): CheckpointState | null {
  const latestFile = runDir.path(CHECKPOINT_DIR, 'latest.json');
  if (!fs.existsSync(latestFile)) return null;
  const latest = JSON.parse(fs.readFileSync(latestFile, 'utf8')) as LatestPointer;
  const stateFile = runDir.path(latest.dir, 'state.json');
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8')) as CheckpointState;
  } catch (e) {
    throw new Error(`${stateFile}: cannot read the checkpoint named by ${latestFile}: ${(e as Error).message}`);
  }
}

function readTensor(runDir: RunDir, rel: string): tf.Tensor {
  const file = runDir.path(rel);
  const a = decodeNpy(fs.readFileSync(file));
  if (a.dtype !== 'float32' && a.dtype !== 'int32') throw new Error(`${file}: expected a float32 or int32 array, got ${a.dtype}`);
  return tf.tensor(a.data as Float32Array | Int32Array, a.shape, a.dtype);
}

/** Put weights, optimizer state and extras back; the trainer state goes to `fit({resume})`. */
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
}
