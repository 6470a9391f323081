/**
 * The pieces file: units with 3 or more linear pieces (relu6, hardSigmoid, clipped ReLU, max-pool
 * windows, Maximum/Minimum of 3+ inputs…), each stored as the index of its piece in a bit field.
 *
 * ## Layout (the `pieces.npy` contract)
 *
 * - A unit with `P` pieces takes `w = fieldBits(P)` bits: the smallest power of two ≥ 2 with
 *   `2^w ≥ P` (P = 3–4: 2 bits, 5–16: 4, 17–256: 8, 257–65536: 16, more: 32).
 * - A row (one probe input of one snapshot) holds the fields of every pieces-file unit. Layer by
 *   layer (in the order of activation.json's `layers` with `file: "pieces"`), the layer's fields
 *   are consecutive, `count × w` bits from the layer's `bitOffset`: unit `j` of the layer (its
 *   `j`-th observed index) is bits `bitOffset + j·w … bitOffset + j·w + w − 1` of the row, least
 *   significant bit first. Each `bitOffset` is a multiple of 8 and of `w`, so a field never
 *   straddles a byte (w ≤ 8) nor a 32-bit word.
 * - Bit `b` of a row is bit `b % 8` of byte `b >> 3` (numpy's `bitorder="little"`). A row is
 *   `rowBits / 8` bytes, `rowBits` a multiple of 32; bits not in a field are 0.
 * - The file is a C-order `uint8` array of shape `(N, D, rowBits / 8)`.
 *
 * In NumPy, the pieces of layer `l` (an entry of `layers` with `file == "pieces"`):
 *
 * ```python
 * bits = numpy.unpackbits(numpy.load("pieces.npy"), axis=2, bitorder="little")   # (N, D, rowBits)
 * o, w, c = l["bitOffset"], l["fieldBits"], l["count"]
 * f = bits[:, :, o:o + c * w].reshape(N, D, c, w).astype(numpy.int64)
 * pieces = (f << numpy.arange(w)).sum(axis=3)                                      # (N, D, c)
 * ```
 *
 * In memory the rows are word-aligned by construction, so whole snapshots are compared as
 * `Uint32` words: a field differs when any of its bits differs, counted per word by folding each
 * field's bits onto its lowest bit (`differingFields`).
 */
import { popcount32 } from './measures/popcount.js';

/** One unit of the pieces file. */
export interface Field {
  /** First bit in the row. */
  bit: number;
  /** Bits (2, 4, 8, 16 or 32). */
  width: number;
  /** Number of pieces (≤ 2^width). */
  pieces: number;
}

/** Where every pieces-file unit lives in a row, and the per-word masks the measures use. */
export class FieldLayout {
  /** Words per row (`rowBits / 32`). */
  readonly rowWords: number;
  /** Bytes per row. */
  readonly rowBytes: number;
  readonly bit: Int32Array;
  readonly width: Uint8Array;
  readonly pieces: Float64Array;
  /**
   * `low[k][q]`: the lowest bit of every field of width `2^(k+1)` in word `q` of a row
   * (k = 0..4 for widths 2, 4, 8, 16, 32).
   */
  readonly low: Uint32Array[];

  constructor(readonly rowBits: number, fields: readonly Field[]) {
    if (rowBits <= 0 || rowBits % 32 !== 0) throw new RangeError(`FieldLayout: rowBits must be a positive multiple of 32, got ${rowBits}`);
    this.rowWords = rowBits / 32;
    this.rowBytes = rowBits / 8;
    const n = fields.length;
    this.bit = new Int32Array(n);
    this.width = new Uint8Array(n);
    this.pieces = new Float64Array(n);
    this.low = [0, 1, 2, 3, 4].map(() => new Uint32Array(this.rowWords));
    fields.forEach((f, j) => {
      const k = [2, 4, 8, 16, 32].indexOf(f.width);
      if (k < 0) throw new RangeError(`FieldLayout: field ${j} has width ${f.width}; widths are 2, 4, 8, 16 or 32`);
      if (f.bit % f.width !== 0 || f.bit < 0 || f.bit + f.width > rowBits) throw new RangeError(`FieldLayout: field ${j} at bit ${f.bit} (width ${f.width}) is not aligned inside a ${rowBits}-bit row`);
      if (f.pieces < 2 || f.pieces > 2 ** f.width) throw new RangeError(`FieldLayout: field ${j} has ${f.pieces} pieces for ${f.width} bits`);
      this.bit[j] = f.bit;
      this.width[j] = f.width;
      this.pieces[j] = f.pieces;
      this.low[k][f.bit >> 5] |= (1 << (f.bit & 31)) >>> 0;
    });
  }

  /** Units (fields) per row. */
  get units(): number {
    return this.bit.length;
  }

  /** The layout of a selection's pieces-file layers. */
  static fromLayers(rowBits: number, layers: readonly { file: string; bitOffset: number | null; fieldBits: number; pieces: number; indices: ArrayLike<number> }[]): FieldLayout {
    const fields: Field[] = [];
    for (const l of layers) {
      if (l.file !== 'pieces') continue;
      for (let j = 0; j < l.indices.length; j++) fields.push({ bit: l.bitOffset! + j * l.fieldBits, width: l.fieldBits, pieces: l.pieces });
    }
    return new FieldLayout(rowBits, fields);
  }

  /** Writes piece `value` of field `j` into a zero-initialised row at byte `rowStart` of `out`. */
  write(out: Uint8Array, rowStart: number, j: number, value: number): void {
    const b = this.bit[j];
    const w = this.width[j];
    if (!(value >= 0 && value < this.pieces[j]) || !Number.isInteger(value)) throw new RangeError(`field ${j}: piece ${value} outside 0..${this.pieces[j] - 1}`);
    if (w <= 8) {
      out[rowStart + (b >> 3)] |= value << (b & 7);
      return;
    }
    for (let i = 0; i < w >> 3; i++) out[rowStart + (b >> 3) + i] = Math.floor(value / 2 ** (8 * i)) & 255;
  }

  /** Field `j` of the row at byte `rowStart` of `bytes`. */
  read(bytes: Uint8Array, rowStart: number, j: number): number {
    const b = this.bit[j];
    const w = this.width[j];
    if (w <= 8) return (bytes[rowStart + (b >> 3)] >> (b & 7)) & ((1 << w) - 1);
    let v = 0;
    for (let i = (w >> 3) - 1; i >= 0; i--) v = v * 256 + bytes[rowStart + (b >> 3) + i];
    return v;
  }
}

/**
 * Fields that differ between `rows` rows of `a` (from word `ia`) and of `b` (from word `ib`), rows
 * of `layout.rowWords` words laid out back to back. Stops once the count reaches `bound` (checked
 * every 64 rows) and then returns some value ≥ `bound`.
 */
export function differingFields(a: Uint32Array, ia: number, b: Uint32Array, ib: number, rows: number, layout: FieldLayout, bound = Infinity): number {
  const W = layout.rowWords;
  const [l2, l4, l8, l16, l32] = layout.low;
  let s = 0;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < W; q++, i++) {
      const x = a[ia + i] ^ b[ib + i];
      if (x === 0) continue;
      // After folding by 1, 2, …, w/2, the lowest bit of a w-bit aligned field is the OR of its bits.
      let t = x | (x >>> 1);
      s += popcount32(t & l2[q]);
      t |= t >>> 2;
      s += popcount32(t & l4[q]);
      t |= t >>> 4;
      s += popcount32(t & l8[q]);
      t |= t >>> 8;
      s += popcount32(t & l16[q]);
      t |= t >>> 16;
      s += popcount32(t & l32[q]);
    }
    if ((r & 63) === 63 && s >= bound) return s;
  }
  return s;
}
