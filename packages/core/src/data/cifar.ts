/**
 * CIFAR-10 "binary version" batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin).
 *
 * Each record is 3073 bytes: 1 label byte, then 3072 pixel bytes stored channel-major (CHW):
 * 1024 red, 1024 green, 1024 blue, each plane row-major 32×32. tfjs convolutions want NHWC, so
 * we transpose while scaling: file byte 1 + c·1024 + y·32 + x → images[((n·32 + y)·32 + x)·3 + c].
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ImageDataset } from './dataset.js';
import { DataFileError, readBytes } from './read.js';

export const CIFAR_SIDE = 32;
export const CIFAR_PLANE = CIFAR_SIDE * CIFAR_SIDE; // 1024
export const CIFAR_RECORD = 1 + 3 * CIFAR_PLANE; // 3073

export const CIFAR10_FILES = {
  train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
  test: ['test_batch.bin'],
} as const;

export type CifarSplit = keyof typeof CIFAR10_FILES;

/** Parse one batch file's bytes; `file` is used in error messages. `limit` caps the records read. */
export function parseCifarBatch(bytes: Uint8Array, file: string, limit = Infinity): { images: Float32Array; labels: Uint8Array; count: number } {
  if (bytes.length === 0) {
    throw new DataFileError(file, `empty file: expected records of ${CIFAR_RECORD} bytes (1 label + 3072 pixels)`);
  }
  if (bytes.length % CIFAR_RECORD !== 0) {
    throw new DataFileError(file,
      `size ${bytes.length} bytes is not a multiple of the ${CIFAR_RECORD}-byte record (1 label + 3072 pixels): ` +
      `${Math.floor(bytes.length / CIFAR_RECORD)} whole records + ${bytes.length % CIFAR_RECORD} extra bytes; truncated or not a CIFAR-10 batch?`);
  }
  const total = bytes.length / CIFAR_RECORD;
  // Validate every label, even past `limit`, so a corrupt file never passes silently.
  for (let n = 0; n < total; n++) {
    const label = bytes[n * CIFAR_RECORD];
    if (label > 9) {
      throw new DataFileError(file, `label ${label} in record ${n} (byte offset ${n * CIFAR_RECORD}) is out of range 0–9`);
    }
  }
  const count = Math.min(total, limit);
  const labels = new Uint8Array(count);
  const images = new Float32Array(count * 3 * CIFAR_PLANE);
  for (let n = 0; n < count; n++) {
    const rec = n * CIFAR_RECORD;
    labels[n] = bytes[rec];
    const out = n * 3 * CIFAR_PLANE;
    for (let c = 0; c < 3; c++) {
      const plane = rec + 1 + c * CIFAR_PLANE;
      for (let p = 0; p < CIFAR_PLANE; p++) images[out + p * 3 + c] = bytes[plane + p] / 255;
    }
  }
  return { images, labels, count };
}

export interface LoadCifar10Options {
  /** Folder with the .bin batches, or its parent holding `cifar-10-batches-bin/`. */
  dir: string;
  split: CifarSplit;
  /** Keep only the first `limit` examples (later batches are then not read). */
  limit?: number;
}

/** Resolve the batch folder and check every expected file is there, naming any missing ones. */
export function cifar10Files(dir: string, split: CifarSplit): string[] {
  let folder = path.resolve(dir);
  if (!fs.existsSync(folder)) {
    throw new DataFileError(folder, `missing folder: expected a CIFAR-10 binary folder holding ${[...CIFAR10_FILES.train, ...CIFAR10_FILES.test].join(', ')}`);
  }
  if (!fs.statSync(folder).isDirectory()) {
    throw new DataFileError(folder, 'is a file, expected a CIFAR-10 binary folder');
  }
  // The official tarball unpacks to cifar-10-batches-bin/; accept its parent too.
  const nested = path.join(folder, 'cifar-10-batches-bin');
  if (!fs.existsSync(path.join(folder, CIFAR10_FILES[split][0])) && fs.existsSync(nested)) folder = nested;
  const names = CIFAR10_FILES[split];
  const missing = names.filter((n) => !fs.existsSync(path.join(folder, n)));
  if (missing.length > 0) {
    throw new DataFileError(folder,
      `missing CIFAR-10 ${split} file${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (expected ${names.join(', ')})`);
  }
  return names.map((n) => path.join(folder, n));
}

/** CIFAR-10 train (5 batches, 50,000) or test (10,000) as NHWC float32 in [0, 1]. */
export function loadCifar10(opts: LoadCifar10Options): ImageDataset {
  if (opts.split !== 'train' && opts.split !== 'test') {
    throw new Error(`loadCifar10: split must be 'train' or 'test', got '${String(opts.split)}'`);
  }
  const files = cifar10Files(opts.dir, opts.split);
  let remaining = opts.limit === undefined ? Infinity : Math.max(0, Math.floor(opts.limit));
  const parts: { images: Float32Array; labels: Uint8Array; count: number }[] = [];
  const read: string[] = [];
  for (const f of files) {
    if (remaining <= 0) break;
    const { path: abs, bytes } = readBytes(f, 'CIFAR-10 batch');
    read.push(abs);
    const part = parseCifarBatch(bytes, abs, remaining);
    parts.push(part);
    remaining -= part.count;
  }
  const count = parts.reduce((s, p) => s + p.count, 0);
  const meta = { count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: 3, numClasses: 10, files: read };
  if (parts.length === 1) return { images: parts[0].images, labels: parts[0].labels, ...meta };
  const images = new Float32Array(count * 3 * CIFAR_PLANE);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * 3 * CIFAR_PLANE);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, ...meta };
}
