import { JobWorker, MAX_IN_FLIGHT } from '../threads/job-worker.js';
import type { SharedMatrix } from '../linalg/eigen-worker.js';
import { kernelModule, kernels, type Kernels } from '../wasm/kernels.js';
import { addSparseRows, addUpperToSums, packSparseSums, reserveRows, unpackSparseSums, type SparseLayout, type SparseRows } from './sparse-kernel.js';

export type { SparseRows } from './sparse-kernel.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const addSparseRows = ${addSparseRows.toString()};
let memory = null;
let kernel = null;
parentPort.on('message', (m) => {
  if (m.memory) { memory = m.memory; kernel = new WebAssembly.Instance(m.module, { env: { memory } }).exports; return; }
  try {
    addSparseRows(memory, kernel, m.at, m.layout, m);
    parentPort.postMessage({ id: m.id });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});`;

/**
 * Adds sparse rows into the kernel's running sums (sparse-kernel.ts), on a worker thread when
 * `offThread` (the second core sums while training goes on), else in place. Jobs run in
 * submission order, so the float64 sums are the same either way. A failed job fails every later
 * add and settle: the sums are lost. After `settle()`, `matrix(k)` reads one neuron's matrix from
 * the sums and `writeTotals()` all of them into A (the checkpoint's decompositions need only the
 * former: A's 8·K·q² bytes are never touched unless asked for).
 */
export class HostSummer {
  private readonly thread: JobWorker<void>;
  private failure: Error | null = null;
  private inPlace: Kernels | null = null;
  /** Sums added since A was last written from them. */
  private dirty = false;

  constructor(private readonly memory: WebAssembly.Memory, private readonly layout: SparseLayout, readonly offThread: boolean) {
    this.thread = new JobWorker<void>('statistics worker', WORKER_SOURCE, () => ({ memory, module: kernelModule() }));
  }

  /** Adds the rows, or returns null (adding nothing) when they do not fit in the memory. */
  add(rows: SparseRows): Promise<void> | null {
    if (this.failure) return Promise.reject(this.failure);
    const at = reserveRows(this.memory, this.layout, rows);
    if (!at) return null;
    this.dirty = true;
    if (!this.offThread) {
      this.inPlace ??= kernels(this.memory);
      addSparseRows(this.memory, this.inPlace, at, this.layout, rows);
      return Promise.resolve();
    }
    this.thread.run({ at, layout: this.layout, ...rows }, [rows.idx.buffer, rows.val.buffer, rows.start.buffer, rows.n.buffer] as ArrayBuffer[])
      .catch((e: Error) => { this.failure ??= e; }); // surfaced by settle() or the next add
    return this.thread.pending > MAX_IN_FLIGHT ? this.thread.oldest().catch(() => this.raise()) : Promise.resolve();
  }

  /** Adds upper triangles formed elsewhere (the device's), after every pending add. */
  async addUpper(a: ArrayLike<number>): Promise<void> {
    await this.drain();
    addUpperToSums(this.memory, this.layout, a);
    this.dirty = true;
  }

  /** Resolves once every submitted add has landed in the sums. */
  async settle(): Promise<void> {
    await this.drain();
  }

  /** Neuron k's matrix, both triangles, from the sums (after settle). */
  matrix(k: number): Float64Array {
    const out = new Float64Array(this.layout.q * this.layout.q);
    unpackSparseSums(this.memory, this.layout, k, out);
    return out;
  }

  /** Neuron k's matrix as the eigen worker reads it (after settle). */
  shared(k: number): SharedMatrix {
    return { memory: this.memory, layout: this.layout, k };
  }

  /** A (both triangles) from the sums, when anything was added since it was last written (after settle). */
  writeTotals(): void {
    if (!this.dirty) return;
    unpackSparseSums(this.memory, this.layout);
    this.dirty = false;
  }

  /** After A was loaded (a checkpoint): the sums continue from its upper triangles. */
  restore(): void {
    packSparseSums(this.memory, this.layout);
    this.dirty = true; // A's lower triangles are written with the next writeTotals
  }

  dispose(): void {
    this.thread.dispose();
  }

  private async drain(): Promise<void> {
    await this.thread.idle();
    this.raise();
  }

  private raise(): void {
    if (this.failure) throw this.failure;
  }
}
