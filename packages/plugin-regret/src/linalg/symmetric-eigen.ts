import { kernelModule, type Kernels } from '../wasm/kernels.js';

/**
 * Eigendecomposition `A = Q Λ Qᵀ` of a real symmetric matrix: Householder reduction to
 * tridiagonal form (row-oriented, contiguous memory) followed by the implicit QL algorithm
 * (EISPACK tql2, via the public-domain JAMA). Direct, with a fixed O(n³) cost.
 *
 * Q is kept in factored form — the Householder reflectors and the QL plane rotations — because
 * the solvers here only need `Qᵀg` and `Qû`: each costs O(n²), and skipping the accumulation of
 * the rotations into an n×n matrix saves most of the work. `vectors()` builds Q explicitly.
 */
export class SymmetricEigen {
  /** Eigenvalues, ascending. */
  readonly values: Float64Array;
  private explicit: Float64Array | null = null;

  constructor(
    readonly n: number,
    values: Float64Array,
    /** Householder vectors (reflector k acts on indices k+1…n−1), with their β = 2/vᵀv. */
    private readonly reflectors: { v: Float64Array; beta: number }[],
    /** Rotations in the order tql2 applied them: index i (acting on i, i+1), cos, sin. */
    private readonly rotIndex: Int32Array,
    private readonly rotCos: Float64Array,
    private readonly rotSin: Float64Array,
    /** Sorting: value `order[j]` of the unsorted spectrum is the j-th smallest. */
    private readonly order: Int32Array,
  ) {
    this.values = values;
  }

  /** `Qᵀg`: coordinates of g in the eigenbasis. */
  toEigenbasis(g: ArrayLike<number>): Float64Array {
    const n = this.n;
    const x = Float64Array.from(g);
    for (let k = 0; k < this.reflectors.length; k++) applyReflector(this.reflectors[k], k + 1, x);
    for (let r = 0; r < this.rotIndex.length; r++) {
      const i = this.rotIndex[r];
      const c = this.rotCos[r];
      const s = this.rotSin[r];
      const a = x[i];
      const b = x[i + 1];
      x[i] = c * a - s * b;
      x[i + 1] = s * a + c * b;
    }
    const out = new Float64Array(n);
    for (let j = 0; j < n; j++) out[j] = x[this.order[j]];
    return out;
  }

  /** `Qû`: the vector with eigen-coordinates û. */
  fromEigenbasis(uh: ArrayLike<number>): Float64Array {
    const n = this.n;
    const x = new Float64Array(n);
    for (let j = 0; j < n; j++) x[this.order[j]] = uh[j];
    for (let r = this.rotIndex.length - 1; r >= 0; r--) {
      const i = this.rotIndex[r];
      const c = this.rotCos[r];
      const s = this.rotSin[r];
      const a = x[i];
      const b = x[i + 1];
      x[i] = c * a + s * b;
      x[i + 1] = -s * a + c * b;
    }
    for (let k = this.reflectors.length - 1; k >= 0; k--) applyReflector(this.reflectors[k], k + 1, x);
    return x;
  }

  /** Eigenvectors as ROWS (vector j is `vectors().subarray(j·n, (j+1)·n)`); O(n³), built once. */
  vectors(): Float64Array {
    if (!this.explicit) {
      const n = this.n;
      const out = new Float64Array(n * n);
      const e = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        e.fill(0);
        e[j] = 1;
        out.set(this.fromEigenbasis(e), j * n);
      }
      this.explicit = out;
    }
    return this.explicit;
  }
}

/** x ← (I − β v vᵀ) x on the indices from `offset`. */
function applyReflector(h: { v: Float64Array; beta: number }, offset: number, x: Float64Array): void {
  if (h.beta === 0) return;
  const v = h.v;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * x[offset + i];
  s *= h.beta;
  for (let i = 0; i < v.length; i++) x[offset + i] -= s * v[i];
}

/** `a` is n×n row-major and symmetric; it is not modified. */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new Error(`symmetricEigen: expected ${n}×${n} = ${n * n} values, got ${a.length}`);
  thisThread ??= { module: kernelModule(), memory: null, kernels: null };
  return fromPieces(eigenPieces(a, n, thisThread));
}

/** The decomposition before sorting: what eigenPieces computes, and a worker thread sends back. */
export interface EigenPieces {
  n: number;
  /** Eigenvalues in tql2's order. */
  d: Float64Array;
  reflectors: { v: Float64Array; beta: number }[];
  rotIndex: Int32Array;
  rotCos: Float64Array;
  rotSin: Float64Array;
}

/** The eigendecomposition from its pieces: the spectrum sorted ascending. */
export function fromPieces({ n, d, reflectors, rotIndex, rotCos, rotSin }: EigenPieces): SymmetricEigen {
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((i, j) => d[i] - d[j]);
  const values = Float64Array.from(order, (i) => d[i]);
  return new SymmetricEigen(n, values, reflectors, rotIndex, rotCos, rotSin, order);
}

/** A thread's kernels: their module, and the memory (grown as needed) a workspace lives in. */
export interface KernelThread {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory | null;
  kernels: Kernels | null;
}

let thisThread: KernelThread | null = null;

/**
 * Householder reduction and QL iterations of the n×n symmetric `a`. Self-contained with
 * tridiagonalize, tql2, Rotations and workspace (no imports): they are the eigen worker's source too.
 */
export function eigenPieces(a: ArrayLike<number>, n: number, thread: KernelThread): EigenPieces {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const reflectors = tridiagonalize(workspace(a, n, thread), n, d, e);
  const rot = new Rotations(n * n);
  tql2(d, e, n, rot);
  return { n, d, reflectors, rotIndex: rot.index(), rotCos: rot.cos(), rotSin: rot.sin() };
}

/** A copy of `a` and two n-vectors in the thread's kernel memory. */
interface Workspace {
  A: Float64Array;
  v: Float64Array;
  p: Float64Array;
  kernels: Kernels;
}

function workspace(a: ArrayLike<number>, n: number, thread: KernelThread): Workspace {
  const page = 65536;
  const bytes = 8 * (n * n + 2 * n);
  if (bytes >= 2 ** 32 - page) throw new Error(`symmetricEigen: a ${n}×${n} matrix exceeds a 32-bit WebAssembly memory`);
  if (!thread.memory) {
    // Shared (the kernels' import is): it grows without moving, up to wasm32's 65,536 pages; at
    // least the one page the module asks for (a 0×0 matrix needs none).
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / page)), maximum: 65536, shared: true });
    thread.kernels = new WebAssembly.Instance(thread.module, { env: { memory } }).exports as unknown as Kernels;
    thread.memory = memory;
  }
  const memory = thread.memory;
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / page));
  const A = new Float64Array(memory.buffer, 0, n * n);
  A.set(a);
  return { A, v: new Float64Array(memory.buffer, 8 * n * n, n), p: new Float64Array(memory.buffer, 8 * (n * n + n), n), kernels: thread.kernels! };
}

/** The source of eigenPieces and what it calls, for a worker thread (eigen-worker.ts). */
export function eigenPiecesSource(): string {
  return [Rotations, tql2, tridiagonalize, workspace, eigenPieces].map((f) => f.toString()).join('\n');
}

/**
 * A ← Hₖ A Hₖ for k = 0…n−3, zeroing column k below the sub-diagonal. Works on the lower
 * triangle only (rows contiguous; half the work of a full update). Leaves the diagonal in d and
 * the sub-diagonal in e (e[i] couples i−1 and i; e[0] = 0), tql2's convention.
 */
function tridiagonalize({ A, v: vw, p, kernels: wasm }: Workspace, n: number, d: Float64Array, e: Float64Array) {
  const reflectors: { v: Float64Array; beta: number }[] = [];
  const [Aat, vAt, pAt] = [A.byteOffset, vw.byteOffset, p.byteOffset];
  for (let k = 0; k + 2 < n; k++) {
    const off = k + 1;
    const m = n - off;
    const v = vw.subarray(0, m); // column k below the diagonal
    for (let i = 0; i < m; i++) v[i] = A[(off + i) * n + k];
    let amax = 0;
    for (let i = 1; i < m; i++) amax = Math.max(amax, Math.abs(v[i]));
    if (amax === 0) {
      e[off] = v[0];
      reflectors.push({ v: v.slice(), beta: 0 });
      continue;
    }
    // A column of tiny entries (rank-deficient statistics, dead units) is taken in units of its
    // largest entry, or their squares underflow and β = 2/0. H = I − βvvᵀ does not change with
    // v's scale; columns of ordinary size are left as they are (the same bits as always).
    const big = Math.max(amax, Math.abs(v[0]));
    const sc = big < 1e-100 || big > 1e100 ? big : 1;
    if (sc !== 1) for (let i = 0; i < m; i++) v[i] /= sc;
    let tail = 0;
    for (let i = 1; i < m; i++) tail += v[i] * v[i];
    const xnorm = Math.sqrt(v[0] * v[0] + tail);
    const alpha = v[0] > 0 ? -xnorm : xnorm;
    v[0] -= alpha;
    const beta = 2 / (v[0] * v[0] + tail);
    // p = β A₂₂ v from the lower triangle: row i gives A[i][j]·v[j] to p[i] and A[i][j]·v[i] to p[j].
    p.fill(0, 0, m);
    wasm.symvLower(Aat, n, off, m, vAt, pAt);
    let pv = 0;
    for (let i = 0; i < m; i++) { p[i] *= beta; pv += p[i] * v[i]; }
    const K = 0.5 * beta * pv;
    for (let i = 0; i < m; i++) p[i] -= K * v[i];
    // A₂₂ ← A₂₂ − v wᵀ − w vᵀ (w = p), lower triangle.
    wasm.syr2Lower(Aat, n, off, m, vAt, pAt);
    e[off] = alpha * sc;
    reflectors.push({ v: v.slice(), beta });
  }
  for (let i = 0; i < n; i++) d[i] = A[i * n + i];
  if (n >= 2) e[n - 1] = A[(n - 1) * n + n - 2];
  e[0] = 0;
  return reflectors;
}

class Rotations {
  private i: Int32Array;
  private c: Float64Array;
  private s: Float64Array;
  private len = 0;

  /**
   * Room for `capacity` rotations up front (QL takes about n² for an n×n matrix): growing by
   * copies touched fresh memory twice over, which costs more than the rotations themselves.
   */
  constructor(capacity: number) {
    const room = Math.max(1024, capacity);
    this.i = new Int32Array(room);
    this.c = new Float64Array(room);
    this.s = new Float64Array(room);
  }

  push(i: number, c: number, s: number): void {
    if (this.len === this.i.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(a.length * 2); b.set(a); return b; };
      this.i = grow(this.i);
      this.c = grow(this.c);
      this.s = grow(this.s);
    }
    this.i[this.len] = i;
    this.c[this.len] = c;
    this.s[this.len] = s;
    this.len++;
  }

  // Views, not copies (the untouched room costs address space only).
  index(): Int32Array { return this.i.subarray(0, this.len); }
  cos(): Float64Array { return this.c.subarray(0, this.len); }
  sin(): Float64Array { return this.s.subarray(0, this.len); }
}

/** Implicit QL on the tridiagonal (d, e), recording each plane rotation instead of accumulating it. */
function tql2(d: Float64Array, e: Float64Array, n: number, rot: Rotations): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60 * n) throw new Error('symmetricEigen: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.sqrt(p * p + e[i] * e[i]);
          e[i + 1] = s * r;
          // p = e[i] = 0 (exact zeros from dead units, rank-deficient statistics): the identity rotation, not 0/0.
          s = r === 0 ? 0 : e[i] / r;
          c = r === 0 ? 1 : p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rot.push(i, c, s);
        }
        p = dl1 === 0 ? 0 : (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
