import { Worker } from 'node:worker_threads';
import { kernelModule } from '../wasm/kernels.js';
import { eigenWorkerSource, fromPieces, type EigenPieces, type SymmetricEigen } from './symmetric-eigen.js';

/**
 * Symmetric eigendecompositions on a worker thread (the second core), with the same code as
 * `symmetricEigen` — so the same bits. A checkpoint hands the statistics scopes' decompositions to
 * it while this thread solves the scopes that need the model (the network scope's replays), then
 * solves the statistics scopes from the results. Jobs run in submission order.
 */
export class EigenWorker {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (e: SymmetricEigen) => void; reject: (e: Error) => void }>();

  /** Decomposes the n×n symmetric `a`: a copy of it, or `a` itself when `owned` (handed over: it is detached). */
  decompose(a: Float64Array, n: number, owned = false): Promise<SymmetricEigen> {
    const w = this.start();
    const id = this.nextId++;
    const copy = owned && !(a.buffer instanceof SharedArrayBuffer) && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
    const done = new Promise<SymmetricEigen>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    w.ref(); // pending work keeps the process alive; an idle worker does not
    w.postMessage({ id, a: copy, n }, [copy.buffer as ArrayBuffer]);
    return done;
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = null;
    for (const w of this.waiting.values()) w.reject(new Error('eigen worker disposed'));
    this.waiting.clear();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(eigenWorkerSource(), { eval: true });
    w.postMessage({ module: kernelModule() });
    w.on('message', (m: { id: number; pieces?: EigenPieces; error?: string }) => {
      const entry = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
      if (m.error !== undefined) entry?.reject(new Error(`regret: eigen worker: ${m.error}`));
      else entry?.resolve(fromPieces(m.pieces!));
    });
    w.on('error', (e) => {
      const failure = new Error(`regret: the eigen worker failed: ${e.message}`);
      for (const entry of this.waiting.values()) entry.reject(failure);
      this.waiting.clear();
      this.worker = null;
    });
    this.worker = w;
    return w;
  }
}
