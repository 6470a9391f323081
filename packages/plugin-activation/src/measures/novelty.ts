/**
 * Novelty of an activation configuration: the Hamming distance from snapshot `n` to the nearest
 * earlier one, `min_{k<n} ||A_n − A_k||²_F` (for 0/1 matrices the squared Frobenius norm of the
 * difference counts the differing bits), raw and divided by `D·M`.
 *
 * Snapshots are 0-based here (`n = 0..N−1`). Snapshot 0 has no earlier configuration, so its
 * novelty is `null` (not 0 and not `D·M`: there is nothing to compare against).
 */
import { ConfigurationTensor, type ActivationValues } from '../bits.js';
import { hammingWords, hammingWordsBelow } from './popcount.js';

export interface NoveltyPoint {
  /** Differing bits to the nearest earlier snapshot; `null` for the first snapshot. */
  raw: number | null;
  /** `raw / (D·M)`, in `[0, 1]`; `null` for the first snapshot. */
  normalized: number | null;
  /** Index of that nearest earlier snapshot (the latest one among ties); `null` for the first. */
  nearest: number | null;
}

/** Hamming distance between snapshots `a` and `b` of `tensor`. */
export function snapshotHamming(tensor: ConfigurationTensor, a: number, b: number): number {
  const w = tensor.strideWords;
  // Padding bits are zero in every snapshot, so they never count.
  return hammingWords(tensor.storageWords, a * w, tensor.storageWords, b * w, w);
}

/** Novelty of snapshot `n` of `tensor`. Costs `n` snapshot comparisons, often cut short. */
export function noveltyAt(tensor: ConfigurationTensor, n: number): NoveltyPoint {
  if (!Number.isInteger(n) || n < 0 || n >= tensor.snapshots) throw new RangeError(`snapshot ${n} outside 0..${tensor.snapshots - 1}`);
  if (n === 0) return { raw: null, normalized: null, nearest: null };
  const words = tensor.storageWords;
  const w = tensor.strideWords;
  let best = Infinity;
  let nearest = -1;
  // Newest first: during training the previous snapshot is usually the nearest, which makes the
  // bound tight early and lets most other comparisons stop after a few blocks.
  for (let k = n - 1; k >= 0 && best > 0; k--) {
    const dist = hammingWordsBelow(words, n * w, words, k * w, w, best);
    if (dist < best) {
      best = dist;
      nearest = k;
    }
  }
  return { raw: best, normalized: best / (tensor.probes * tensor.units), nearest };
}

/** Novelty of every snapshot, `N` points (the first one `null`). */
export function noveltySeries(tensor: ConfigurationTensor): NoveltyPoint[] {
  const out: NoveltyPoint[] = [];
  for (let n = 0; n < tensor.snapshots; n++) out.push(noveltyAt(tensor, n));
  return out;
}

/**
 * Incremental novelty: each `push` appends a snapshot to the tracked tensor and returns its
 * novelty against all earlier ones. `history[n]` is the novelty of snapshot `n`.
 */
export class NoveltyTracker {
  readonly tensor: ConfigurationTensor;
  readonly history: NoveltyPoint[];

  /** Tracks `tensor` (snapshots already in it are scored now) or a new empty `D × M` one. */
  constructor(target: ConfigurationTensor | { probes: number; units: number }) {
    this.tensor = target instanceof ConfigurationTensor ? target : new ConfigurationTensor(target.probes, target.units);
    this.history = noveltySeries(this.tensor);
  }

  /** Appends a packed snapshot (see `ConfigurationTensor.append`) and returns its novelty. */
  push(packed: Uint8Array): NoveltyPoint {
    this.tensor.append(packed);
    return this.record();
  }

  /** Packs a row-major `D × M` array of pre-activations (active = `> 0`), appends it, returns its novelty. */
  pushValues(values: ActivationValues): NoveltyPoint {
    this.tensor.appendValues(values);
    return this.record();
  }

  private record(): NoveltyPoint {
    // Someone else may have appended to the shared tensor too: score everything not yet scored.
    while (this.history.length < this.tensor.snapshots) this.history.push(noveltyAt(this.tensor, this.history.length));
    return this.history[this.history.length - 1];
  }
}
