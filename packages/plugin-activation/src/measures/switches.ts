/**
 * Activation-state switches per probe input `d`: how often the units change piece on `d` between
 * consecutive snapshots, as a share of the possible changes,
 *
 *   s_d = Σ_{n=1}^{N−1} #{m : A_n[d, m] ≠ A_{n+1}[d, m]} / ((N−1)·M)
 *
 * (for 2-piece units `||A_n[d,:] − A_{n+1}[d,:]||²`, as for ReLU). With `N < 2` there is no
 * consecutive pair: `possible` is 0 and every rate is `NaN` (0/0).
 */
import type { ConfigurationTensor } from '../bits.js';
import { asConfigurations, type Configurations } from '../configurations.js';
import { differingFields } from '../fields.js';
import { hammingBytes } from './popcount.js';

export interface Switches {
  /** `s_d` in probe order (`D` values in `[0, 1]`). */
  perPoint: Float64Array;
  /** The same values sorted descending, as the paper plots them. */
  sorted: Float64Array;
  /** Raw change counts per probe input (the numerators). */
  counts: Float64Array;
  /** `(N−1)·M`, the denominator. */
  possible: number;
}

export function switches(tensor: ConfigurationTensor | Configurations): Switches {
  const c = asConfigurations(tensor);
  const { probes: D, units: M, snapshots: N } = c;
  const counts = new Float64Array(D);
  for (let n = 1; n < N; n++) {
    if (c.bits) {
      const t = c.bits;
      const bytes = t.storageBytes;
      const B = t.rowBytes;
      const prev = t.snapshotOffset(n - 1);
      const cur = t.snapshotOffset(n);
      // Rows are B bytes and not word-aligned, so count per byte with the table.
      for (let d = 0; d < D; d++) counts[d] += hammingBytes(bytes, cur + d * B, bytes, prev + d * B, B);
    }
    if (c.pieces) {
      const t = c.pieces;
      const words = t.storageWords;
      const W = c.layout!.rowWords;
      // Pieces rows are whole words.
      for (let d = 0; d < D; d++) counts[d] += differingFields(words, n * t.strideWords + d * W, words, (n - 1) * t.strideWords + d * W, 1, c.layout!);
    }
  }
  const possible = Math.max(0, N - 1) * M;
  const perPoint = counts.map((v) => v / possible);
  const sorted = perPoint.slice().sort().reverse();
  return { perPoint, sorted, counts, possible };
}
