// Every measure against a brute-force reference on random tensors: plain nested loops over
// unpacked 0/1 arrays, and for the singular values an SVD of the explicit centred float matrix.
import { describe, expect, it } from 'vitest';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { ConfigurationTensor } from '../src/bits.js';
import {
  bitsetWords,
  centredGram,
  noveltySeries,
  singularValueLogProducts,
  switches,
  unitBitsets,
  unitSingularValues,
} from '../src/measures/index.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * Random tensor: either independent bits with P(1) = p, or (flip given) a random start where
 * each bit flips with probability `flip` per snapshot, the realistic "rarely changes" case.
 */
function randomTensor(N: number, D: number, M: number, seed: number, p = 0.5, flip?: number): { t: ConfigurationTensor; bits: Uint8Array } {
  const rnd = lcg(seed);
  const t = new ConfigurationTensor(D, M, 2);
  const bits = new Uint8Array(N * D * M);
  let cur = Uint8Array.from({ length: D * M }, () => (rnd() < p ? 1 : 0));
  for (let n = 0; n < N; n++) {
    if (n > 0) cur = cur.map((v) => (flip === undefined ? (rnd() < p ? 1 : 0) : rnd() < flip ? 1 - v : v));
    // Feed pre-activations, not flags: active must mean > 0.
    t.appendValues(Float32Array.from(cur, (v) => (v ? 0.1 + rnd() : -rnd())));
    bits.set(cur, n * D * M);
  }
  return { t, bits };
}

const at = (bits: Uint8Array, D: number, M: number, n: number, d: number, m: number) => bits[(n * D + d) * M + m];

function bruteNovelty(bits: Uint8Array, N: number, D: number, M: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let n = 0; n < N; n++) {
    let best: number | null = null;
    for (let k = 0; k < n; k++) {
      let dist = 0;
      for (let d = 0; d < D; d++) for (let m = 0; m < M; m++) dist += at(bits, D, M, n, d, m) !== at(bits, D, M, k, d, m) ? 1 : 0;
      if (best === null || dist < best) best = dist;
    }
    out.push(best);
  }
  return out;
}

function bruteSwitches(bits: Uint8Array, N: number, D: number, M: number): number[] {
  const out: number[] = [];
  for (let d = 0; d < D; d++) {
    let c = 0;
    for (let n = 0; n + 1 < N; n++) for (let m = 0; m < M; m++) c += at(bits, D, M, n, d, m) !== at(bits, D, M, n + 1, d, m) ? 1 : 0;
    out.push(c / ((N - 1) * M));
  }
  return out;
}

/** Time-centred `N × D` float matrix of unit m. */
function centred(bits: Uint8Array, N: number, D: number, M: number, m: number): Matrix {
  const X = new Matrix(N, D);
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) X.set(n, d, at(bits, D, M, n, d, m));
  const mean = X.mean('column');
  for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) X.set(n, d, X.get(n, d) - mean[d]);
  return X;
}

function bruteSingularValues(bits: Uint8Array, N: number, D: number, M: number, m: number, k: number): number[] {
  const svd = new SingularValueDecomposition(centred(bits, N, D, M, m), {
    autoTranspose: true,
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
  });
  return [...svd.diagonal].sort((a, b) => b - a).slice(0, k);
}

const SHAPES: { N: number; D: number; M: number; p?: number; flip?: number }[] = [
  { N: 1, D: 5, M: 7 }, // one snapshot
  { N: 2, D: 3, M: 9 }, // two snapshots, M not a multiple of 8
  { N: 2, D: 1, M: 1 },
  { N: 7, D: 1, M: 13 }, // one probe input
  { N: 5, D: 37, M: 17 },
  { N: 12, D: 64, M: 8 },
  { N: 30, D: 20, M: 33 }, // N > D
  { N: 60, D: 70, M: 10, p: 0.1 }, // N > 50: only the first 50 singular values
  { N: 40, D: 45, M: 12, flip: 0.02 }, // rarely flips: repeated snapshots, low rank
  { N: 25, D: 9, M: 20, flip: 0.005 },
];

describe.each(SHAPES)('random tensor N=$N D=$D M=$M p=$p flip=$flip', ({ N, D, M, p, flip }) => {
  const { t, bits } = randomTensor(N, D, M, N * 1000 + D * 10 + M, p, flip);

  it('stores exactly the bits it was given', () => {
    expect(t.unpack()).toEqual(bits);
    expect(ConfigurationTensor.fromNpyPayload(t.toNpyPayload(), M).unpack()).toEqual(bits);
  });

  it('novelty equals the nested-loop minimum', () => {
    const got = noveltySeries(t);
    const want = bruteNovelty(bits, N, D, M);
    expect(got.map((x) => x.raw)).toEqual(want);
    expect(got.map((x) => x.normalized)).toEqual(want.map((x) => (x === null ? null : x / (D * M))));
  });

  it('switches equal the nested-loop counts', () => {
    const got = switches(t);
    if (N < 2) {
      expect(got.perPoint.every(Number.isNaN)).toBe(true);
      return;
    }
    const want = bruteSwitches(bits, N, D, M);
    expect(Array.from(got.perPoint)).toEqual(want);
    expect(Array.from(got.sorted)).toEqual([...want].sort((a, b) => b - a));
  });

  it('the centring algebra on co-activation counts gives C·Cᵀ', () => {
    // All weights 1: no deduplication, so the result is the full N × N matrix.
    const W = bitsetWords(D);
    for (const m of [0, M - 1]) {
      const bitsets = unitBitsets(t, m);
      const G = centredGram(bitsets, Int32Array.from({ length: N }, (_, n) => n * W), new Float64Array(N).fill(1), W);
      const C = centred(bits, N, D, M, m);
      const want = C.mmul(C.transpose());
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) expect(G[i * N + j]).toBeCloseTo(want.get(i, j), 10);
    }
  });

  it('singular values and log-products equal an SVD of the explicit centred matrix', () => {
    const k = Math.min(50, N, D);
    const floor = 1e-6;
    const r = singularValueLogProducts(t, { floor });
    expect(r.k).toBe(k);
    for (let m = 0; m < M; m++) {
      const want = bruteSingularValues(bits, N, D, M, m, k);
      const got = unitSingularValues(t, m);
      expect(got.length).toBe(k);
      for (let i = 0; i < k; i++) {
        // The SVD leaves ~1e-14 where the Gram route reports an exact 0: both are "zero".
        if (want[i] < 1e-9) expect(got[i]).toBeLessThan(1e-6);
        else expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-9 * want[0]);
      }
      const wantLog = want.reduce((s, x) => s + Math.log(Math.max(x, floor)), 0);
      expect(r.perUnit[m]).toBeCloseTo(wantLog, 8);
    }
    expect(Array.from(r.sorted)).toEqual(Array.from(r.perUnit).sort((a, b) => b - a));
    // The rarely-flipping tensors do exercise the repeated-snapshot path.
    if (flip !== undefined) expect(Math.min(...r.distinct)).toBeLessThan(N);
  });
});
