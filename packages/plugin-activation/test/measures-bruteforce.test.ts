// Every measure against a brute-force reference on random tensors: plain nested loops over
// unpacked 0/1 arrays, and for the singular values an SVD of the explicit centred float matrix.
import { describe, expect, it } from 'vitest';
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { ConfigurationTensor, packRow, rowBytes } from '../src/bits.js';
import { Configurations } from '../src/configurations.js';
import { FieldLayout } from '../src/fields.js';
import { fieldBits } from '../src/units.js';
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

// Units with more than 2 pieces (relu6, max-pool windows, merges…) in bit fields beside 2-piece
// units in bits: the measures over pieces against nested loops over unpacked piece indices, and
// the singular values against an SVD of the explicit centred one-hot matrix (entries 1/√2).
describe('pieces: random configurations with multi-piece units', () => {
  /** Fields of a layout: `counts[i]` units with `pieces[i]` pieces each, laid out as the selection lays layers out. */
  function layoutOf(groups: [number, number][]): { layout: FieldLayout; P: number[] } {
    const fields: { bit: number; width: number; pieces: number }[] = [];
    const P: number[] = [];
    let bit = 0;
    for (const [count, pieces] of groups) {
      const w = fieldBits(pieces);
      bit = Math.ceil(bit / Math.max(8, w)) * Math.max(8, w);
      for (let j = 0; j < count; j++, bit += w) {
        fields.push({ bit, width: w, pieces });
        P.push(pieces);
      }
    }
    return { layout: new FieldLayout(Math.ceil(bit / 32) * 32, fields), P };
  }

  /** Random pieces, `N × D × M` with the first `M2` units 2-piece; each entry changes with probability `flip` per snapshot. */
  function randomPieces(N: number, D: number, M2: number, groups: [number, number][], seed: number, flip: number) {
    const rnd = lcg(seed);
    const { layout, P: P3 } = layoutOf(groups);
    const P = [...new Array<number>(M2).fill(2), ...P3];
    const M = P.length;
    const c = new Configurations(D, M2, layout.units > 0 ? layout : null, 2);
    const all = new Int32Array(N * D * M);
    let cur = Int32Array.from({ length: D * M }, (_, i) => Math.floor(rnd() * P[i % M]));
    for (let n = 0; n < N; n++) {
      if (n > 0) cur = cur.map((v, i) => (rnd() < flip ? Math.floor(rnd() * P[i % M]) : v));
      const bits = M2 > 0 ? new Uint8Array(D * rowBytes(M2)) : null;
      const pieces = layout.units > 0 ? new Uint8Array(D * layout.rowBytes) : null;
      for (let d = 0; d < D; d++) {
        if (bits) packRow(cur, M2, bits, d * rowBytes(M2), d * M);
        for (let j = 0; j < layout.units; j++) layout.write(pieces!, d * layout.rowBytes, j, cur[d * M + M2 + j]);
      }
      c.append({ bits, pieces });
      all.set(cur, n * D * M);
    }
    return { c, all, P, M };
  }

  function bruteSigma(all: Int32Array, N: number, D: number, M: number, m: number, P: number, k: number): number[] {
    const X = new Matrix(N, D * P);
    for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) X.set(n, d * P + all[(n * D + d) * M + m], Math.SQRT1_2);
    const mean = X.mean('column');
    for (let n = 0; n < N; n++) for (let j = 0; j < D * P; j++) X.set(n, j, X.get(n, j) - mean[j]);
    const svd = new SingularValueDecomposition(X, { autoTranspose: true, computeLeftSingularVectors: false, computeRightSingularVectors: false });
    return [...svd.diagonal].sort((a, b) => b - a).slice(0, k);
  }

  const CASES: { N: number; D: number; M2: number; groups: [number, number][]; flip: number }[] = [
    { N: 6, D: 9, M2: 5, groups: [[7, 3], [4, 9], [3, 4]], flip: 0.3 },
    { N: 12, D: 33, M2: 0, groups: [[5, 5], [2, 17], [2, 300]], flip: 0.1 }, // 4-, 8- and 16-bit fields, no bit file
    { N: 30, D: 20, M2: 11, groups: [[3, 3], [2, 5]], flip: 0.02 }, // N > D, rarely changing
    { N: 5, D: 3, M2: 2, groups: [[1, 70000]], flip: 0.5 }, // a 32-bit field
    { N: 4, D: 1, M2: 1, groups: [[1, 3]], flip: 0.5 },
  ];

  describe.each(CASES)('N=$N D=$D M2=$M2 groups=$groups', ({ N, D, M2, groups, flip }) => {
    const { c, all, P, M } = randomPieces(N, D, M2, groups, N * 31 + D, flip);

    it('stores exactly the pieces it was given (and field by field)', () => {
      expect(Array.from(c.unpack())).toEqual(Array.from(all));
      for (let n = 0; n < N; n += Math.max(1, N >> 2)) for (let d = 0; d < D; d++) for (let m = 0; m < M; m++) expect(c.get(n, d, m)).toBe(all[(n * D + d) * M + m]);
      expect(Array.from(c.piecesPerUnit())).toEqual(P);
    });

    it('novelty and switches count the entries whose piece differs', () => {
      const nov = noveltySeries(c);
      for (let n = 0; n < N; n++) {
        let best: number | null = null;
        for (let k = 0; k < n; k++) {
          let dist = 0;
          for (let i = 0; i < D * M; i++) if (all[n * D * M + i] !== all[k * D * M + i]) dist++;
          if (best === null || dist < best) best = dist;
        }
        expect(nov[n].raw).toBe(best);
      }
      const sw = switches(c);
      for (let d = 0; d < D; d++) {
        let ch = 0;
        for (let n = 0; n + 1 < N; n++) for (let m = 0; m < M; m++) if (all[(n * D + d) * M + m] !== all[((n + 1) * D + d) * M + m]) ch++;
        expect(sw.counts[d]).toBe(ch);
        expect(sw.perPoint[d]).toBe(ch / ((N - 1) * M));
      }
    });

    it('singular values equal an SVD of the centred one-hot matrix / √2', () => {
      const k = Math.min(50, N, D);
      const r = singularValueLogProducts(c, { floor: 1e-6 });
      for (let m = 0; m < M; m++) {
        const want = bruteSigma(all, N, D, M, m, P[m], k);
        const got = unitSingularValues(c, m);
        for (let i = 0; i < k; i++) {
          if (want[i] < 1e-9) expect(got[i]).toBeLessThan(1e-6);
          else expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-9 * want[0]);
        }
        expect(r.perUnit[m]).toBeCloseTo(want.reduce((s, x) => s + Math.log(Math.max(x < 1e-9 ? 0 : x, 1e-6)), 0), 7);
      }
    });
  });

  it('2-piece units give the same measures whether stored as bits or as fields (the ReLU measures are today\'s)', () => {
    const { t, bits } = randomTensor(15, 21, 13, 77, 0.5, 0.05);
    const { layout } = layoutOf([[13, 3]]);
    // The same 0/1 pieces in 2-bit fields (piece count stated as 2: the layout allows it).
    const asFields = new FieldLayout(layout.rowBits, Array.from({ length: 13 }, (_, j) => ({ bit: 2 * j, width: 2, pieces: 2 })));
    const c = new Configurations(21, 0, asFields);
    for (let n = 0; n < 15; n++) {
      const bytes = new Uint8Array(21 * asFields.rowBytes);
      for (let d = 0; d < 21; d++) for (let m = 0; m < 13; m++) asFields.write(bytes, d * asFields.rowBytes, m, bits[(n * 21 + d) * 13 + m]);
      c.append({ bits: null, pieces: bytes });
    }
    expect(noveltySeries(c)).toEqual(noveltySeries(t));
    expect(Array.from(switches(c).perPoint)).toEqual(Array.from(switches(t).perPoint));
    const a = singularValueLogProducts(t);
    const b = singularValueLogProducts(c);
    expect(Array.from(b.distinct)).toEqual(Array.from(a.distinct));
    for (let m = 0; m < 13; m++) expect(b.perUnit[m]).toBeCloseTo(a.perUnit[m], 8);
    // And through Configurations with bits, the existing path exactly.
    const wrapped = singularValueLogProducts(Configurations.of(t));
    expect(Array.from(wrapped.perUnit)).toEqual(Array.from(a.perUnit));
  });

  it('field layouts refuse misaligned or overfull fields, and values outside the pieces', () => {
    expect(() => new FieldLayout(32, [{ bit: 1, width: 2, pieces: 3 }])).toThrow(/aligned/);
    expect(() => new FieldLayout(32, [{ bit: 24, width: 16, pieces: 300 }])).toThrow(/aligned/);
    expect(() => new FieldLayout(32, [{ bit: 0, width: 2, pieces: 5 }])).toThrow(/pieces/);
    expect(() => new FieldLayout(32, [{ bit: 0, width: 3, pieces: 5 }])).toThrow(/width/);
    const l = new FieldLayout(32, [{ bit: 0, width: 2, pieces: 3 }]);
    expect(() => l.write(new Uint8Array(4), 0, 0, 3)).toThrow(RangeError);
    expect([3, 4, 5, 16, 17, 256, 257, 65536, 65537].map(fieldBits)).toEqual([2, 2, 4, 4, 8, 8, 16, 16, 32]);
  });
});
