import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { hostView, selectBackend } from '../src/index.js';

describe('hostView reads a float32 tensor in place', () => {
  for (const backend of ['cpu', 'wasm']) it(`gives dataSync's values without a fresh array (${backend})`, async () => {
    await selectBackend(backend);
    const t = tf.tidy(() => tf.mul(tf.range(0, 1000, 1, 'float32'), 0.37));
    const view = hostView(t)!;
    expect(view).toBeInstanceOf(Float32Array);
    expect(Array.from(view)).toEqual(Array.from(t.dataSync()));
    // In place: a second view shares the first's memory (dataSync on wasm is a new copy each time).
    expect(hostView(t)!.buffer).toBe(view.buffer);
    expect(hostView(t)!.byteOffset).toBe(view.byteOffset);
    const ints = tf.tensor1d([1, 2, 3], 'int32');
    expect(hostView(ints)).toBeNull();
    tf.dispose([t, ints]);
  });
});
