/**
 * The nonzero rows of `a` and the submatrix on them (`a` itself when there are no zero rows).
 * Self-contained on purpose: it is also part of the eigen worker's source.
 */
export function supportSplit(a: Float64Array, n: number): { n: number; support: Int32Array; zeros: Int32Array; sub: Float64Array } {
  const support: number[] = [];
  const zeros: number[] = [];
  for (let i = 0; i < n; i++) {
    let j = i * n;
    const end = j + n;
    while (j < end && a[j] === 0) j++;
    (j < end ? support : zeros).push(i);
  }
  const m = support.length;
  let sub = a;
  if (zeros.length > 0) {
    // Row by row, each run of consecutive support columns as one copy.
    const runs: [number, number, number][] = []; // [column in a, column in sub, length]
    for (let c = 0; c < m; c++) {
      const run = runs.at(-1);
      if (run && support[c] === run[0] + run[2]) run[2]++;
      else runs.push([support[c], c, 1]);
    }
    sub = new Float64Array(m * m);
    for (let r = 0; r < m; r++) {
      const row = support[r] * n;
      for (const [from, to, length] of runs) sub.set(a.subarray(row + from, row + from + length), r * m + to);
    }
  }
  return { n, support: Int32Array.from(support), zeros: Int32Array.from(zeros), sub };
}
