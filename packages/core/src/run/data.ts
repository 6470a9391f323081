/** Loading a config's data into tensors: x as the model input, y as the loss target. */
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
  /** e.g. "mnist train 256 × [784]". */
  description: string;
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
  const out: RunData = { ...tensorsOf(train, data, outputShape), description: '' };
  let testNote = '';
  if (withTest) {
    const test = loadSplit(data, baseDir, 'test');
    if (test) {
      out.test = tensorsOf(test, data, outputShape);
      testNote = `, test ${test.count}`;
    }
  }
  out.description = `${data.source} train ${train.count}${testNote} × [${out.x.shape.slice(1).join(', ')}] → ${data.target}`;
  return out;
}

export function disposeRunData(d: RunData): void {
  tf.dispose([d.x, d.y, ...(d.test ? [d.test.x, d.test.y] : [])]);
}
