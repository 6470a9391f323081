import { symmetricEigen, type SymmetricEigen } from './symmetric-eigen.js';

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

  constructor(private readonly blocks: readonly Eigenbasis[], private readonly q: number) {
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

/**
 * The eigendecomposition of a symmetric n×n matrix with zero rows (an input that never fired, a
 * dead unit, pixels that are 0 in every sample seen): each such coordinate is an eigenvector of
 * eigenvalue exactly 0, and only the rest (the support) is decomposed — O(m³) instead of O(n³),
 * nothing at all for a zero matrix. The plain decomposition when every row is nonzero.
 */
export function supportEigen(a: Float64Array, n: number): Eigenbasis {
  const support: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = a.subarray(i * n, (i + 1) * n);
    if (row.some((v) => v !== 0)) support.push(i);
  }
  if (support.length === n) return symmetricEigen(a, n);
  const m = support.length;
  const sub = new Float64Array(m * m);
  for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) sub[r * m + c] = a[support[r] * n + support[c]];
  return new SupportEigen(n, Int32Array.from(support), symmetricEigen(sub, m));
}

class SupportEigen implements Eigenbasis {
  readonly values: Float64Array;
  /** Sorted position s holds coordinate `order[s]` of [support eigen-coordinates…, zero coordinates…]. */
  private readonly order: Int32Array;
  private readonly zeros: Int32Array;

  constructor(readonly n: number, private readonly support: Int32Array, private readonly eig: SymmetricEigen) {
    const inSupport = new Uint8Array(n);
    for (const i of support) inSupport[i] = 1;
    this.zeros = Int32Array.from({ length: n }, (_, i) => i).filter((i) => !inSupport[i]);
    const all = new Float64Array(n);
    all.set(eig.values, 0); // the zero coordinates' eigenvalues stay 0
    this.order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => all[a] - all[b] || a - b);
    this.values = Float64Array.from(this.order, (i) => all[i]);
  }

  toEigenbasis(g: ArrayLike<number>): Float64Array {
    const m = this.support.length;
    const joined = new Float64Array(this.n);
    joined.set(this.eig.toEigenbasis(Float64Array.from(this.support, (i) => g[i])), 0);
    this.zeros.forEach((i, k) => { joined[m + k] = g[i]; });
    return Float64Array.from(this.order, (i) => joined[i]);
  }

  fromEigenbasis(uh: ArrayLike<number>): Float64Array {
    const m = this.support.length;
    const joined = new Float64Array(this.n);
    for (let s = 0; s < this.n; s++) joined[this.order[s]] = uh[s];
    const out = new Float64Array(this.n);
    const v = this.eig.fromEigenbasis(joined.subarray(0, m));
    this.support.forEach((i, r) => { out[i] = v[r]; });
    this.zeros.forEach((i, k) => { out[i] = joined[m + k]; });
    return out;
  }
}
