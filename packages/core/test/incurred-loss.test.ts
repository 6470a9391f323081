import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { defineLoss, incurredLoss, lossReduction, meanSquaredError, selectBackend, softmaxCrossEntropy } from '@taylorlens/core';

/** Reference in float64 with every term computed independently of the code under test (Neumaier-compensated sum). */
function compensatedSum(terms: number[]): number {
  let sum = 0;
  let c = 0;
  for (const t of terms) {
    const s = sum + t;
    c += Math.abs(sum) >= Math.abs(t) ? (sum - s) + t : (t - s) + sum;
    sum = s;
  }
  return sum + c;
}

describe('ℓ_n reduced in float64 on the host', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  it('mean squared error over 64×784 outputs: float64 value, where the float32 mean is off', async () => {
    const f = tf.randomNormal([64, 784], 0.3, 1, 'float32', 1);
    const y = tf.randomUniform([64, 784], 0, 1, 'float32', 2);
    const [fv, yv] = [await f.data(), await y.data()];
    const ref = compensatedSum(Array.from(fv, (v, i) => (v - yv[i]) ** 2)) / fv.length;
    const ours = await incurredLoss(meanSquaredError, f, y);
    expect(Math.abs(ours - ref) / ref).toBeLessThan(1e-13);
    const f32 = tf.tidy(() => meanSquaredError.compute(f, y));
    expect(Math.abs((await f32.data())[0] - ref) / ref).toBeGreaterThan(1e-9); // what float32 would have published
    expect(lossReduction(meanSquaredError)).toBe('float64 on the host');
    tf.dispose([f, y, f32]);
  });

  it('softmax cross-entropy on logits, soft targets included, equals the float64 log-sum-exp', async () => {
    const f = tf.randomNormal([32, 10], 0, 3, 'float32', 3);
    const y = tf.softmax(tf.randomNormal([32, 10], 0, 1, 'float32', 4));
    const [fv, yv] = [await f.data(), await y.data()];
    const terms: number[] = [];
    for (let r = 0; r < 32; r++) {
      const row = Array.from(fv.subarray(r * 10, r * 10 + 10));
      const m = Math.max(...row);
      const lse = m + Math.log(compensatedSum(row.map((v) => Math.exp(v - m))));
      row.forEach((v, k) => terms.push(-yv[r * 10 + k] * (v - lse)));
    }
    const ref = compensatedSum(terms) / 32;
    expect(Math.abs((await incurredLoss(softmaxCrossEntropy, f, y)) - ref) / ref).toBeLessThan(1e-13);
    tf.dispose([f, y]);
  });

  it('a user loss without hostValue falls back to its own float32 value, and says so', async () => {
    const mae = defineLoss({ name: 'mae', compute: (f, y) => tf.mean(tf.abs(tf.sub(f, y))) as tf.Scalar });
    const f = tf.tensor2d([[1, 2], [3, 5]]);
    const y = tf.tensor2d([[0, 2], [3, 1]]);
    const before = tf.memory().numTensors;
    expect(await incurredLoss(mae, f, y)).toBe(1.25);
    expect(tf.memory().numTensors).toBe(before);
    expect(lossReduction(mae)).toBe('float32 on the backend');
    tf.dispose([f, y]);
  });
});
