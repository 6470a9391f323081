/**
 * Activation-state switches per probe input `d`: how often the units flip on `d` between
 * consecutive snapshots, as a share of the possible flips,
 *
 *   s_d = Σ_{n=1}^{N−1} ||A_n[d,:] − A_{n+1}[d,:]||² / ((N−1)·M).
 *
 * With `N < 2` there is no consecutive pair: `possible` is 0 and every rate is `NaN` (0/0).
 */
import type { ConfigurationTensor } from '../bits.js';
import { hammingBytes } from './popcount.js';

export interface Switches {
  /** `s_d` in probe order (`D` values in `[0, 1]`). */
  perPoint: Float64Array;
  /** The same values sorted descending, as the paper plots them. */
  sorted: Float64Array;
  /** Raw flip counts per probe input (the numerators). */
  counts: Float64Array;
  /** `(N−1)·M`, the denominator. */
  possible: number;
}

export function switches(tensor: ConfigurationTensor): Switches {
  const { probes: D, units: M, rowBytes: B, snapshots: N } = tensor;
  const bytes = tensor.storageBytes;
  const counts = new Float64Array(D);
  for (let n = 1; n < N; n++) {
    const prev = tensor.snapshotOffset(n - 1);
    const cur = tensor.snapshotOffset(n);
    // Rows are B bytes and not word-aligned, so count per byte with the table.
    for (let d = 0; d < D; d++) counts[d] += hammingBytes(bytes, cur + d * B, bytes, prev + d * B, B);
  }
  const possible = Math.max(0, N - 1) * M;
  const perPoint = counts.map((c) => c / possible);
  const sorted = perPoint.slice().sort().reverse();
  return { perPoint, sorted, counts, possible };
}
