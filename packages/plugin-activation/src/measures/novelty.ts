/**
 * Novelty of an activation configuration: the number of (probe input, unit) entries whose piece
 * differs from the nearest earlier snapshot, `min_{k<n} #{(d, m): A_n[d, m] ≠ A_k[d, m]}` (the
 * Hamming distance over pieces; for 2-piece units, as ReLU, it is the Hamming distance of the bits,
 * `||A_n − A_k||²_F`), raw and divided by `D·M`.
 *
 * Snapshots are 0-based here (`n = 0..N−1`). Snapshot 0 has no earlier configuration, so its
 * novelty is `null` (not 0 and not `D·M`: there is nothing to compare against).
 */
import { ConfigurationTensor, type ActivationValues } from '../bits.js';
import { asConfigurations, Configurations, type PackedSnapshot } from '../configurations.js';
import { differingFields } from '../fields.js';
import { hammingWords, hammingWordsBelow } from './popcount.js';

export interface NoveltyPoint {
  /** Entries whose piece differs from the nearest earlier snapshot; `null` for the first snapshot. */
  raw: number | null;
  /** `raw / (D·M)`, in `[0, 1]`; `null` for the first snapshot. */
  normalized: number | null;
  /** Index of that nearest earlier snapshot (the latest one among ties); `null` for the first. */
  nearest: number | null;
}

/**
 * Entries whose piece differs between snapshots `a` and `b`; with `bound`, gives up once the count
 * reaches it and returns some value ≥ `bound`.
 */
export function snapshotDistance(c: Configurations, a: number, b: number, bound = Infinity): number {
  let dist = 0;
  if (c.bits) {
    const w = c.bits.strideWords;
    // Padding bits are zero in every snapshot, so they never count.
    dist = bound === Infinity
      ? hammingWords(c.bits.storageWords, a * w, c.bits.storageWords, b * w, w)
      : hammingWordsBelow(c.bits.storageWords, a * w, c.bits.storageWords, b * w, w, bound);
    if (dist >= bound) return dist;
  }
  if (c.pieces) {
    const w = c.pieces.strideWords;
    dist += differingFields(c.pieces.storageWords, a * w, c.pieces.storageWords, b * w, c.probes, c.layout!, bound - dist);
  }
  return dist;
}

/** Hamming distance (over pieces) between snapshots `a` and `b`. */
export function snapshotHamming(tensor: ConfigurationTensor | Configurations, a: number, b: number): number {
  return snapshotDistance(asConfigurations(tensor), a, b);
}

/** Novelty of snapshot `n`. Costs `n` snapshot comparisons, often cut short. */
export function noveltyAt(tensor: ConfigurationTensor | Configurations, n: number): NoveltyPoint {
  const c = asConfigurations(tensor);
  if (!Number.isInteger(n) || n < 0 || n >= c.snapshots) throw new RangeError(`snapshot ${n} outside 0..${c.snapshots - 1}`);
  if (n === 0) return { raw: null, normalized: null, nearest: null };
  let best = Infinity;
  let nearest = -1;
  // Newest first: during training the previous snapshot is usually the nearest, which makes the
  // bound tight early and lets most other comparisons stop after a few blocks.
  for (let k = n - 1; k >= 0 && best > 0; k--) {
    const dist = snapshotDistance(c, n, k, best);
    if (dist < best) {
      best = dist;
      nearest = k;
    }
  }
  return { raw: best, normalized: best / (c.probes * c.units), nearest };
}

/** Novelty of every snapshot, `N` points (the first one `null`). */
export function noveltySeries(tensor: ConfigurationTensor | Configurations): NoveltyPoint[] {
  const c = asConfigurations(tensor);
  const out: NoveltyPoint[] = [];
  for (let n = 0; n < c.snapshots; n++) out.push(noveltyAt(c, n));
  return out;
}

/**
 * Incremental novelty: each `push` appends a snapshot to the tracked configurations and returns
 * its novelty against all earlier ones. `history[n]` is the novelty of snapshot `n`.
 */
export class NoveltyTracker {
  readonly configurations: Configurations;
  readonly history: NoveltyPoint[];

  /** Tracks existing configurations (snapshots already in them are scored now) or new empty `D × M` bits. */
  constructor(target: ConfigurationTensor | Configurations | { probes: number; units: number }) {
    this.configurations = target instanceof Configurations ? target
      : target instanceof ConfigurationTensor ? Configurations.of(target)
        : new Configurations(target.probes, target.units, null);
    this.history = noveltySeries(this.configurations);
  }

  /** The bit-file tensor (2-piece units); throws when the configuration has none. */
  get tensor(): ConfigurationTensor {
    if (!this.configurations.bits) throw new Error('this configuration has no 2-piece units: read `configurations.pieces`');
    return this.configurations.bits;
  }

  /** Appends a packed snapshot (bits as `ConfigurationTensor.append` takes them, or both parts) and returns its novelty. */
  push(packed: Uint8Array | PackedSnapshot): NoveltyPoint {
    this.configurations.append(packed instanceof Uint8Array ? { bits: packed, pieces: null } : packed);
    return this.record();
  }

  /** Packs a row-major `D × M` array of pre-activations (active = `> 0`) into the bits, appends it, returns its novelty. */
  pushValues(values: ActivationValues): NoveltyPoint {
    if (this.configurations.pieces) throw new Error('pushValues packs 2-piece units only; push both parts instead');
    this.tensor.appendValues(values);
    return this.record();
  }

  private record(): NoveltyPoint {
    // Someone else may have appended to the shared tensor too: score everything not yet scored.
    while (this.history.length < this.configurations.snapshots) this.history.push(noveltyAt(this.configurations, this.history.length));
    return this.history[this.history.length - 1];
  }
}
