/**
 * Distinct rows among `N` bitsets of `W` words, with how often each occurs. A unit that rarely
 * flips repeats its configuration across many snapshots, and the singular values only depend on
 * the distinct rows and their counts (see centred-gram.ts), so this shrinks the eigenproblem.
 */

export interface DistinctRows {
  /** Word offset of each distinct row's first occurrence, in order of first occurrence. */
  rowStart: Int32Array;
  /** Occurrences of each distinct row; sums to `N`. */
  weight: Float64Array;
}

/** Rows `n = 0..N−1` start at word `base + n·W` of `bits`. */
export function distinctRows(bits: Uint32Array, base: number, N: number, W: number): DistinctRows {
  const starts: number[] = [];
  const weights: number[] = [];
  const byHash = new Map<number, number[]>(); // hash → indices into starts
  for (let n = 0; n < N; n++) {
    const start = base + n * W;
    let h = 0x811c9dc5; // FNV-1a over words
    for (let i = 0; i < W; i++) h = Math.imul(h ^ bits[start + i], 0x01000193);
    let bucket = byHash.get(h);
    if (!bucket) byHash.set(h, (bucket = []));
    let found = -1;
    for (const k of bucket) {
      if (equalWords(bits, starts[k], start, W)) {
        found = k;
        break;
      }
    }
    if (found >= 0) {
      weights[found]++;
    } else {
      bucket.push(starts.length);
      starts.push(start);
      weights.push(1);
    }
  }
  return { rowStart: Int32Array.from(starts), weight: Float64Array.from(weights) };
}

function equalWords(bits: Uint32Array, a: number, b: number, W: number): boolean {
  for (let i = 0; i < W; i++) if (bits[a + i] !== bits[b + i]) return false;
  return true;
}
