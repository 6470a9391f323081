import * as tf from '@tensorflow/tfjs-core';

/** Index pairs (i ≤ j) of an n×n symmetric matrix's upper triangle, row by row. */
export function upperPairs(n: number): { I: Int32Array; J: Int32Array } {
  const m = (n * (n + 1)) / 2;
  const I = new Int32Array(m);
  const J = new Int32Array(m);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) { I[k] = i; J[k] = j; k++; }
  return { I, J };
}

/** Position of (i, j) in the packed upper triangle. */
export function packedIndex(n: number, i: number, j: number): number {
  if (i > j) [i, j] = [j, i];
  return i * n - (i * (i - 1)) / 2 + (j - i);
}

/** Gather indices of the packed upper triangle (owned by the caller: dispose them with its scope). */
export function packedIndices(n: number): { I: tf.Tensor1D; J: tf.Tensor1D; flat: tf.Tensor1D } {
  const { I, J } = upperPairs(n);
  return {
    I: tf.keep(tf.tensor1d(I, 'int32')),
    J: tf.keep(tf.tensor1d(J, 'int32')),
    flat: tf.keep(tf.tensor1d(Int32Array.from(I, (i, k) => i * n + J[k]), 'int32')),
  };
}

/** Packed upper triangles of per-sample symmetric matrices `[S, n, n]` → `[S, n(n+1)/2]`. */
export function packRowsOf(M: tf.Tensor3D, idx: { flat: tf.Tensor1D }): tf.Tensor2D {
  const [S, n] = M.shape;
  return tf.gather(tf.reshape(M, [S, n * n]), idx.flat, 1) as tf.Tensor2D;
}

/**
 * The Kronecker statistics of a dense layer with packed columns, `S[(i, i'), (j ≤ j')]`, to the
 * full `A[(i,j),(i',j')] = S[(i, i'), (min(j,j'), max(j,j'))]`, added into `out` (P×P, P = q·p).
 */
export function addUnpackedKron(S: ArrayLike<number>, q: number, p: number, out: Float64Array): void {
  const mp = (p * (p + 1)) / 2;
  const P = q * p;
  for (let i = 0; i < q; i++) {
    for (let i2 = 0; i2 < q; i2++) {
      const rowS = (i * q + i2) * mp;
      for (let j = 0; j < p; j++) {
        const rowA = (i * p + j) * P + i2 * p;
        for (let j2 = 0; j2 < p; j2++) out[rowA + j2] += S[rowS + packedIndex(p, j, j2)];
      }
    }
  }
}
