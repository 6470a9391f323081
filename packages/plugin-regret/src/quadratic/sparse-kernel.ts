import { kernelMemory, WASM_PAGE, type Kernels } from '../wasm/kernels.js';

/** One buffer's sparse rows: x̃'s nonzero entries per sample (CSR) and the neurons' weights n `[S, K]`. */
export interface SparseRows {
  S: number;
  idx: Int32Array;
  val: Float64Array;
  start: Int32Array;
  n: Float32Array;
}

/**
 * Where the wide neuron statistics live in the kernel's memory: the totals A `[K, q, q]` (float64,
 * what the statistics read) at byte 0; the kernel's own running sums, neuron-innermost
 * `[q, q, Kp]` (Kp: K rounded up to the ten neurons of the kernel's inner loop), at `sums`; then
 * room for a buffer's rows.
 */
export interface SparseLayout {
  K: number;
  q: number;
  Kp: number;
  sums: number;
  rows: number;
}

/** Room for a buffer's rows after the sums: ten rounds of 64 MNIST images take about 7 MB. */
const ROWS_BYTES = 64 * 2 ** 20;

export function sparseLayout(K: number, q: number): SparseLayout {
  const Kp = Math.ceil(K / 10) * 10;
  const sums = Math.ceil((8 * K * q * q) / 16) * 16;
  return { K, q, Kp, sums, rows: sums + 8 * q * q * Kp };
}

/** Bytes of the kernel's running sums beside the totals A. */
export function sparseSumsBytes(K: number, q: number): number {
  const l = sparseLayout(K, q);
  return l.rows - l.sums;
}

/** Memory for the totals and the sums with room for a buffer's rows; null beyond what a 32-bit memory addresses. */
export function sparseKernelMemory(layout: SparseLayout): WebAssembly.Memory | null {
  return kernelMemory(layout.rows, layout.rows + ROWS_BYTES);
}

/** Byte offsets of a buffer's rows (and the kernel's by-column index and scratch) in the kernel's memory. */
export interface RowsLayout {
  val: number;
  idx: number;
  start: number;
  n: number;
  colStart: number;
  colS: number;
  colE: number;
  wv: number;
}

/**
 * Lays a buffer's rows out after the sums, growing the memory when they do not fit yet; null
 * when it cannot grow that far. Called on the thread that submits, so that the worker never has
 * to grow the memory.
 */
export function reserveRows(memory: WebAssembly.Memory, layout: SparseLayout, rows: SparseRows): RowsLayout | null {
  const nnz = rows.val.length;
  const align = (b: number) => Math.ceil(b / 16) * 16;
  const val = layout.rows;
  const wv = align(val + 8 * nnz);
  const idx = align(wv + 8 * layout.Kp);
  const start = align(idx + 4 * nnz);
  const n = align(start + 4 * rows.start.length);
  const colStart = align(n + 4 * rows.n.length);
  const colS = align(colStart + 4 * (layout.q + 1));
  const colE = align(colS + 4 * nnz);
  const needed = colE + 4 * nnz;
  const have = memory.buffer.byteLength;
  if (needed > have) {
    try {
      memory.grow(Math.ceil((needed - have) / WASM_PAGE));
    } catch {
      return null; // beyond the memory's maximum: the device forms this buffer's A
    }
  }
  return { val, idx, start, n, colStart, colS, colE, wv };
}

/**
 * `A_α += Σ_s n_sα x̃_s x̃_sᵀ` (upper triangles, float64) into the kernel's running sums: checks
 * and copies the rows to their reserved place, indexes them by column, runs the kernel.
 * Self-contained on purpose: it is also part of the worker's source.
 */
export function addSparseRows(memory: WebAssembly.Memory, kernel: Kernels, at: RowsLayout, layout: SparseLayout, rows: SparseRows): void {
  const { K, q, Kp } = layout;
  const { S, idx, val, start, n } = rows;
  const nnz = val.length;
  if (idx.length !== nnz || start.length !== S + 1 || start[0] !== 0 || start[S] !== nnz || n.length !== S * K) {
    throw new Error(`sparse rows: ${S} samples need start of ${S + 1} entries from 0 to nnz = ${nnz}, idx of nnz and n of ${S}·${K}`);
  }
  const buffer = memory.buffer;
  const col = new Int32Array(buffer, at.colStart, q + 1).fill(0);
  for (let s = 0; s < S; s++) {
    if (start[s + 1] < start[s]) throw new Error(`sparse rows: start must not decrease (sample ${s})`);
    for (let e = start[s]; e < start[s + 1]; e++) {
      const j = idx[e];
      if (!(j >= 0 && j < q) || (e > start[s] && j <= idx[e - 1])) throw new Error(`sparse rows: sample ${s}'s columns must ascend within 0 … ${q - 1}`);
      col[j + 1]++;
    }
  }
  for (let j = 0; j < q; j++) col[j + 1] += col[j];
  const colS = new Int32Array(buffer, at.colS, nnz);
  const colE = new Int32Array(buffer, at.colE, nnz);
  const next = col.slice(0, q);
  for (let s = 0; s < S; s++) {
    for (let e = start[s]; e < start[s + 1]; e++) {
      const p = next[idx[e]]++;
      colS[p] = s;
      colE[p] = e;
    }
  }
  new Float64Array(buffer, at.val, nnz).set(val);
  new Int32Array(buffer, at.idx, nnz).set(idx);
  new Int32Array(buffer, at.start, S + 1).set(start);
  new Float32Array(buffer, at.n, S * K).set(n);
  kernel.addSparseRows(layout.sums, K, Kp, q, at.idx, at.val, at.start, at.n, at.colStart, at.colS, at.colE, at.wv);
}

/**
 * The totals A `[K, q, q]` from the running sums, both triangles (the sums hold the upper one);
 * or only neuron `k`'s matrix, into `out`. Eight rows at a time, so that the mirrored writes fill
 * whole cache lines.
 */
export function unpackSparseSums(memory: WebAssembly.Memory, layout: SparseLayout, k?: number, out?: Float64Array): void {
  const { K, q, Kp } = layout;
  const A = out ?? new Float64Array(memory.buffer, 0, K * q * q);
  const sums = new Float64Array(memory.buffer, layout.sums, q * q * Kp);
  const [k0, k1] = k === undefined ? [0, K] : [k, k + 1];
  for (let i0 = 0; i0 < q; i0 += 8) {
    const i1 = Math.min(i0 + 8, q);
    for (let kk = k0; kk < k1; kk++) {
      const base = out ? 0 : kk * q * q;
      for (let j = i0; j < q; j++) {
        const last = Math.min(i1, j + 1);
        for (let i = i0; i < last; i++) {
          const v = sums[(i * q + j) * Kp + kk];
          A[base + i * q + j] = v;
          A[base + j * q + i] = v;
        }
      }
    }
  }
}

/** The running sums from the totals' upper triangles (after the totals were loaded from a checkpoint). */
export function packSparseSums(memory: WebAssembly.Memory, layout: SparseLayout): void {
  const { K, q, Kp } = layout;
  const A = new Float64Array(memory.buffer, 0, K * q * q);
  const sums = new Float64Array(memory.buffer, layout.sums, q * q * Kp).fill(0);
  for (let i = 0; i < q; i++) for (let j = i; j < q; j++) for (let k = 0; k < K; k++) sums[(i * q + j) * Kp + k] = A[(k * q + i) * q + j];
}

/** Adds upper triangles of `[K, q, q]` (or one `[q, q]` shared by every neuron) into the running sums. */
export function addUpperToSums(memory: WebAssembly.Memory, layout: SparseLayout, a: ArrayLike<number>): void {
  const { K, q, Kp } = layout;
  const sums = new Float64Array(memory.buffer, layout.sums, q * q * Kp);
  const shared = a.length === q * q;
  for (let k = 0; k < K; k++) {
    const src = shared ? 0 : k * q * q;
    for (let i = 0; i < q; i++) for (let j = i; j < q; j++) sums[(i * q + j) * Kp + k] += a[src + i * q + j];
  }
}
