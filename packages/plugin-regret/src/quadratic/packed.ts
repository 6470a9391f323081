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

/** The split point of the two-block layout of a symmetric q×q matrix. */
export function blockSplit(q: number): number {
  return Math.ceil(q / 2);
}

/**
 * Per-sample outer products of x̃ `[S, q]` in a two-block symmetric layout: the columns of
 * `x₁x₁ᵀ`, `x₁x₂ᵀ` and `x₂x₂ᵀ` (x₁ = the first ⌈q/2⌉ entries), about ¾ of vec(x̃x̃ᵀ) — the block
 * `x₂x₁ᵀ` is the transpose of `x₁x₂ᵀ`. Slices and broadcasts only (a gather is slow on wasm).
 */
export function blockOuterRows(X: tf.Tensor2D): tf.Tensor2D {
  const [S, q] = X.shape;
  const h = blockSplit(q);
  const X1 = tf.slice(X, [0, 0], [S, h]);
  const X2 = tf.slice(X, [0, h], [S, q - h]);
  const outer = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.reshape(tf.mul(tf.expandDims(a, 2), tf.expandDims(b, 1)), [S, a.shape[1] * b.shape[1]]);
  return tf.concat([outer(X1, X1), outer(X1, X2), outer(X2, X2)], 1) as tf.Tensor2D;
}

/** Rows of K matrices in the two-block layout (or one full q×q matrix shared by all K) added into `out` (K q×q). */
export function addBlockSymmetric(a: ArrayLike<number>, K: number, q: number, out: Float64Array): void {
  const h = blockSplit(q);
  const r = q - h;
  const m = h * h + h * r + r * r;
  const shared = a.length === q * q;
  for (let k = 0; k < K; k++) {
    const base = k * q * q;
    if (shared) {
      for (let i = 0; i < q * q; i++) out[base + i] += a[i];
      continue;
    }
    const o = k * m;
    for (let i = 0; i < h; i++) for (let j = 0; j < h; j++) out[base + i * q + j] += a[o + i * h + j];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < r; j++) {
        const v = a[o + h * h + i * r + j];
        out[base + i * q + h + j] += v;
        out[base + (h + j) * q + i] += v;
      }
    }
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) out[base + (h + i) * q + h + j] += a[o + h * h + h * r + i * r + j];
  }
}
