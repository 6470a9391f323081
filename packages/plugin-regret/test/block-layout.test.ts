import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@taylorlens/core';
import { addBlockSymmetric, addUnpackedKron, blockLayout, blockOuterRows, packedIndex, packedIndices, packRowsOf } from '../src/quadratic/packed.js';

beforeAll(async () => { await selectBackend('cpu'); });

describe('the block layout of per-sample outer products', () => {
  for (const [q, blocks] of [[1, 4], [3, 4], [7, 2], [51, 4], [31, 8], [10, 1]]) it(`q = ${q}, ${blocks} blocks: the rows rebuild x̃x̃ᵀ exactly, each entry once`, () => {
    const x = tf.tensor2d(Array.from({ length: q }, (_, i) => (i % 3) - 0.25 * i + 0.1), [1, q]);
    const layout = blockLayout(q, blocks);
    const rows = tf.tidy(() => blockOuterRows(x, blocks).dataSync());
    expect(rows.length).toBe(layout.rows);
    // Each unordered pair {i, j} appears once (twice within a diagonal block: (i, j) and (j, i)).
    const seen = new Map<string, number>();
    for (let r = 0; r < layout.rows; r++) {
      const key = [layout.pairs[2 * r], layout.pairs[2 * r + 1]].join(',');
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const full = new Float64Array(q * q);
    addBlockSymmetric(rows, 1, layout, full);
    const xs = x.dataSync();
    for (let i = 0; i < q; i++) for (let j = 0; j < q; j++) expect(full[i * q + j]).toBe(Math.fround(xs[i] * xs[j]));
    if (blocks === 4 && q === 51) expect(layout.rows / (q * q)).toBeLessThan(0.63);
    x.dispose();
  });

  it('the Kronecker unpacking gives A[(i,j),(i′,j′)] = S[(i,i′),(j≤j′)] on every entry, mirrored rows included', () => {
    const q = 5, p = 3;
    const layout = blockLayout(q, 2);
    const mp = (p * (p + 1)) / 2;
    // S's row (i, i′) and packed column (j, j′) hold a value that names them: i·1000 + i′·100 + j·10 + j′ (i ≤ i′ symmetric).
    const S = new Float64Array(layout.rows * mp);
    const code = (i: number, i2: number, j: number, j2: number) => Math.min(i, i2) * 1000 + Math.max(i, i2) * 100 + Math.min(j, j2) * 10 + Math.max(j, j2);
    for (let r = 0; r < layout.rows; r++) for (let j = 0; j < p; j++) for (let j2 = j; j2 < p; j2++) S[r * mp + packedIndex(p, j, j2)] = code(layout.pairs[2 * r], layout.pairs[2 * r + 1], j, j2);
    const P = q * p;
    const A = new Float64Array(P * P);
    addUnpackedKron(S, layout, p, A);
    for (let i = 0; i < q; i++) for (let j = 0; j < p; j++) for (let i2 = 0; i2 < q; i2++) for (let j2 = 0; j2 < p; j2++) {
      expect(A[(i * p + j) * P + i2 * p + j2]).toBe(code(i, i2, j, j2));
    }
  });
});

describe('packed upper triangles of per-sample Grams', () => {
  for (const backend of ['cpu', 'wasm']) it(`the host copy gives the gather's values (${backend})`, async () => {
    await selectBackend(backend);
    for (const n of [1, 2, 7, 30]) {
      const M = tf.randomNormal([5, n, n], 0, 1, 'float32', n) as tf.Tensor3D;
      const idx = packedIndices(n);
      const packed = packRowsOf(M, idx);
      const gathered = tf.gather(tf.reshape(M, [5, n * n]), idx.flat, 1);
      expect(packed.shape).toEqual([5, (n * (n + 1)) / 2]);
      expect(Array.from(packed.dataSync())).toEqual(Array.from(gathered.dataSync()));
      // Row s's entries are M[s][i][j], i ≤ j, row by row.
      const m = M.arraySync();
      const s = 4;
      const row = packed.arraySync()[s] as number[];
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) expect(row[packedIndex(n, i, j)]).toBe(m[s][i][j]);
      tf.dispose([M, packed, gathered, idx.I, idx.J, idx.flat]);
    }
    await selectBackend('cpu');
  });
});
