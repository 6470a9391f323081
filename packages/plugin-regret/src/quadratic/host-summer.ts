import { Worker } from 'node:worker_threads';

/** One buffer's sparse rows: x̃'s nonzero entries per sample (CSR) and the neurons' weights n `[S, K]`. */
export interface SparseRows {
  S: number;
  idx: Int32Array;
  val: Float64Array;
  start: Int32Array;
  n: Float32Array;
}

/**
 * `A_α += Σ_s n_sα x̃_s x̃_sᵀ` (upper triangles) for K neurons of fan-in q, from the nonzero
 * entries only, in float64. Self-contained on purpose: it is also the source of the worker.
 */
export function addSparseRows(A: Float64Array, K: number, q: number, S: number, idx: Int32Array, val: Float64Array, start: Int32Array, n: Float32Array): void {
  // Neuron by neuron, so that one A_α (q² doubles) stays in cache over the buffer.
  for (let a = 0; a < K; a++) {
    const base = a * q * q;
    for (let s = 0; s < S; s++) {
      const w = n[s * K + a];
      if (w === 0) continue; // unit a inactive on sample s: J_s[:, a] = 0
      const e = start[s + 1];
      for (let i = start[s]; i < e; i++) {
        const wi = w * val[i];
        const row = base + idx[i] * q;
        for (let c = i; c < e; c++) A[row + idx[c]] += wi * val[c];
      }
    }
  }
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const addSparseRows = ${addSparseRows.toString()};
let A = null;
parentPort.on('message', (m) => {
  if (m.shared) { A = new Float64Array(m.shared); return; }
  addSparseRows(A, m.K, m.q, m.S, m.idx, m.val, m.start, m.n);
  parentPort.postMessage(m.id);
});`;

/** Buffers in flight before `add` waits: bounds the memory of a worker that falls behind. */
const MAX_IN_FLIGHT = 4;

/**
 * Adds sparse rows into host totals A, on a worker thread when A lives in a SharedArrayBuffer
 * (the second core sums while training goes on), else in place. Jobs run in submission order,
 * so the float64 sums are the same either way; `settle()` before reading A.
 */
export class HostSummer {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  constructor(private readonly A: Float64Array, private readonly K: number, private readonly q: number) {}

  /** Whether jobs run off this thread. */
  get offThread(): boolean {
    return this.A.buffer instanceof SharedArrayBuffer;
  }

  async add(rows: SparseRows): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.offThread) {
      addSparseRows(this.A, this.K, this.q, rows.S, rows.idx, rows.val, rows.start, rows.n);
      return;
    }
    const w = this.start();
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    done.catch(() => undefined); // surfaced by settle() or the next add
    w.postMessage({ id, K: this.K, q: this.q, ...rows }, [rows.idx.buffer, rows.val.buffer, rows.start.buffer, rows.n.buffer] as ArrayBuffer[]);
    if (this.waiting.size > MAX_IN_FLIGHT) await this.oldest();
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
    w.postMessage({ shared: this.A.buffer });
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
