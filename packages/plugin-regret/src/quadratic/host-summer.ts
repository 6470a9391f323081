import { Worker } from 'node:worker_threads';
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
  addSparseRows(memory, kernel, m.at, m.K, m.q, m);
  parentPort.postMessage(m.id);
});`;

/** Buffers in flight before `add` waits: bounds the memory of a worker that falls behind. */
const MAX_IN_FLIGHT = 4;

/**
 * Adds sparse rows into host totals A (the first `lengthA` float64 of the kernel's shared
 * memory), on a worker thread when `offThread` (the second core sums while training goes on),
 * else in place. Jobs run in submission order, so the float64 sums are the same either way;
 * `settle()` before reading A.
 */
export class HostSummer {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  private inPlace: Kernels | null = null;

  constructor(private readonly memory: WebAssembly.Memory, private readonly lengthA: number,
    private readonly K: number, private readonly q: number, readonly offThread: boolean) {}

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
    const w = this.start();
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    done.catch(() => undefined); // surfaced by settle() or the next add
    w.postMessage({ id, at, K: this.K, q: this.q, ...rows }, [rows.idx.buffer, rows.val.buffer, rows.start.buffer, rows.n.buffer] as ArrayBuffer[]);
    return this.waiting.size > MAX_IN_FLIGHT ? this.oldest() : Promise.resolve();
  }

  /** Resolves once every submitted job has been added into A. */
  async settle(): Promise<void> {
    while (this.waiting.size > 0) await this.oldest();
    if (this.failure) throw this.failure;
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = null;
    for (const w of this.waiting.values()) w.reject(new Error('host summer disposed'));
    this.waiting.clear();
  }

  private oldest(): Promise<void> {
    const [id] = this.waiting.keys();
    return new Promise<void>((resolve, reject) => {
      const w = this.waiting.get(id)!;
      this.waiting.set(id, { resolve: () => { w.resolve(); resolve(); }, reject: (e) => { w.reject(e); reject(e); } });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.postMessage({ memory: this.memory, module: kernelModule() });
    w.on('message', (id: number) => {
      const entry = this.waiting.get(id);
      this.waiting.delete(id);
      entry?.resolve();
    });
    w.on('error', (e) => {
      this.failure = new Error(`regret: the statistics worker failed: ${e.message}`);
      for (const entry of this.waiting.values()) entry.reject(this.failure);
      this.waiting.clear();
    });
    this.worker = w;
    return w;
  }
}
