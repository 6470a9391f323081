import { afterAll, describe, expect, it } from 'vitest';
import { EigenWorker } from '../src/linalg/eigen-worker.js';
import { supportEigen, supportEigenOffThread } from '../src/linalg/block-eigen.js';
import { symmetricEigen } from '../src/linalg/symmetric-eigen.js';
import { packSparseSums, sparseKernelMemory, sparseLayout } from '../src/quadratic/sparse-kernel.js';

/** A random symmetric n×n matrix with the given rows and columns zero. */
function symmetric(n: number, seed: number, zeroRows: number[] = []): Float64Array {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = zeroRows.includes(i) || zeroRows.includes(j) ? 0 : rand();
  return a;
}

describe('decompositions on the eigen worker thread', () => {
  const worker = new EigenWorker();
  afterAll(() => worker.dispose());

  it('give symmetricEigen\'s bits: spectrum and both changes of basis, several jobs in flight', async () => {
    const sizes = [1, 2, 7, 64, 130];
    const results = await Promise.all(sizes.map((n, i) => worker.decompose(symmetric(n, i + 1), n)));
    sizes.forEach((n, i) => {
      const here = symmetricEigen(symmetric(n, i + 1), n);
      const there = results[i];
      expect(there.values).toEqual(here.values);
      const g = Float64Array.from({ length: n }, (_, j) => Math.sin(j + 1));
      expect(there.toEigenbasis(g)).toEqual(here.toEigenbasis(g));
      expect(there.fromEigenbasis(g)).toEqual(here.fromEigenbasis(g));
    });
  });

  it('supportEigen off the thread equals supportEigen (zero rows kept out of the decomposition)', async () => {
    const n = 40;
    const a = symmetric(n, 9, [0, 5, 39]);
    const [here, there] = [supportEigen(a, n), await supportEigenOffThread(a, n, worker)];
    expect(there.values).toEqual(here.values);
    expect(there.values.filter((v) => v === 0).length).toBeGreaterThanOrEqual(3);
    const g = Float64Array.from({ length: n }, (_, j) => Math.cos(j));
    expect(there.toEigenbasis(g)).toEqual(here.toEigenbasis(g));
  });

  it('a matrix of the sparse statistics\' shared sums is read, split and decomposed on the worker: supportEigen\'s bits', async () => {
    const K = 3, q = 24;
    const layout = sparseLayout(K, q);
    const memory = sparseKernelMemory(layout)!;
    const A = new Float64Array(memory.buffer, 0, K * q * q);
    const mats = [symmetric(q, 4, [2, 3, 23]), symmetric(q, 5), symmetric(q, 6, Array.from({ length: q }, (_, i) => i))];
    mats.forEach((m, k) => A.set(m, k * q * q));
    packSparseSums(memory, layout); // the sums the kernel would have added
    A.fill(0); // the worker reads the sums, not A
    for (const [k, m] of mats.entries()) {
      const [here, there] = [supportEigen(m, q), await supportEigenOffThread({ memory, layout, k }, q, worker)];
      expect(there.values).toEqual(here.values);
      const g = Float64Array.from({ length: q }, (_, j) => Math.cos(j + k));
      expect(there.toEigenbasis(g)).toEqual(here.toEigenbasis(g));
      expect(there.fromEigenbasis(g)).toEqual(here.fromEigenbasis(g));
    }
  });

  it('a 0×0 matrix first (a zero statistics matrix has no support) leaves the thread able to decompose the next', async () => {
    const fresh = new EigenWorker();
    try {
      expect((await fresh.decompose(new Float64Array(0), 0)).values.length).toBe(0);
      expect((await fresh.decompose(symmetric(5, 3), 5)).values).toEqual(symmetricEigen(symmetric(5, 3), 5).values);
    } finally {
      fresh.dispose();
    }
  });

  it('a failing job rejects with the worker\'s message; the worker goes on with the next', async () => {
    await expect(worker.decompose(new Float64Array(10), 3)).rejects.toThrow(/eigen worker/);
    expect((await worker.decompose(symmetric(3, 2), 3)).values).toEqual(symmetricEigen(symmetric(3, 2), 3).values);
  });
});
