import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import wabt from 'wabt';
import { addSparseRows, addUpperToSums, packSparseSums, reserveRows, sparseKernelMemory, sparseLayout, unpackSparseSums, type SparseRows } from '../src/quadratic/sparse-kernel.js';
import { kernelMemory, kernels, KERNELS_WASM } from '../src/wasm/kernels.js';

/** The loop the kernel replaced (neuron by neuron, sample by sample), in JavaScript: the reference for its bits. */
function addSparseRowsJs(A: Float64Array, K: number, q: number, { S, idx, val, start, n }: SparseRows): void {
  for (let a = 0; a < K; a++) {
    for (let s = 0; s < S; s++) {
      const w = n[s * K + a];
      if (w === 0) continue;
      for (let i = start[s]; i < start[s + 1]; i++) {
        for (let c = i; c < start[s + 1]; c++) A[(a * q + idx[i]) * q + idx[c]] += w * val[i] * val[c];
      }
    }
  }
}

/** S samples of fan-in q, a `density` of them nonzero, weights zero on about half the (sample, neuron) pairs. */
function rows(S: number, K: number, q: number, density: number, seed: number): SparseRows {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  const idx: number[] = [];
  const val: number[] = [];
  const start = [0];
  for (let s = 0; s < S; s++) {
    for (let j = 0; j < q; j++) if (rand() < density || j === q - 1) { idx.push(j); val.push(j === q - 1 ? 1 : Math.fround(rand() * 2 - 0.5)); }
    start.push(idx.length);
  }
  const n = Float32Array.from({ length: S * K }, () => (rand() < 0.5 ? 0 : rand()));
  return { S, idx: Int32Array.from(idx), val: Float64Array.from(val), start: Int32Array.from(start), n };
}

describe('the WebAssembly kernels', () => {
  it('their embedded bytes are kernels.wat assembled (wabt)', async () => {
    const source = readFileSync(new URL('../src/wasm/kernels.wat', import.meta.url), 'utf8');
    const module = (await wabt()).parseWat('kernels.wat', source, { threads: true, simd: true });
    const bytes = Buffer.from(module.toBinary({}).buffer).toString('base64');
    module.destroy();
    // On a change to the .wat, paste the new bytes into KERNELS_WASM.
    expect(KERNELS_WASM).toBe(bytes);
  });

  for (const K of [5, 10, 13]) it(`the sparse rows kernel adds the same float64 bits as the JavaScript loop, buffer after buffer, growing its memory for larger buffers (K = ${K})`, () => {
    const q = 97;
    const layout = sparseLayout(K, q);
    expect(layout.Kp % 10).toBe(0);
    const memory = sparseKernelMemory(layout)!;
    const kernel = kernels(memory);
    const A = new Float64Array(memory.buffer, 0, K * q * q);
    const expected = new Float64Array(K * q * q);
    const pages = memory.buffer.byteLength;
    for (const [S, density, seed] of [[4, 0.2, 1], [300, 0.5, 2], [7, 0.05, 3]]) {
      const r = rows(S, K, q, density, seed);
      addSparseRowsJs(expected, K, q, r);
      addSparseRows(memory, kernel, reserveRows(memory, layout, r)!, layout, r);
    }
    expect(memory.buffer.byteLength).toBeGreaterThan(pages); // the 300-sample buffer needed more room
    expect(A.every((v) => v === 0)).toBe(true); // the totals are written from the sums when asked
    unpackSparseSums(memory, layout);
    expect(expected.some((v) => v !== 0)).toBe(true);
    // The upper triangles bit for bit, the lower ones their mirror.
    for (let a = 0; a < K; a++) {
      for (let i = 0; i < q; i++) {
        for (let j = 0; j < q; j++) {
          const at = (a * q + i) * q + j;
          expect(Object.is(A[at], i <= j ? expected[at] : expected[(a * q + j) * q + i])).toBe(true);
        }
      }
    }
    // Device upper triangles land on the same entries; packing the totals back gives the sums again.
    const device = Float64Array.from({ length: K * q * q }, (_, i) => (i % 7) - 3);
    addUpperToSums(memory, layout, device);
    const sums = Float64Array.from(new Float64Array(memory.buffer, layout.sums, q * q * layout.Kp));
    unpackSparseSums(memory, layout);
    for (let a = 0; a < K; a++) for (let i = 0; i < q; i++) for (let j = i; j < q; j++) expect(A[(a * q + i) * q + j]).toBe(expected[(a * q + i) * q + j] + device[(a * q + i) * q + j]);
    packSparseSums(memory, layout);
    expect(new Float64Array(memory.buffer, layout.sums, q * q * layout.Kp)).toEqual(sums);
  });

  it('the sparse rows are checked before the kernel runs: a clear error, nothing added', () => {
    const K = 2, q = 8;
    const layout = sparseLayout(K, q);
    const memory = sparseKernelMemory(layout)!;
    const kernel = kernels(memory);
    const n = Float32Array.from([1, 1]);
    const bad = [
      { S: 1, idx: Int32Array.from([0]), val: Float64Array.from([1]), start: Int32Array.from([0, 2 ** 28]), n },
      { S: 1, idx: Int32Array.from([3, 8]), val: Float64Array.from([1, 1]), start: Int32Array.from([0, 2]), n },
      { S: 1, idx: Int32Array.from([3, 3]), val: Float64Array.from([1, 1]), start: Int32Array.from([0, 2]), n },
    ];
    for (const r of bad) expect(() => addSparseRows(memory, kernel, reserveRows(memory, layout, r)!, layout, r)).toThrow(/sparse rows: /);
    expect(new Float64Array(memory.buffer, layout.sums, q * q * layout.Kp).every((v) => v === 0)).toBe(true);
  });

  for (const n of [2, 3, 8, 61]) it(`the Householder step kernels give the JavaScript loops' bits (n = ${n}: pairs and a remainder)`, () => {
    // One reduction step at every k of symmetricEigen's tridiagonalisation, in JavaScript and in
    // the kernels, on the same random symmetric matrix and reflector.
    let state = n;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
    const memory = kernelMemory(8 * (n * n + 2 * n))!;
    const wasm = kernels(memory);
    const A = new Float64Array(memory.buffer, 0, n * n);
    const v = new Float64Array(memory.buffer, 8 * n * n, n);
    const p = new Float64Array(memory.buffer, 8 * (n * n + n), n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = rand();
    const Aj = Float64Array.from(A);
    const pj = new Float64Array(n);
    for (let off = 0; off < n; off++) {
      const m = n - off;
      for (let i = 0; i < m; i++) v[i] = rand();
      p.fill(0);
      pj.fill(0);
      wasm.symvLower(A.byteOffset, n, off, m, v.byteOffset, p.byteOffset);
      for (let i = 0; i < m; i++) {
        const row = (off + i) * n + off;
        let s = Aj[row + i] * v[i];
        for (let j = 0; j < i; j++) { s += Aj[row + j] * v[j]; pj[j] += Aj[row + j] * v[i]; }
        pj[i] += s;
      }
      expect(p).toEqual(pj);
      wasm.syr2Lower(A.byteOffset, n, off, m, v.byteOffset, p.byteOffset);
      for (let i = 0; i < m; i++) {
        const row = (off + i) * n + off;
        for (let j = 0; j <= i; j++) Aj[row + j] -= v[i] * pj[j] + pj[i] * v[j];
      }
      expect(A).toEqual(Aj);
    }
  });

  for (const n of [0, 1, 5, 8, 1001]) it(`dot (four partial sums) and axpy (two lanes) on n = ${n}`, () => {
    let state = n + 3;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
    const memory = kernelMemory(8 * 2 * n)!;
    const wasm = kernels(memory);
    const x = new Float64Array(memory.buffer, 0, n).map(() => rand());
    const y = new Float64Array(memory.buffer, 8 * n, n);
    const xs = new Float64Array(memory.buffer, 0, n);
    xs.set(x);
    for (let i = 0; i < n; i++) y[i] = rand();
    // The documented order: lanes i mod 4, joined (s₀ + s₂) + (s₁ + s₃), then the tail.
    const s = [0, 0, 0, 0];
    const quads = n - (n % 4);
    for (let i = 0; i < quads; i++) s[i % 4] += x[i] * y[i];
    let expected = (s[0] + s[2]) + (s[1] + s[3]);
    for (let i = quads; i < n; i++) expected += x[i] * y[i];
    expect(wasm.dot(xs.byteOffset, y.byteOffset, n)).toBe(expected);
    const ys = Float64Array.from(y);
    for (let i = 0; i < n; i++) ys[i] += 0.37 * x[i];
    wasm.axpy(y.byteOffset, 0.37, xs.byteOffset, n);
    expect(y).toEqual(ys);
  });

  it('rows beyond the memory\'s maximum are declined (the device then forms that buffer\'s A), smaller ones still fit', () => {
    const K = 2, q = 50;
    const layout = sparseLayout(K, q);
    const memory = kernelMemory(layout.rows, layout.rows + 65536)!; // one page of room for rows
    expect(reserveRows(memory, layout, rows(2000, K, q, 0.5, 4))).toBeNull(); // ≈ 0.6 MB of rows
    expect(reserveRows(memory, layout, rows(10, K, q, 0.5, 5))).not.toBeNull();
  });

  it('the sparse statistics decline totals beyond a 32-bit memory', () => {
    expect(sparseKernelMemory(sparseLayout(50, 3000))).toBeNull(); // 3.6 GB of totals and as much of sums: past 4 GiB
  });
});
