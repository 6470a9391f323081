/**
 * Files of the regret plugin's checkpoint state (see the README's "Checkpoints and resume"):
 * exact copies of device tensors and host arrays as `.npy`, and links to spilled round files.
 *
 * They go into a checkpoint folder that nothing reads until the core commits the checkpoint
 * (latest.json, written atomically last), so each file is written in place and fsynced, without
 * the temp-file-and-rename of an atomic write; `syncDir` then makes the folder's entries durable.
 */
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { decodeNpy, encodeNpy, fsyncDir, writeFileSynced, type NpyArray, type NpyInput } from '@taylorlens/core';

/** Write and fsync one .npy in a not-yet-committed checkpoint folder (call `syncDir` on the folder after). */
export function writeNpyFile(file: string, arr: NpyInput): void {
  writeFileSynced(file, encodeNpy(arr));
}

export function readNpyFile(file: string): NpyArray {
  return decodeNpy(fs.readFileSync(file), file);
}

/** A tensor's values exactly as the device holds them (float32, int32 or bool). */
export async function saveTensor(file: string, t: tf.Tensor): Promise<void> {
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') throw new Error(`${file}: cannot store a ${t.dtype} tensor`);
  const data = await t.data();
  writeNpyFile(file, { dtype: t.dtype, shape: t.shape, data: data as Float32Array | Int32Array | Uint8Array });
}

/** A tensor written by `saveTensor` (a new tensor, owned by the caller). */
export function loadTensor(file: string): tf.Tensor {
  const a = readNpyFile(file);
  if (a.dtype === 'float64') throw new Error(`${file}: expected a float32, int32 or bool array, got float64`);
  return tf.tensor(a.data as Float32Array | Int32Array | Uint8Array, a.shape, a.dtype === 'uint8' ? 'int32' : a.dtype);
}

/** Float64 host values (sums, solutions) with their shape. */
export function saveFloat64(file: string, data: Float64Array, shape: number[]): void {
  writeNpyFile(file, { dtype: 'float64', shape, data });
}

/** Float64 values written by `saveFloat64`, checked to hold `length` numbers. */
export function loadFloat64(file: string, length?: number): Float64Array {
  const a = readNpyFile(file);
  if (a.dtype !== 'float64') throw new Error(`${file}: expected float64, got ${a.dtype}`);
  if (length !== undefined && a.data.length !== length) throw new Error(`${file}: expected ${length} values, got ${a.data.length}; was the config changed?`);
  return a.data as Float64Array;
}

/** Per-problem vectors (warm starts) as one `[K, P]` float64 array. */
export function saveRows(file: string, rows: readonly Float64Array[]): void {
  const P = rows[0]?.length ?? 0;
  const flat = new Float64Array(rows.length * P);
  rows.forEach((r, k) => flat.set(r, k * P));
  saveFloat64(file, flat, [rows.length, P]);
}

export function loadRows(file: string): Float64Array[] {
  const a = readNpyFile(file);
  if (a.dtype !== 'float64' || a.shape.length !== 2) throw new Error(`${file}: expected a 2-D float64 array`);
  const [K, P] = a.shape;
  return Array.from({ length: K }, (_, k) => (a.data as Float64Array).slice(k * P, (k + 1) * P));
}

/**
 * Make `to` the same file as `from`: a hard link (no copy; the data outlives either name), or a
 * copy where the filesystem has no hard links. Replaces `to`.
 */
export function linkOrCopy(from: string, to: string): void {
  fs.rmSync(to, { force: true });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

/** Make new directory entries (links) durable, as the atomic writes do for files. */
export const syncDir = fsyncDir;

export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
