import { JobWorker } from '../threads/job-worker.js';
import { kernelModule, kernels, type Kernels } from '../wasm/kernels.js';
import { addSparseRows, reserveRows, type SparseRows } from './sparse-kernel.js';

export type { SparseRows } from './sparse-kernel.js';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const addSparseRows = ${addSparseRows.toString()};
let memory = null;
let kernel = null;
parentPort.on('message', (m) => {
  if (m.memory) { memory = m.memory; kernel = new WebAssembly.Instance(m.module, { env: { memory } }).exports; return; }
  try {
    addSparseRows(memory, kernel, m.at, m.K, m.q, m);
    parentPort.postMessage({ id: m.id });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});`;

/** Buffers in flight before `add` waits: bounds the memory of a worker that falls behind. */
const MAX_IN_FLIGHT = 4;

/**
 * Adds sparse rows into host totals A (the first `lengthA` float64 of the kernel's shared
 * memory), on a worker thread when `offThread` (the second core sums while training goes on),
 * else in place. Jobs run in submission order, so the float64 sums are the same either way;
 * `settle()` before reading A. A failed job fails every later add and settle: the sums are lost.
 */
export class HostSummer {
  private readonly thread: JobWorker<void>;
  private failure: Error | null = null;
  private inPlace: Kernels | null = null;

  constructor(private readonly memory: WebAssembly.Memory, private readonly lengthA: number,
    private readonly K: number, private readonly q: number, readonly offThread: boolean) {
    this.thread = new JobWorker<void>('statistics worker', WORKER_SOURCE, () => ({ memory, module: kernelModule() }));
  }

  /** Adds the rows, or returns null (adding nothing) when they do not fit in the memory. */
  add(rows: SparseRows): Promise<void> | null {
    if (this.failure) return Promise.reject(this.failure);
    const at = reserveRows(this.memory, this.lengthA, rows);
    if (!at) return null;
    if (!this.offThread) {
      this.inPlace ??= kernels(this.memory);
      addSparseRows(this.memory, this.inPlace, at, this.K, this.q, rows);
      return Promise.resolve();
    }
    this.thread.run({ at, K: this.K, q: this.q, ...rows }, [rows.idx.buffer, rows.val.buffer, rows.start.buffer, rows.n.buffer] as ArrayBuffer[])
      .catch((e: Error) => { this.failure ??= e; }); // surfaced by settle() or the next add
    return this.thread.pending > MAX_IN_FLIGHT ? this.thread.oldest().catch(() => this.raise()) : Promise.resolve();
  }

  /** Resolves once every submitted job has been added into A. */
  async settle(): Promise<void> {
    while (this.thread.pending > 0) await this.thread.oldest().catch(() => undefined);
    this.raise();
  }

  dispose(): void {
    this.thread.dispose();
  }

  private raise(): void {
    if (this.failure) throw this.failure;
  }
}
