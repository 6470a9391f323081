// Hand-made tensors whose measures are worked out in the comments.
import { describe, expect, it } from 'vitest';
import { ConfigurationTensor, packSnapshot } from '../src/bits.js';
import {
  NoveltyTracker,
  noveltyAt,
  noveltySeries,
  switches,
  singularValueLogProducts,
  unitSingularValues,
  DEFAULT_SINGULAR_VALUE_FLOOR,
  popcount32,
  POPCOUNT8,
} from '../src/measures/index.js';

/** Builds a tensor from snapshots written as D rows of '0'/'1' strings of length M. */
function tensorOf(snapshots: string[][]): ConfigurationTensor {
  const D = snapshots[0].length;
  const M = snapshots[0][0].length;
  const t = new ConfigurationTensor(D, M);
  for (const rows of snapshots) t.appendValues(rows.join('').split('').map(Number));
  return t;
}

describe('popcount', () => {
  it('agrees between SWAR words and the byte table', () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(0x80000001)).toBe(2);
    for (const x of [0x12345678, 0xdeadbeef, 0x0f0f0f0f, 0xa5a5a5a5]) {
      expect(popcount32(x)).toBe(POPCOUNT8[x & 255] + POPCOUNT8[(x >>> 8) & 255] + POPCOUNT8[(x >>> 16) & 255] + POPCOUNT8[x >>> 24]);
    }
  });
});

// D = 2 probe inputs, M = 3 units, N = 4 snapshots.
const FOUR = [
  ['100', '010'], // A_0
  ['110', '010'], // A_1: one bit differs from A_0
  ['001', '101'], // A_2: row 0 differs from A_0 in 2 bits, row 1 in 3 → 5; from A_1: 3 + 3 = 6
  ['110', '010'], // A_3 = A_1
];

describe('novelty', () => {
  it('is the Hamming distance to the nearest earlier snapshot, also over D·M = 6', () => {
    const t = tensorOf(FOUR);
    expect(noveltySeries(t)).toEqual([
      { raw: null, normalized: null, nearest: null }, // nothing earlier
      { raw: 1, normalized: 1 / 6, nearest: 0 },
      { raw: 5, normalized: 5 / 6, nearest: 0 }, // min(5, 6)
      { raw: 0, normalized: 0, nearest: 1 }, // a revisit
    ]);
  });

  it('is computed incrementally by the tracker, on its own or on a shared tensor', () => {
    const tracker = new NoveltyTracker({ probes: 2, units: 3 });
    const got = FOUR.map((rows) => tracker.push(packSnapshot(rows.join('').split('').map(Number), 2, 3)).raw);
    expect(got).toEqual([null, 1, 5, 0]);
    expect(tracker.history.map((p) => p.nearest)).toEqual([null, 0, 0, 1]);

    // On a tensor that already holds two snapshots, which it scores at construction.
    const shared = tensorOf(FOUR.slice(0, 2));
    const onShared = new NoveltyTracker(shared);
    expect(onShared.history.map((p) => p.raw)).toEqual([null, 1]);
    expect(onShared.pushValues([0, 0, 1, 1, 0, 1]).raw).toBe(5);
    expect(shared.snapshots).toBe(3);
    expect(noveltyAt(shared, 2).nearest).toBe(0);
    expect(() => noveltyAt(shared, 3)).toThrow(RangeError);
  });
});

describe('switches', () => {
  it('counts flips between consecutive snapshots per probe input, over (N−1)·M = 9', () => {
    // d = 0: 100 → 110 → 001 → 110 flips 1 + 3 + 3 = 7 bits.
    // d = 1: 010 → 010 → 101 → 010 flips 0 + 3 + 3 = 6 bits.
    const s = switches(tensorOf(FOUR));
    expect(s.possible).toBe(9);
    expect(Array.from(s.counts)).toEqual([7, 6]);
    expect(Array.from(s.perPoint)).toEqual([7 / 9, 6 / 9]);
    expect(Array.from(s.sorted)).toEqual([7 / 9, 6 / 9]);
  });

  it('sorts descending while keeping the per-point order', () => {
    // d = 0 never flips, d = 1 flips its one unit at both steps: 0 / 2 and 2 / 2.
    const s = switches(tensorOf([['0', '0'], ['0', '1'], ['0', '0']]));
    expect(Array.from(s.perPoint)).toEqual([0, 1]);
    expect(Array.from(s.sorted)).toEqual([1, 0]);
  });

  it('is 0/0 = NaN with a single snapshot', () => {
    const s = switches(tensorOf([['101']]));
    expect(s.possible).toBe(0);
    expect(Number.isNaN(s.perPoint[0])).toBe(true);
  });
});

describe('singular values', () => {
  // N = 3 snapshots, D = 2 probe inputs, M = 3 units; snapshot n, row d lists units 0, 1, 2.
  // Unit 0: X = [[1,0],[0,1],[0,0]], column means 1/3, C = [[2/3,−1/3],[−1/3,2/3],[−1/3,−1/3]],
  //   CᵀC = [[2/3,−1/3],[−1/3,2/3]], eigenvalues 1 and 1/3 → σ = 1, 1/√3; k = min(50,3,2) = 2;
  //   log-product = log 1 + log(1/√3) = −½·log 3.
  // Unit 1: X all ones, never changes → C = 0 → 2·log(floor).
  // Unit 2: X = [[1,1],[0,0],[0,0]], C has rank 1 with ||C||²_F = 2·(2/3)² + 4·(1/3)² = 4/3,
  //   so σ = 2/√3, 0 → log(2/√3) + log(floor).
  const THREE = [
    ['111', '011'],
    ['010', '110'],
    ['010', '010'],
  ];
  const LOG_FLOOR = Math.log(DEFAULT_SINGULAR_VALUE_FLOOR);

  it('matches the hand computation per unit', () => {
    const t = tensorOf(THREE);
    const u0 = unitSingularValues(t, 0);
    expect(u0.length).toBe(2);
    expect(u0[0]).toBeCloseTo(1, 12);
    expect(u0[1]).toBeCloseTo(1 / Math.sqrt(3), 12);
    expect(Array.from(unitSingularValues(t, 1))).toEqual([0, 0]);
    const u2 = unitSingularValues(t, 2);
    expect(u2[0]).toBeCloseTo(2 / Math.sqrt(3), 12);
    expect(u2[1]).toBe(0);

    const r = singularValueLogProducts(t);
    expect(r.k).toBe(2);
    expect(r.floor).toBe(DEFAULT_SINGULAR_VALUE_FLOOR);
    expect(r.perUnit[0]).toBeCloseTo(-0.5 * Math.log(3), 12);
    expect(r.perUnit[1]).toBe(2 * LOG_FLOOR);
    expect(r.perUnit[2]).toBeCloseTo(Math.log(2 / Math.sqrt(3)) + LOG_FLOOR, 12);
    expect(Array.from(r.sorted)).toEqual([r.perUnit[0], r.perUnit[2], r.perUnit[1]]);
    expect(Array.from(r.distinct)).toEqual([3, 1, 2]);
  });

  it('handles repeated snapshots through multiplicities', () => {
    // N = 4, D = 1: X = [1,0,0,0]ᵀ, mean 1/4, C = [3/4,−1/4,−1/4,−1/4]ᵀ, σ = √(9/16 + 3/16) = √3/2.
    // Two distinct rows with weights 1 and 3.
    const t = tensorOf([['1'], ['0'], ['0'], ['0']]);
    const r = singularValueLogProducts(t);
    expect(r.k).toBe(1);
    expect(r.distinct[0]).toBe(2);
    expect(r.perUnit[0]).toBeCloseTo(Math.log(Math.sqrt(3) / 2), 14);
  });

  it('scores a unit that never changes k·log(floor), for any floor', () => {
    // N = 5, D = 4 → k = 4. Unit 0 constant (pattern 1010 on every snapshot), unit 1 varies.
    const rows = ['10', '01', '11', '00'];
    const t = tensorOf([0, 1, 2, 3, 4].map((n) => rows.map((r, d) => r[0] + String((n + d) % 2))));
    for (const floor of [1e-6, 1e-3, 1e-12]) {
      const r = singularValueLogProducts(t, { floor });
      expect(r.k).toBe(4);
      expect(r.perUnit[0]).toBe(4 * Math.log(floor));
      expect(r.perUnit[1]).toBeGreaterThan(4 * Math.log(floor));
    }
    expect(singularValueLogProducts(t, { count: 2 }).k).toBe(2);
    expect(() => singularValueLogProducts(t, { floor: 0 })).toThrow(RangeError);
  });

  it('gives log(floor) per value for a single snapshot (the centred matrix is 0)', () => {
    const r = singularValueLogProducts(tensorOf([['10', '11', '01']]));
    expect(r.k).toBe(1);
    expect(Array.from(r.perUnit)).toEqual([LOG_FLOOR, LOG_FLOOR]);
  });
});
