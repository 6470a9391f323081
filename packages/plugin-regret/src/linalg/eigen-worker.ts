import { JobWorker } from '../threads/job-worker.js';
import { kernelModule } from '../wasm/kernels.js';
import { unpackSparseSums, type SparseLayout } from '../quadratic/sparse-kernel.js';
import { eigenPiecesSource, fromPieces, type EigenPieces, type SymmetricEigen } from './symmetric-eigen.js';
import { supportSplit } from './support.js';

/** A matrix the worker reads itself: neuron k of the sparse statistics' running sums, in their shared memory. */
export interface SharedMatrix {
  memory: WebAssembly.Memory;
  layout: SparseLayout;
  k: number;
}

const SOURCE = `
const { parentPort } = require('node:worker_threads');
${eigenPiecesSource()}
const supportSplit = ${supportSplit.toString()};
const unpackSparseSums = ${unpackSparseSums.toString()};
const transfers = (p) => [p.d.buffer, p.rotIndex.buffer, p.rotCos.buffer, p.rotSin.buffer, ...p.reflectors.map((r) => r.v.buffer)];
let thread = null;
let scratch = null;
parentPort.on('message', (m) => {
  if (m.module) { thread = { module: m.module, memory: null, kernels: null }; return; }
  try {
    if (m.shared) {
      // Read the matrix from the shared sums here, decompose its support.
      if (!scratch || scratch.length !== m.n * m.n) scratch = new Float64Array(m.n * m.n);
      unpackSparseSums(m.shared.memory, m.shared.layout, m.shared.k, scratch);
      const split = supportSplit(scratch, m.n);
      const p = eigenPieces(split.sub, split.support.length, thread);
      parentPort.postMessage({ id: m.id, result: { pieces: p, support: split.support, zeros: split.zeros } }, [...transfers(p), split.support.buffer, split.zeros.buffer]);
    } else {
      const p = eigenPieces(m.a, m.n, thread);
      parentPort.postMessage({ id: m.id, result: p }, transfers(p));
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
  }
});`;

/** What the worker returns for a shared matrix: its support's decomposition. */
export interface SupportPieces {
  pieces: EigenPieces;
  support: Int32Array;
  zeros: Int32Array;
}

/**
 * Symmetric eigendecompositions on a worker thread (the second core), with the same code as
 * `symmetricEigen` — so the same bits. A checkpoint hands the statistics scopes' decompositions to
 * it while this thread solves the scopes that need the model (the network scope's replays), then
 * solves the statistics scopes from the results. Jobs run in submission order.
 */
export class EigenWorker {
  private readonly thread = new JobWorker<EigenPieces | SupportPieces>('eigen worker', SOURCE, () => ({ module: kernelModule() }));

  /** Decomposes the n×n symmetric `a`: a copy of it, or `a` itself when `owned` (handed over: it is detached). */
  async decompose(a: Float64Array, n: number, owned = false): Promise<SymmetricEigen> {
    const whole = owned && !(a.buffer instanceof SharedArrayBuffer) && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;
    const copy = whole ? a : a.slice();
    return fromPieces(await this.thread.run({ a: copy, n }, [copy.buffer as ArrayBuffer]) as EigenPieces);
  }

  /** Reads the n×n matrix from shared memory on the worker and decomposes its support there (supportSplit). */
  async decomposeShared(shared: SharedMatrix, n: number): Promise<{ eig: SymmetricEigen; support: Int32Array; zeros: Int32Array }> {
    const r = await this.thread.run({ shared, n }) as SupportPieces;
    return { eig: fromPieces(r.pieces), support: r.support, zeros: r.zeros };
  }

  dispose(): void {
    this.thread.dispose();
  }
}
