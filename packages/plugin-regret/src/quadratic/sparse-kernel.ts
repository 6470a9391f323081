import { kernelMemory, WASM_PAGE, type Kernels } from '../wasm/kernels.js';

/** One buffer's sparse rows: x̃'s nonzero entries per sample (CSR) and the neurons' weights n `[S, K]`. */
export interface SparseRows {
  S: number;
  idx: Int32Array;
  val: Float64Array;
  start: Int32Array;
  n: Float32Array;
}

/** Room for a buffer's rows after the totals: ten rounds of 64 MNIST images take about 6 MB. */
const ROWS_BYTES = 64 * 2 ** 20;

/**
 * Memory for the wide neuron statistics' totals of `lengthA` float64 at byte 0, with room after
 * them for a buffer's rows; null when they exceed what a 32-bit memory addresses.
 */
export function sparseKernelMemory(lengthA: number): WebAssembly.Memory | null {
  return kernelMemory(8 * lengthA, 8 * lengthA + ROWS_BYTES);
}

/** Byte offsets of a buffer's rows in the kernel's memory, after the totals. */
export interface RowsLayout {
  val: number;
  idx: number;
  start: number;
  n: number;
}

/**
 * Lays a buffer's rows out after the totals (`lengthA` float64 at byte 0), growing the memory
 * when they do not fit yet; null when it cannot grow that far. Called on the thread
 * that submits, so that the worker never has to grow the memory.
 */
export function reserveRows(memory: WebAssembly.Memory, lengthA: number, rows: SparseRows): RowsLayout | null {
  const val = Math.ceil(lengthA / 8) * 64; // 8-byte aligned, past the totals
  const idx = val + 8 * rows.val.length;
  const start = idx + 4 * rows.idx.length;
  const n = start + 4 * rows.start.length;
  const needed = n + 4 * rows.n.length;
  const have = memory.buffer.byteLength;
  if (needed > have) {
    try {
      memory.grow(Math.ceil((needed - have) / WASM_PAGE));
    } catch {
      return null; // beyond the memory's maximum: the device forms this buffer's A
    }
  }
  return { val, idx, start, n };
}

/**
 * `A_α += Σ_s n_sα x̃_s x̃_sᵀ` (upper triangles, float64) into the totals at byte 0 of the
 * kernel's memory: copies the rows to their reserved place and runs the kernel. Self-contained on
 * purpose: it is also part of the worker's source.
 */
export function addSparseRows(memory: WebAssembly.Memory, kernel: Kernels, at: RowsLayout, K: number, q: number, rows: SparseRows): void {
  const buffer = memory.buffer;
  new Float64Array(buffer, at.val, rows.val.length).set(rows.val);
  new Int32Array(buffer, at.idx, rows.idx.length).set(rows.idx);
  new Int32Array(buffer, at.start, rows.start.length).set(rows.start);
  new Float32Array(buffer, at.n, rows.n.length).set(rows.n);
  kernel.addSparseRows(0, K, q, rows.S, at.idx, at.val, at.start, at.n);
}
