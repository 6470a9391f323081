import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataFileError } from '../src/data/read.js';
import { CIFAR_RECORD, loadCifar10, parseCifarBatch } from '../src/data/cifar.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

/** Pixel byte the synthetic file stores for record `n` (global index), channel c, row y, column x. */
const pix = (n: number, c: number, y: number, x: number) => (n * 31 + c * 97 + y * 5 + x * 3) % 256;

/** Records first..first+count-1 laid out as the CIFAR spec says: label, then R, G, B planes row-major. */
function batch(first: number, count: number, label = (n: number) => n % 10): Buffer {
  const buf = Buffer.alloc(count * CIFAR_RECORD);
  for (let i = 0; i < count; i++) {
    const n = first + i;
    const rec = i * CIFAR_RECORD;
    buf[rec] = label(n);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      buf[rec + 1 + c * 1024 + y * 32 + x] = pix(n, c, y, x);
    }
  }
  return buf;
}

function makeFolder(name: string, sizes = [2, 1, 3, 1, 2], test = 2): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  let first = 0;
  sizes.forEach((k, i) => { fs.writeFileSync(path.join(dir, `data_batch_${i + 1}.bin`), batch(first, k)); first += k; });
  fs.writeFileSync(path.join(dir, 'test_batch.bin'), batch(1000, test));
  return dir;
}

function expectDataError(fn: () => unknown, file: string, ...phrases: string[]): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err, 'expected an error').toBeInstanceOf(DataFileError);
  const msg = (err as Error).message;
  expect(msg.startsWith(path.resolve(file) + ': '), msg).toBe(true);
  for (const p of phrases) expect(msg).toContain(p);
}

describe('CIFAR-10 binary', () => {
  it('transposes CHW records to NHWC exactly, pixel by pixel', () => {
    const { images, labels, count } = parseCifarBatch(batch(0, 3), 'mem');
    expect(count).toBe(3);
    expect(Array.from(labels)).toEqual([0, 1, 2]);
    expect(images.length).toBe(3 * 32 * 32 * 3);
    let mismatches = 0;
    for (let n = 0; n < 3; n++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) {
      if (images[((n * 32 + y) * 32 + x) * 3 + c] !== Math.fround(pix(n, c, y, x) / 255)) mismatches++;
    }
    expect(mismatches).toBe(0);
    // Spot check by hand: record 1, green, row 2, col 3 → file byte 1 + 1024 + 2*32 + 3.
    const rec1 = batch(0, 3).subarray(CIFAR_RECORD);
    expect(images[((1 * 32 + 2) * 32 + 3) * 3 + 1]).toBe(Math.fround(rec1[1 + 1024 + 2 * 32 + 3] / 255));
  });

  it('concatenates the five train batches in order, and reads test_batch', () => {
    const dir = makeFolder('ok');
    const train = loadCifar10({ dir, split: 'train' });
    expect(train).toMatchObject({ count: 9, height: 32, width: 32, channels: 3, numClasses: 10 });
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // Record 6 lives in data_batch_4; check its last pixel (blue, 31, 31).
    expect(train.images[((6 * 32 + 31) * 32 + 31) * 3 + 2]).toBe(Math.fround(pix(6, 2, 31, 31) / 255));
    const test = loadCifar10({ dir, split: 'test' });
    expect(test.count).toBe(2);
    expect(test.images[0]).toBe(Math.fround(pix(1000, 0, 0, 0) / 255));
  });

  it('limit spans batches; the parent of cifar-10-batches-bin/ also works', () => {
    const parent = path.join(tmp, 'tarball');
    const dir = makeFolder(path.join('tarball', 'cifar-10-batches-bin'));
    expect(fs.existsSync(dir)).toBe(true);
    const ds = loadCifar10({ dir: parent, split: 'train', limit: 4 });
    expect(ds.count).toBe(4);
    expect(Array.from(ds.labels)).toEqual([0, 1, 2, 3]);
    expect(ds.images.length).toBe(4 * 3072);
    expect(ds.images[3 * 3072]).toBe(Math.fround(pix(3, 0, 0, 0) / 255));
  });

  it('bad size: not a multiple of 3073', () => {
    const dir = makeFolder('bad-size');
    const f = path.join(dir, 'data_batch_2.bin');
    fs.writeFileSync(f, Buffer.concat([batch(0, 2), Buffer.alloc(5)]));
    expectDataError(() => loadCifar10({ dir, split: 'train' }), f,
      'size 6151 bytes is not a multiple of the 3073-byte record', '2 whole records + 5 extra bytes');
  });

  it('bad label > 9', () => {
    const dir = makeFolder('bad-label');
    const f = path.join(dir, 'test_batch.bin');
    fs.writeFileSync(f, batch(0, 3, (n) => (n === 1 ? 12 : 0)));
    expectDataError(() => loadCifar10({ dir, split: 'test' }), f, 'label 12 in record 1 (byte offset 3073) is out of range 0–9');
  });

  it('empty file', () => {
    const dir = makeFolder('empty');
    const f = path.join(dir, 'test_batch.bin');
    fs.writeFileSync(f, Buffer.alloc(0));
    expectDataError(() => loadCifar10({ dir, split: 'test' }), f, 'empty file', '3073 bytes');
  });

  it('missing batches are all named', () => {
    const dir = makeFolder('missing');
    fs.rmSync(path.join(dir, 'data_batch_3.bin'));
    fs.rmSync(path.join(dir, 'data_batch_5.bin'));
    expectDataError(() => loadCifar10({ dir, split: 'train' }), dir,
      'missing CIFAR-10 train files: data_batch_3.bin, data_batch_5.bin', 'expected data_batch_1.bin');
    // The test split is still complete.
    expect(loadCifar10({ dir, split: 'test' }).count).toBe(2);
  });

  it('missing folder', () => {
    const dir = path.join(tmp, 'no-such-folder');
    expectDataError(() => loadCifar10({ dir, split: 'test' }), dir, 'missing folder', 'test_batch.bin');
  });
});
