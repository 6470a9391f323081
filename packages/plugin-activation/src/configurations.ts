/**
 * The configuration tensor of a run: for `N` snapshots, `D` probe inputs and `M` units, the piece
 * of every unit, `N × D × M`. Stored in two packed parts:
 *
 * - `bits`: the `M₂` units with 2 pieces (ReLU, LeakyReLU, PReLU, ThresholdedReLU, a Maximum of
 *   two inputs…), one bit each, exactly the format ReLU configurations always had
 *   (`configurations.npy`, bits.ts);
 * - `pieces`: the `M₃` units with more pieces, in bit fields (`pieces.npy`, fields.ts), held as a
 *   ConfigurationTensor whose "units" are the `rowBits` bit columns of a row.
 *
 * Unit `m` of the whole configuration is bit-file unit `m` for `m < M₂` and pieces-file unit
 * `m − M₂` after; the measures count over all `M = M₂ + M₃` units.
 */
import { ConfigurationTensor } from './bits.js';
import { FieldLayout } from './fields.js';

/** One snapshot as the snapshot pass packs it. */
export interface PackedSnapshot {
  /** `D` rows of `ceil(M₂/8)` bytes, or null without bit-file units. */
  bits: Uint8Array | null;
  /** `D` rows of `rowBits/8` bytes, or null without pieces-file units. */
  pieces: Uint8Array | null;
}

export class Configurations {
  readonly bits: ConfigurationTensor | null;
  readonly pieces: ConfigurationTensor | null;
  readonly layout: FieldLayout | null;

  /**
   * @param probes `D`.
   * @param bitUnits `M₂` (0 for none).
   * @param layout the pieces file's fields (null for none).
   * Or pass existing tensors with `Configurations.of`.
   */
  constructor(readonly probes: number, bitUnits: number, layout: FieldLayout | null, capacity = 16) {
    if (!Number.isInteger(probes) || probes < 1) throw new RangeError(`probes must be a positive integer, got ${probes}`);
    if (bitUnits === 0 && (!layout || layout.units === 0)) throw new RangeError('a configuration needs at least one unit');
    this.bits = bitUnits > 0 ? new ConfigurationTensor(probes, bitUnits, capacity) : null;
    this.layout = layout && layout.units > 0 ? layout : null;
    this.pieces = this.layout ? new ConfigurationTensor(probes, this.layout.rowBits, capacity) : null;
  }

  /** Wraps existing tensors (they must have the same `D` and snapshot count). */
  static of(bits: ConfigurationTensor | null, pieces: ConfigurationTensor | null = null, layout: FieldLayout | null = null): Configurations {
    if (!bits && !pieces) throw new RangeError('a configuration needs at least one unit');
    if (pieces && (!layout || pieces.units !== layout.rowBits)) throw new RangeError('pieces tensor and layout disagree');
    if (bits && pieces && (bits.probes !== pieces.probes || bits.snapshots !== pieces.snapshots)) {
      throw new RangeError(`bit and pieces tensors differ: ${bits.snapshots}×${bits.probes} and ${pieces.snapshots}×${pieces.probes}`);
    }
    const c = Object.create(Configurations.prototype) as Configurations;
    Object.assign(c, { probes: (bits ?? pieces)!.probes, bits, pieces, layout: pieces ? layout : null });
    return c;
  }

  /** `M₂`, units in the bit file. */
  get bitUnits(): number {
    return this.bits?.units ?? 0;
  }

  /** `M₃`, units in the pieces file. */
  get pieceUnits(): number {
    return this.layout?.units ?? 0;
  }

  /** `M`, all units. */
  get units(): number {
    return this.bitUnits + this.pieceUnits;
  }

  /** `N`. */
  get snapshots(): number {
    return (this.bits ?? this.pieces)!.snapshots;
  }

  append(s: PackedSnapshot): void {
    if (!!s.bits !== !!this.bits || !!s.pieces !== !!this.pieces) throw new RangeError('append: the snapshot\'s parts do not match the configuration\'s files');
    // Check both before writing either, so a bad snapshot leaves the tensor as it was.
    if (this.bits && s.bits!.length !== this.bits.snapshotBytes) throw new RangeError(`append: expected ${this.bits.snapshotBytes} packed bit bytes, got ${s.bits!.length}`);
    if (this.pieces && s.pieces!.length !== this.pieces.snapshotBytes) throw new RangeError(`append: expected ${this.pieces.snapshotBytes} packed piece bytes, got ${s.pieces!.length}`);
    this.bits?.append(s.bits!);
    this.pieces?.append(s.pieces!);
  }

  /** The piece of unit `m` on probe `d` at snapshot `n`. */
  get(n: number, d: number, m: number): number {
    if (m < this.bitUnits) return this.bits!.get(n, d, m);
    const j = m - this.bitUnits;
    if (!this.pieces || j >= this.pieceUnits || m < 0) throw new RangeError(`unit ${m} outside 0..${this.units - 1}`);
    if (n < 0 || n >= this.snapshots || d < 0 || d >= this.probes) throw new RangeError(`get(${n}, ${d}, ${m}) outside ${this.snapshots}×${this.probes}×${this.units}`);
    return this.layout!.read(this.pieces.storageBytes, this.pieces.snapshotOffset(n) + d * this.pieces.rowBytes, j);
  }

  /** Snapshot `n` (or all) as piece indices, row-major `D × M` (or `N × D × M`). */
  unpack(n?: number): Int32Array {
    const N = this.snapshots;
    const D = this.probes;
    const M = this.units;
    const from = n ?? 0;
    const to = n === undefined ? N : n + 1;
    if (n !== undefined && (n < 0 || n >= N)) throw new RangeError(`snapshot ${n} outside 0..${N - 1}`);
    const out = new Int32Array((to - from) * D * M);
    const M2 = this.bitUnits;
    for (let k = from; k < to; k++) {
      const bits = this.bits ? this.bits.unpack(k) : null;
      for (let d = 0; d < D; d++) {
        const row = ((k - from) * D + d) * M;
        if (bits) for (let m = 0; m < M2; m++) out[row + m] = bits[d * M2 + m];
        if (this.pieces) {
          const start = this.pieces.snapshotOffset(k) + d * this.pieces.rowBytes;
          for (let j = 0; j < this.pieceUnits; j++) out[row + M2 + j] = this.layout!.read(this.pieces.storageBytes, start, j);
        }
      }
    }
    return out;
  }

  /** Pieces of every unit (1 … `P`): 2 for the bit-file units, the layout's for the others. */
  piecesPerUnit(): Float64Array {
    const out = new Float64Array(this.units).fill(2);
    if (this.layout) out.set(this.layout.pieces, this.bitUnits);
    return out;
  }
}

/** A bare bit tensor (ReLU-only configurations) as a Configurations. */
export function asConfigurations(c: ConfigurationTensor | Configurations): Configurations {
  return c instanceof Configurations ? c : Configurations.of(c);
}
