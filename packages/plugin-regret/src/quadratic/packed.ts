import * as tf from '@tensorflow/tfjs-core';
import { hostView } from '@taylorlens/core';

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

/** Backends whose tensors live in this process's memory: reading one back is a copy. */
const HOST_BACKENDS = new Set(['wasm', 'cpu', 'tensorflow']);

/** Packed upper triangles of per-sample symmetric matrices `[S, n, n]` (float32) → `[S, n(n+1)/2]`. */
export function packRowsOf(M: tf.Tensor3D, idx: { flat: tf.Tensor1D }): tf.Tensor2D {
  const [S, n] = M.shape;
  if (!HOST_BACKENDS.has(tf.getBackend())) return tf.gather(tf.reshape(M, [S, n * n]), idx.flat, 1) as tf.Tensor2D;
  // The host backends' gather indexes element by element (3.1 s of the paper protocol's epoch on
  // wasm); copying each row's upper part is several times faster, the same values.
  const m = hostView(M) ?? (M.dataSync() as Float32Array); // in place where it can (no op runs before the copy ends)
  const out = new Float32Array((S * n * (n + 1)) / 2);
  let o = 0;
  for (let s = 0; s < S; s++) {
    for (let i = 0; i < n; i++) {
      const row = (s * n + i) * n;
      out.set(m.subarray(row + i, row + n), o);
      o += n - i;
    }
  }
  return tf.tensor2d(out, [S, out.length / S]);
}

/**
 * The Kronecker statistics of a dense layer with packed columns, `S[(i, i'), (j ≤ j')]` with rows
 * (i, i') in the block layout of `layout`, to the full `A[(i,j),(i',j')] = S[(i, i'), (min(j,j'), max(j,j'))]`
 * (and the absent rows (i', i) = (i, i'), since x̃x̃ᵀ is symmetric), added into `out` (P×P, P = q·p).
 */
export function addUnpackedKron(S: ArrayLike<number>, layout: BlockLayout, p: number, out: Float64Array): void {
  const q = layout.q;
  const mp = (p * (p + 1)) / 2;
  const P = q * p;
  const { pairs, mirrored } = layout;
  const put = (i: number, i2: number, rowS: number) => {
    for (let j = 0; j < p; j++) {
      const rowA = (i * p + j) * P + i2 * p;
      for (let j2 = 0; j2 < p; j2++) out[rowA + j2] += S[rowS + packedIndex(p, j, j2)];
    }
  };
  for (let r = 0; r < layout.rows; r++) {
    put(pairs[2 * r], pairs[2 * r + 1], r * mp);
    if (mirrored[r]) put(pairs[2 * r + 1], pairs[2 * r], r * mp);
  }
}

/**
 * Blocks of the symmetric layout of per-sample outer products: with 4 blocks the products fill
 * 62% of vec(x̃x̃ᵀ) — the statistics' matmul shrinks with them (35 against 62 ms per buffer of ten
 * rounds on the autoencoder's 51-input layer, `bench/`), and more blocks only add op dispatch.
 */
export const OUTER_BLOCKS = 4;

/**
 * x̃ (length q) split into `blocks` parts; the layout keeps the outer products of parts i ≤ j,
 * in that order, each row-major: row r of it is the entry (pairs[2r], pairs[2r+1]) of x̃x̃ᵀ, whose
 * transpose is absent (`mirrored[r]`) when the parts differ.
 */
export interface BlockLayout {
  q: number;
  parts: [start: number, length: number][];
  rows: number;
  pairs: Int32Array;
  mirrored: Uint8Array;
}

/** x̃'s `blocks` parts (at most q), as [start, length]. */
export function blockParts(q: number, blocks = OUTER_BLOCKS): [start: number, length: number][] {
  const b = Math.max(1, Math.min(blocks, q));
  const parts: [number, number][] = [];
  for (let k = 0, s = 0; k < b; k++) {
    const e = Math.round(((k + 1) * q) / b);
    parts.push([s, e - s]);
    s = e;
  }
  return parts;
}

export function blockLayout(q: number, blocks = OUTER_BLOCKS): BlockLayout {
  const parts = blockParts(q, blocks);
  const b = parts.length;
  const pairs: number[] = [];
  const mirrored: number[] = [];
  for (let i = 0; i < b; i++) {
    for (let j = i; j < b; j++) {
      const [si, li] = parts[i];
      const [sj, lj] = parts[j];
      for (let a = 0; a < li; a++) for (let c = 0; c < lj; c++) { pairs.push(si + a, sj + c); mirrored.push(i === j ? 0 : 1); }
    }
  }
  return { q, parts, rows: mirrored.length, pairs: Int32Array.from(pairs), mirrored: Uint8Array.from(mirrored) };
}

/**
 * Per-sample outer products of x̃ `[S, q]` in the block layout (blockLayout): the blocks `xᵢxⱼᵀ`
 * with i ≤ j, the others being their transposes. Slices and broadcasts only (a gather is slow on wasm).
 */
export function blockOuterRows(X: tf.Tensor2D, blocks = OUTER_BLOCKS): tf.Tensor2D {
  return outerRowsWith(tf, X, blockParts(X.shape[1], blocks));
}

/**
 * blockOuterRows for x̃'s `parts`, with the tfjs instance passed in: self-contained, so that it is
 * also the layer sums worker's source (quadratic/layer-sums.ts).
 */
export function outerRowsWith(tfjs: typeof tf, X: tf.Tensor2D, parts: [start: number, length: number][]): tf.Tensor2D {
  const S = X.shape[0];
  const xs = parts.map(([s, l]) => tfjs.slice(X, [0, s], [S, l]));
  const outer = (a: tf.Tensor2D, b: tf.Tensor2D) => tfjs.reshape(tfjs.mul(tfjs.expandDims(a, 2), tfjs.expandDims(b, 1)), [S, a.shape[1] * b.shape[1]]);
  const cols: tf.Tensor[] = [];
  for (let i = 0; i < xs.length; i++) for (let j = i; j < xs.length; j++) cols.push(outer(xs[i], xs[j]));
  return (cols.length === 1 ? cols[0] : tfjs.concat(cols, 1)) as tf.Tensor2D;
}

/** Rows of K matrices in a block layout (or one full q×q matrix shared by all K) added into `out` (K q×q). */
export function addBlockSymmetric(a: ArrayLike<number>, K: number, layout: BlockLayout, out: Float64Array): void {
  const q = layout.q;
  const shared = a.length === q * q;
  const { pairs, mirrored, rows } = layout;
  for (let k = 0; k < K; k++) {
    const base = k * q * q;
    if (shared) {
      for (let i = 0; i < q * q; i++) out[base + i] += a[i];
      continue;
    }
    const o = k * rows;
    for (let r = 0; r < rows; r++) {
      const i = pairs[2 * r];
      const j = pairs[2 * r + 1];
      out[base + i * q + j] += a[o + r];
      if (mirrored[r]) out[base + j * q + i] += a[o + r];
    }
  }
}
