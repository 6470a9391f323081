import { JobWorker } from '../threads/job-worker.js';
import { kernelModule } from '../wasm/kernels.js';
import { eigenWorkerSource, fromPieces, type EigenPieces, type SymmetricEigen } from './symmetric-eigen.js';

/**
 * Symmetric eigendecompositions on a worker thread (the second core), with the same code as
 * `symmetricEigen` — so the same bits. A checkpoint hands the statistics scopes' decompositions to
 * it while this thread solves the scopes that need the model (the network scope's replays), then
 * solves the statistics scopes from the results. Jobs run in submission order.
 */
export class EigenWorker {
  private readonly thread = new JobWorker<EigenPieces>('eigen worker', eigenWorkerSource(), () => ({ module: kernelModule() }));

  /** Decomposes the n×n symmetric `a`: a copy of it, or `a` itself when `owned` (handed over: it is detached). */
  async decompose(a: Float64Array, n: number, owned = false): Promise<SymmetricEigen> {
    const whole = owned && !(a.buffer instanceof SharedArrayBuffer) && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
    const copy = whole ? a : a.slice();
    return fromPieces(await this.thread.run({ a: copy, n }, [copy.buffer as ArrayBuffer]));
  }

  dispose(): void {
    this.thread.dispose();
  }
}
