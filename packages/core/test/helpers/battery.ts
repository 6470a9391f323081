/** The data files and run folders the malformed-input battery points at, generated into a project folder. */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '../../src/data/idx.js';

export const SAMPLES = 48;

/** 48 6×6 images with labels 0–3, and every damaged variant the battery's configs name, under `<dir>/data`. */
export function writeBatteryData(dir: string): void {
  const d = path.join(dir, 'data');
  fs.mkdirSync(d, { recursive: true });
  const put = (name: string, bytes: Uint8Array | string) => fs.writeFileSync(path.join(d, name), bytes);
  const labels = Array.from({ length: SAMPLES }, (_, i) => i % 4);
  const images = encodeIdx({ dtype: 'uint8', shape: [SAMPLES, 6, 6], data: Array.from({ length: SAMPLES * 36 }, (_, i) => (i * 37 + (i >> 5)) % 256) });
  const labelFile = (ls: number[]) => encodeIdx({ dtype: 'uint8', shape: [ls.length], data: ls });
  put('images.idx', images);
  put('labels.idx', labelFile(labels));
  fs.mkdirSync(path.join(d, 'folder.idx'), { recursive: true });
  fs.mkdirSync(path.join(d, 'empty-folder'), { recursive: true });
  put('a-file.txt', 'not a folder\n');
  put('corrupt.idx.gz', Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('definitely not deflate data, just text')]));
  const gz = gzipSync(images);
  put('truncated.idx.gz', gz.subarray(0, Math.floor(gz.length / 2)));
  put('empty.idx', '');
  put('text.idx', 'hello, this is not an IDX file\n');
  put('short-header.idx', Buffer.from([0, 0, 8, 3, 0, 0]));
  put('short-values.idx', images.subarray(0, 16 + 100));
  put('trailing.idx', Buffer.concat([images, Buffer.from([1, 2, 3, 4, 5])]));
  put('labels-40.idx', labelFile(labels.slice(0, 40)));
  put('labels-12.idx', labelFile(labels.map((l, i) => (i === 3 ? 12 : l))));
  put('float-images.idx', encodeIdx({ dtype: 'float32', shape: [SAMPLES, 6, 6], data: new Float32Array(SAMPLES * 36) }));
  const mnist = path.join(d, 'mnist-bad-gz');
  fs.mkdirSync(mnist, { recursive: true });
  fs.writeFileSync(path.join(mnist, 'train-images-idx3-ubyte.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(64, 0x55)]));
  fs.writeFileSync(path.join(mnist, 'train-labels-idx1-ubyte'), labelFile(labels));
  const cifar = path.join(d, 'cifar-short');
  fs.mkdirSync(cifar, { recursive: true });
  fs.writeFileSync(path.join(cifar, 'data_batch_1.bin'), Buffer.alloc(3100));
  for (const n of [2, 3, 4, 5]) fs.writeFileSync(path.join(cifar, `data_batch_${n}.bin`), Buffer.alloc(3073));
}

/** Every file under `dir` (relative path → sha256), to show that a refused command wrote nothing. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return out;
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, rel);
    const st = fs.statSync(file);
    out[rel] = st.isFile() ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : 'folder';
  }
  return out;
}
