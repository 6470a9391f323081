import type { EigenWorker, SharedMatrix } from './eigen-worker.js';
import { supportSplit } from './support.js';
import { symmetricEigen } from './symmetric-eigen.js';

/** What the exact solvers need of an eigendecomposition `A = Q Λ Qᵀ`: Λ ascending, `Qᵀg` and `Qû`. */
export interface Eigenbasis {
  readonly n: number;
  /** Eigenvalues, ascending. */
  readonly values: Float64Array;
  toEigenbasis(g: ArrayLike<number>): Float64Array;
  fromEigenbasis(uh: ArrayLike<number>): Float64Array;
}

/**
 * The eigendecomposition of a direct sum: parts acting on disjoint sets of coordinates, each with
 * its own eigenbasis. The spectrum is the union of the parts' spectra, so the trust-region and
 * least-norm solutions over the whole matrix are exact from the parts' small decompositions.
 */
class DirectSumEigen implements Eigenbasis {
  readonly values: Float64Array;
  /** Sorted position s holds coordinate `order[s]` of the parts' eigen-coordinates laid end to end. */
  private readonly order: Int32Array;
  private readonly offsets: number[];

  constructor(readonly n: number, private readonly parts: readonly { indices: Int32Array; eig: Eigenbasis }[]) {
    const all = new Float64Array(n);
    this.offsets = [];
    let off = 0;
    for (const p of parts) {
      if (p.eig.n !== p.indices.length) throw new Error(`DirectSumEigen: a part of ${p.indices.length} coordinates has a ${p.eig.n}×${p.eig.n} eigenbasis`);
      this.offsets.push(off);
      all.set(p.eig.values, off);
      off += p.indices.length;
    }
    if (off !== n) throw new Error(`DirectSumEigen: the parts cover ${off} of ${n} coordinates`);
    this.order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => all[a] - all[b] || a - b);
    this.values = Float64Array.from(this.order, (i) => all[i]);
  }

  toEigenbasis(g: ArrayLike<number>): Float64Array {
    const joined = new Float64Array(this.n);
    this.parts.forEach((p, k) => joined.set(p.eig.toEigenbasis(Float64Array.from(p.indices, (i) => g[i])), this.offsets[k]));
    return Float64Array.from(this.order, (i) => joined[i]);
  }

  fromEigenbasis(uh: ArrayLike<number>): Float64Array {
    const joined = new Float64Array(this.n);
    for (let s = 0; s < this.n; s++) joined[this.order[s]] = uh[s];
    const out = new Float64Array(this.n);
    this.parts.forEach((p, k) => {
      const v = p.eig.fromEigenbasis(joined.subarray(this.offsets[k], this.offsets[k] + p.indices.length));
      p.indices.forEach((i, r) => { out[i] = v[r]; });
    });
    return out;
  }
}

/**
 * A block-diagonal matrix's decomposition from its blocks' own: `K` blocks of size `q` whose rows
 * are interleaved as in a layer's `vec(Θ)`, Θ `[q, K]` row-major (block j holds the entries
 * `i·K + j`, a dense layer's column j); one decomposition when every block is the same matrix. A
 * squared-error output layer has this structure: its units' Jacobian columns are orthogonal, so
 * they couple only through the ball.
 */
export class BlockEigen extends DirectSumEigen {
  constructor(blocks: readonly Eigenbasis[], q: number) {
    const K = blocks.length;
    for (const b of blocks) if (b.n !== q) throw new Error(`BlockEigen: every block must be ${q}×${q}, got ${b.n}×${b.n}`);
    super(K * q, blocks.map((eig, j) => ({ eig, indices: Int32Array.from({ length: q }, (_, i) => i * K + j) })));
  }
}

/** The m coordinates of a zero matrix: eigenvalues 0, the identity for eigenvectors. */
function zeroEigen(m: number): Eigenbasis {
  return { n: m, values: new Float64Array(m), toEigenbasis: (g) => Float64Array.from(g), fromEigenbasis: (uh) => Float64Array.from(uh) };
}

/**
 * The eigendecomposition of a symmetric n×n matrix with zero rows (an input that never fired, a
 * dead unit, pixels that are 0 in every sample seen): each such coordinate is an eigenvector of
 * eigenvalue exactly 0, and only the rest (the support) is decomposed — O(m³) instead of O(n³),
 * nothing at all for a zero matrix. The plain decomposition when every row is nonzero.
 */
export function supportEigen(a: Float64Array, n: number): Eigenbasis {
  const split = supportSplit(a, n);
  return onSupport(split, symmetricEigen(split.sub, split.support.length));
}

/** supportEigen with the decomposition on `worker`'s thread; a shared matrix is read and split there too. */
export async function supportEigenOffThread(a: Float64Array | SharedMatrix, n: number, worker: EigenWorker): Promise<Eigenbasis> {
  if (!(a instanceof Float64Array)) {
    const { eig, support, zeros } = await worker.decomposeShared(a, n);
    return onSupport({ n, support, zeros }, eig);
  }
  const split = supportSplit(a, n);
  return onSupport(split, await worker.decompose(split.sub, split.support.length, split.sub !== a));
}

/** The whole matrix's eigenbasis from its support's. */
function onSupport(split: { n: number; support: Int32Array; zeros: Int32Array }, eig: Eigenbasis): Eigenbasis {
  if (split.zeros.length === 0) return eig;
  return new DirectSumEigen(split.n, [
    { indices: split.support, eig },
    { indices: split.zeros, eig: zeroEigen(split.zeros.length) },
  ]);
}
