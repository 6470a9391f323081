import { describe, expect, it } from 'vitest';
import { ConfigurationTensor, packRow, packSnapshot, rowBytes, unpackRows } from '../src/bits.js';

/** Deterministic generator (LCG) so failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('packing', () => {
  it('puts bit m in bit m%8 of byte m>>3, least significant first', () => {
    // M = 10: units 0, 3 and 9 active → byte 0 = 0b0000_1001 = 9, byte 1 = bit 1 = 2.
    const row = [1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    expect(Array.from(packRow(row))).toEqual([9, 2]);
    expect(rowBytes(10)).toBe(2);
    expect(rowBytes(8)).toBe(1);
    expect(rowBytes(1)).toBe(1);
  });

  it('counts a unit active only when its pre-activation is strictly positive', () => {
    const pre = new Float32Array([0, -0, 1e-30, -1, NaN, Infinity, -Infinity, 0.5]);
    // Active: 1e-30 (bit 2), Infinity (bit 5), 0.5 (bit 7) → 4 + 32 + 128 = 164.
    expect(Array.from(packRow(pre))).toEqual([164]);
  });

  it('round-trips random pre-activations and 0/1 flags for several shapes', () => {
    const rnd = lcg(1);
    for (const [D, M] of [[1, 1], [1, 8], [3, 7], [4, 9], [5, 16], [2, 33], [17, 180]]) {
      const pre = Float32Array.from({ length: D * M }, () => rnd() * 2 - 1);
      const flags = Uint8Array.from(pre, (v) => (v > 0 ? 1 : 0));
      const packed = packSnapshot(pre, D, M);
      expect(packed.length).toBe(D * rowBytes(M));
      expect(unpackRows(packed, D, M)).toEqual(flags);
      expect(packSnapshot(flags, D, M)).toEqual(packed);
    }
  });

  it('rejects a snapshot of the wrong size', () => {
    expect(() => packSnapshot(new Float32Array(5), 2, 3)).toThrow(RangeError);
  });
});

describe('ConfigurationTensor', () => {
  it('appends, reads bits back and grows past its initial capacity', () => {
    const rnd = lcg(2);
    const D = 3;
    const M = 11;
    const t = new ConfigurationTensor(D, M, 1);
    const all: Uint8Array[] = [];
    for (let n = 0; n < 100; n++) {
      const flags = Uint8Array.from({ length: D * M }, () => (rnd() < 0.3 ? 1 : 0));
      all.push(flags);
      if (n % 2) t.appendValues(flags);
      else t.append(packSnapshot(flags, D, M));
    }
    expect(t.snapshots).toBe(100);
    for (let n = 0; n < 100; n++) {
      expect(t.unpack(n)).toEqual(all[n]);
      for (let d = 0; d < D; d++) for (let m = 0; m < M; m++) expect(t.get(n, d, m)).toBe(all[n][d * M + m]);
    }
    const whole = t.unpack();
    expect(whole.length).toBe(100 * D * M);
    expect(whole.subarray(42 * D * M, 43 * D * M)).toEqual(all[42]);
  });

  it('grows geometrically: 1000 appends reallocate about log2(1000) times', () => {
    const t = new ConfigurationTensor(2, 5, 1);
    const packed = packSnapshot([1, 0, 1, 0, 1, 0, 0, 0, 0, 1], 2, 5);
    let reallocations = 0;
    let storage = t.storageWords;
    for (let n = 0; n < 1000; n++) {
      t.append(packed);
      if (t.storageWords !== storage) {
        reallocations++;
        storage = t.storageWords;
      }
    }
    expect(reallocations).toBe(10); // capacities 2, 4, …, 1024
    expect(t.get(999, 1, 4)).toBe(1);
  });

  it('ignores padding bits past M on the way in', () => {
    const t = new ConfigurationTensor(2, 3);
    t.append(new Uint8Array([0xff, 0b1111_1010])); // rows 0b111 and 0b010 once the padding is dropped
    expect(Array.from(t.snapshot(0))).toEqual([0b111, 0b010]);
    expect(Array.from(t.unpack(0))).toEqual([1, 1, 1, 0, 1, 0]);
  });

  it('rejects bad shapes and indices', () => {
    expect(() => new ConfigurationTensor(0, 3)).toThrow(RangeError);
    expect(() => new ConfigurationTensor(2, 0)).toThrow(RangeError);
    const t = new ConfigurationTensor(2, 3);
    expect(() => t.append(new Uint8Array(3))).toThrow(RangeError);
    t.append(new Uint8Array(2));
    expect(() => t.get(1, 0, 0)).toThrow(RangeError);
    expect(() => t.get(0, 2, 0)).toThrow(RangeError);
    expect(() => t.get(0, 0, 3)).toThrow(RangeError);
    expect(() => t.snapshot(1)).toThrow(RangeError);
  });
});

describe('npy payload', () => {
  it('is C-order uint8 (N, D, ceil(M/8)) with numpy little-endian bit order', () => {
    const rnd = lcg(3);
    // D·B = 3·2 = 6 bytes per snapshot: not a multiple of 4, so the export drops internal padding.
    const [N, D, M] = [5, 3, 13];
    const t = new ConfigurationTensor(D, M);
    for (let n = 0; n < N; n++) t.appendValues(Float32Array.from({ length: D * M }, () => rnd() - 0.5));
    const p = t.toNpyPayload();
    expect(p.dtype).toBe('uint8');
    expect(p.shape).toEqual([N, D, 2]);
    expect(p.data.length).toBe(N * D * 2);
    // numpy.unpackbits(arr, axis=2, bitorder='little')[n, d, m] == (arr[n, d, m >> 3] >> (m % 8)) & 1
    for (let n = 0; n < N; n++)
      for (let d = 0; d < D; d++)
        for (let m = 0; m < M; m++) expect((p.data[(n * D + d) * 2 + (m >> 3)] >> (m & 7)) & 1).toBe(t.get(n, d, m));
    const back = ConfigurationTensor.fromNpyPayload(p, M);
    expect(back.snapshots).toBe(N);
    expect(back.unpack()).toEqual(t.unpack());
    expect(back.toNpyPayload().data).toEqual(p.data);
  });

  it('round-trips when snapshots are already word-aligned (D·B a multiple of 4)', () => {
    const t = new ConfigurationTensor(4, 8);
    t.appendValues(Uint8Array.from({ length: 32 }, (_, i) => i % 3 === 0 ? 1 : 0));
    t.appendValues(new Uint8Array(32).fill(1));
    const p = t.toNpyPayload();
    expect(p.shape).toEqual([2, 4, 1]);
    expect(Array.from(p.data.subarray(4))).toEqual([255, 255, 255, 255]);
    expect(ConfigurationTensor.fromNpyPayload(p, 8).unpack()).toEqual(t.unpack());
  });

  it('refuses payloads that do not match M or their shape', () => {
    const data = new Uint8Array(6);
    expect(() => ConfigurationTensor.fromNpyPayload({ shape: [1, 3, 2], data }, 8)).toThrow(RangeError);
    expect(() => ConfigurationTensor.fromNpyPayload({ shape: [2, 3, 2], data }, 13)).toThrow(RangeError);
    expect(() => ConfigurationTensor.fromNpyPayload({ dtype: 'float32', shape: [1, 3, 2], data }, 13)).toThrow(TypeError);
    expect(() => ConfigurationTensor.fromNpyPayload({ shape: [3, 2], data }, 13)).toThrow(RangeError);
  });
});
