import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataFileError } from '../src/data/read.js';
import { encodeIdx, parseIdx, readIdx } from '../src/data/idx.js';
import { loadMnist, loadMnistLike } from '../src/data/mnist.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const write = (name: string, bytes: Uint8Array) => {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
};
/** n images of h×w where pixel k of image i is (i*7 + k) % 256, and labels i % 10. */
const images = (n: number, h: number, w: number) =>
  encodeIdx({ dtype: 'uint8', shape: [n, h, w], data: Array.from({ length: n * h * w }, (_, k) => (Math.floor(k / (h * w)) * 7 + (k % (h * w))) % 256) });
const labels = (n: number, f = (i: number) => i % 10) => encodeIdx({ dtype: 'uint8', shape: [n], data: Array.from({ length: n }, (_, i) => f(i)) });

/** Run fn, expect a DataFileError whose message starts with the file's path and contains every key phrase. */
function expectDataError(fn: () => unknown, file: string, ...phrases: string[]): string {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err, 'expected an error').toBeInstanceOf(DataFileError);
  const msg = (err as Error).message;
  expect(msg.startsWith(path.resolve(file) + ': '), msg).toBe(true);
  for (const p of phrases) expect(msg).toContain(p);
  return msg;
}

describe('IDX parsing', () => {
  it('reads a hand-written ubyte header and payload', () => {
    const p = write('hand.idx', Buffer.from([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250]));
    const arr = readIdx(p);
    expect(arr.dtype).toBe('uint8');
    expect(arr.shape).toEqual([2, 3]);
    expect(Array.from(arr.data)).toEqual([1, 2, 3, 4, 5, 250]);
  });

  it('decodes multi-byte dtypes big-endian', () => {
    const i16 = parseIdx(Buffer.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]), 'mem');
    expect(i16.dtype).toBe('int16');
    expect(Array.from(i16.data)).toEqual([0x0102, -2]);
    const f32 = parseIdx(Buffer.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]), 'mem');
    expect(Array.from(f32.data)).toEqual([1.5]);
  });

  it('round-trips every dtype through encodeIdx', () => {
    const cases = [
      { dtype: 'uint8', data: [0, 1, 255, 128] },
      { dtype: 'int8', data: [-128, -1, 0, 127] },
      { dtype: 'int16', data: [-32768, -2, 300, 32767] },
      { dtype: 'int32', data: [-2147483648, -5, 70000, 2147483647] },
      { dtype: 'float32', data: [-1.5, 0, 0.25, 2 ** 34] },
      { dtype: 'float64', data: [-Math.PI, 0, 1e-300, 1e300] },
    ] as const;
    for (const c of cases) {
      const arr = parseIdx(encodeIdx({ dtype: c.dtype, shape: [2, 2], data: c.data }), 'mem');
      expect(arr.dtype).toBe(c.dtype);
      expect(arr.shape).toEqual([2, 2]);
      expect(Array.from(arr.data)).toEqual(c.data);
    }
  });

  it('detects gzip by magic bytes, not by extension', () => {
    const raw = images(3, 4, 5);
    const gz = write('looks-raw.idx', gzipSync(raw)); // gzip without .gz
    const plain = write('looks-gzipped.gz', raw); // raw with .gz
    for (const p of [gz, plain]) {
      const arr = readIdx(p);
      expect(arr.shape).toEqual([3, 4, 5]);
      expect(Buffer.from(arr.data as Uint8Array).equals(raw.subarray(16))).toBe(true);
    }
  });
});

describe('loadMnistLike', () => {
  it('scales pixels to [0,1] and checks counts (raw and gzip)', () => {
    for (const gz of [false, true]) {
      const enc = (b: Buffer) => (gz ? gzipSync(b) : b);
      const ds = loadMnistLike({
        imagesPath: write(`ok-${gz}/img`, enc(images(4, 2, 3))),
        labelsPath: write(`ok-${gz}/lab`, enc(labels(4))),
      });
      expect(ds).toMatchObject({ count: 4, height: 2, width: 3, channels: 1, numClasses: 10 });
      expect(Array.from(ds.labels)).toEqual([0, 1, 2, 3]);
      expect(ds.images.length).toBe(24);
      // image 1, pixel 5 is (7 + 5) = 12
      expect(ds.images[6 + 5]).toBe(Math.fround(12 / 255));
      expect(ds.images[0]).toBe(0);
    }
  });

  it('maps 255 to exactly 1 and honours limit', () => {
    const img = write('full/img', encodeIdx({ dtype: 'uint8', shape: [3, 1, 2], data: [255, 0, 51, 102, 1, 2] }));
    const lab = write('full/lab', labels(3));
    const ds = loadMnistLike({ imagesPath: img, labelsPath: lab, limit: 2 });
    expect(ds.count).toBe(2);
    expect(Array.from(ds.images)).toEqual([1, 0, Math.fround(0.2), Math.fround(0.4)]);
    expect(Array.from(ds.labels)).toEqual([0, 1]);
  });

  it('reads a Fashion-MNIST-style folder of .gz files via loadMnist({ dir })', () => {
    const dir = path.join(tmp, 'fashion');
    write('fashion/t10k-images-idx3-ubyte.gz', gzipSync(images(5, 28, 28)));
    write('fashion/t10k-labels-idx1-ubyte.gz', gzipSync(labels(5)));
    const ds = loadMnist({ dir, split: 'test' });
    expect(ds.count).toBe(5);
    expect(ds.height).toBe(28);
  });
});

describe('corrupt IDX files', () => {
  const goodImg = () => write('good/img', images(3, 2, 2));
  const goodLab = () => write('good/lab', labels(3));

  it('wrong magic number', () => {
    const p = write('bad/magic', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(20)]));
    expectDataError(() => readIdx(p), p, 'wrong magic number 0x89504e47', 'expected 0x00 0x00');
    expectDataError(() => loadMnistLike({ imagesPath: p, labelsPath: goodLab() }), p, 'wrong magic number');
  });

  it('truncated images', () => {
    const p = write('bad/trunc-img', images(10, 28, 28).subarray(0, 1000));
    expectDataError(() => loadMnistLike({ imagesPath: p, labelsPath: goodLab() }), p,
      'truncated: header says 10 images of 28×28 (7856 bytes) but file has 1000 bytes');
  });

  it('truncated labels: message gives counts and byte sizes', () => {
    const full = labels(60000);
    const p = write('bad/train-labels-idx1-ubyte', full.subarray(0, 1000));
    const msg = expectDataError(() => loadMnistLike({ imagesPath: goodImg(), labelsPath: p }), p);
    expect(msg).toBe(`${p}: truncated: header says 60000 labels (60008 bytes) but file has 1000 bytes`);
  });

  it('truncated gzip-compressed labels: sizes are after gunzip', () => {
    const p = write('bad/trunc-lab.gz', gzipSync(labels(50).subarray(0, 20)));
    expectDataError(() => readIdx(p, { items: 'labels' }), p, 'truncated: header says 50 labels (58 bytes) but file has 20 bytes after gunzip');
  });

  it('truncated header', () => {
    const p = write('bad/trunc-header', Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]));
    expectDataError(() => readIdx(p), p, 'truncated header', '3 dims (16 header bytes)', 'file has 8 bytes');
  });

  it('trailing garbage', () => {
    const p = write('bad/trailing', Buffer.concat([labels(3), Buffer.from([1, 2, 3, 4, 5])]));
    expectDataError(() => loadMnistLike({ imagesPath: goodImg(), labelsPath: p }), p,
      'trailing garbage (5 extra bytes)', 'header says 3 labels (11 bytes) but file has 16 bytes');
  });

  it('image and label counts that disagree', () => {
    const lab = write('bad/count-lab', labels(4));
    const img = goodImg();
    expectDataError(() => loadMnistLike({ imagesPath: img, labelsPath: lab }), lab,
      'count mismatch', '4 labels', `${img} has 3 images`);
  });

  it('wrong dimensions: 2-D images, 2-D labels, unexpected size', () => {
    const img2d = write('bad/img-2d', encodeIdx({ dtype: 'uint8', shape: [3, 4], data: new Array(12).fill(0) }));
    expectDataError(() => loadMnistLike({ imagesPath: img2d, labelsPath: goodLab() }), img2d,
      'wrong dimensions', '2-D [3, 4]', 'expected 3-D N×H×W');
    // Swapped arguments: labels file given as images.
    const lab = goodLab();
    expectDataError(() => loadMnistLike({ imagesPath: lab, labelsPath: goodImg() }), lab, 'wrong dimensions', '1-D');
    const img = goodImg();
    expectDataError(() => loadMnistLike({ imagesPath: img, labelsPath: img }), img, 'labels file is 3-D', 'expected 1-D');
    expectDataError(() => loadMnistLike({ imagesPath: img, labelsPath: goodLab(), expectedHeight: 28, expectedWidth: 28 }), img,
      'wrong dimensions: images are 2×2, expected 28×28');
  });

  it('non-ubyte images', () => {
    const p = write('bad/float-img', encodeIdx({ dtype: 'float32', shape: [3, 2, 2], data: new Array(12).fill(0.5) }));
    expectDataError(() => loadMnistLike({ imagesPath: p, labelsPath: goodLab() }), p, 'wrong dtype', 'float32', 'unsigned bytes');
  });

  it('gzip-corrupted stream', () => {
    const gz = gzipSync(images(20, 28, 28));
    const cut = write('bad/cut.gz', gz.subarray(0, gz.length >> 1));
    expectDataError(() => readIdx(cut), cut, 'corrupt gzip stream', 'gzip magic 1f 8b');
    const flipped = Buffer.from(gz);
    for (let i = 20; i < 60; i++) flipped[i] ^= 0xa5;
    const p = write('bad/flipped.gz', flipped);
    expectDataError(() => readIdx(p), p, 'corrupt gzip stream');
  });

  it('missing file', () => {
    const p = path.join(tmp, 'nowhere', 'train-images-idx3-ubyte');
    expectDataError(() => loadMnistLike({ imagesPath: p, labelsPath: goodLab() }), p, 'missing file');
    expectDataError(() => loadMnist({ dir: path.join(tmp, 'nowhere'), split: 'train' }), p, 'missing file');
  });

  it('labels out of range 0–9', () => {
    const p = write('bad/labels-range', labels(3, (i) => (i === 2 ? 10 : i)));
    expectDataError(() => loadMnistLike({ imagesPath: goodImg(), labelsPath: p }), p, 'label 10 at index 2 is out of range 0–9');
  });
});
