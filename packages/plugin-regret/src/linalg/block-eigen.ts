import type { SymmetricEigen } from './symmetric-eigen.js';

/** What the exact solvers need of an eigendecomposition `A = Q Λ Qᵀ`: Λ ascending, `Qᵀg` and `Qû`. */
export interface Eigenbasis {
  readonly n: number;
  /** Eigenvalues, ascending. */
  readonly values: Float64Array;
  toEigenbasis(g: ArrayLike<number>): Float64Array;
  fromEigenbasis(uh: ArrayLike<number>): Float64Array;
}

/**
 * The eigendecomposition of a block-diagonal matrix from its blocks' own: `K` blocks of size `q`
 * whose rows are interleaved as in a layer's `vec(Θ)`, Θ `[q, K]` row-major (block j holds the
 * entries `i·K + j`, a dense layer's column j). The spectrum is the union of the blocks' spectra,
 * so the trust-region and least-norm solutions over the whole matrix are exact from K small
 * decompositions (one, when every block is the same matrix). A squared-error output layer has
 * this structure: its units' Jacobian columns are orthogonal, so they couple only through the ball.
 */
export class BlockEigen implements Eigenbasis {
  readonly n: number;
  readonly values: Float64Array;
  /** Sorted position s holds block-major coordinate `order[s]` (= j·q + its index in block j). */
  private readonly order: Int32Array;

  constructor(private readonly blocks: readonly SymmetricEigen[], private readonly q: number) {
    const K = blocks.length;
    this.n = K * q;
    for (const b of blocks) if (b.n !== q) throw new Error(`BlockEigen: every block must be ${q}×${q}, got ${b.n}×${b.n}`);
    const all = new Float64Array(this.n);
    blocks.forEach((b, j) => all.set(b.values, j * q));
    this.order = Int32Array.from({ length: this.n }, (_, i) => i).sort((a, b) => all[a] - all[b] || a - b);
    this.values = Float64Array.from(this.order, (i) => all[i]);
  }

  toEigenbasis(g: ArrayLike<number>): Float64Array {
    const { q, n } = this;
    const K = this.blocks.length;
    const blockMajor = new Float64Array(n);
    const part = new Float64Array(q);
    for (let j = 0; j < K; j++) {
      for (let i = 0; i < q; i++) part[i] = g[i * K + j];
      blockMajor.set(this.blocks[j].toEigenbasis(part), j * q);
    }
    return Float64Array.from(this.order, (i) => blockMajor[i]);
  }

  fromEigenbasis(uh: ArrayLike<number>): Float64Array {
    const { q, n } = this;
    const K = this.blocks.length;
    const blockMajor = new Float64Array(n);
    for (let s = 0; s < n; s++) blockMajor[this.order[s]] = uh[s];
    const out = new Float64Array(n);
    for (let j = 0; j < K; j++) {
      const v = this.blocks[j].fromEigenbasis(blockMajor.subarray(j * q, (j + 1) * q));
      for (let i = 0; i < q; i++) out[i * K + j] = v[i];
    }
    return out;
  }
}
