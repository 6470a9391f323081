/**
 * Packed activation configurations: the `N × D × M` bit tensor of the design notes
 * (snapshots × probe inputs × ReLU units), one bit per "unit m active on probe d at snapshot n".
 * Every unit with 2 linear pieces is stored this way (its bit is its piece: LeakyReLU, PReLU,
 * ThresholdedReLU, a Maximum of two inputs…); units with more pieces go to the pieces file
 * (fields.ts), and configurations.ts holds both.
 *
 * ## Bit layout (the `.npy` contract)
 *
 * - A row (one probe input `d` of one snapshot) is `B = ceil(M / 8)` bytes.
 *   Bit `m` of the row is bit `m % 8` of byte `m >> 3`, least significant bit first.
 *   Bits `M .. 8B−1` of the last byte are padding and always 0 (cleared on the way in).
 * - A snapshot is its `D` rows back to back (row-major, `D × B` bytes).
 * - The tensor as exported by {@link ConfigurationTensor.toNpyPayload} is a C-order `uint8`
 *   array of shape `(N, D, B)`. In NumPy:
 *
 *   ```python
 *   packed = numpy.load("configurations.npy")           # uint8, (N, D, ceil(M/8))
 *   bits = numpy.unpackbits(packed, axis=2, bitorder="little")[:, :, :M]   # (N, D, M) 0/1
 *   ```
 *
 * "Active" means pre-activation `> 0` strictly: 0, −0 and NaN are inactive.
 *
 * Internally each snapshot starts on a 4-byte boundary (its stride is `D × B` rounded up to a
 * multiple of 4, zero-filled), so the measures can XOR and popcount whole snapshots as `Uint32`
 * words. The export drops that padding when there is any.
 */

/** Bytes in one packed row of `units` bits. */
export function rowBytes(units: number): number {
  return (units + 7) >> 3;
}

/** Values as they come from a forward pass (pre-activations) or as 0/1 flags; active = `> 0`. */
export type ActivationValues = ArrayLike<number>;

/**
 * Packs one row of `units` values (active = `> 0`) into `rowBytes(units)` bytes, LSB first.
 * Reads `values[offset .. offset+units)`; writes into `out` at `outOffset` when given.
 */
export function packRow(
  values: ActivationValues,
  units: number = values.length,
  out: Uint8Array = new Uint8Array(rowBytes(units)),
  outOffset = 0,
  offset = 0,
): Uint8Array {
  const full = units >> 3;
  let o = outOffset;
  let v = offset;
  for (let j = 0; j < full; j++, v += 8) {
    out[o++] =
      (values[v] > 0 ? 1 : 0) |
      (values[v + 1] > 0 ? 2 : 0) |
      (values[v + 2] > 0 ? 4 : 0) |
      (values[v + 3] > 0 ? 8 : 0) |
      (values[v + 4] > 0 ? 16 : 0) |
      (values[v + 5] > 0 ? 32 : 0) |
      (values[v + 6] > 0 ? 64 : 0) |
      (values[v + 7] > 0 ? 128 : 0);
  }
  const rest = units & 7;
  if (rest) {
    let byte = 0;
    for (let t = 0; t < rest; t++) if (values[v + t] > 0) byte |= 1 << t;
    out[o] = byte;
  }
  return out;
}

/** Packs a row-major `probes × units` array of values (active = `> 0`) into `probes` packed rows. */
export function packSnapshot(values: ActivationValues, probes: number, units: number): Uint8Array {
  if (values.length !== probes * units) {
    throw new RangeError(`packSnapshot: expected ${probes}×${units} = ${probes * units} values, got ${values.length}`);
  }
  const b = rowBytes(units);
  const out = new Uint8Array(probes * b);
  for (let d = 0; d < probes; d++) packRow(values, units, out, d * b, d * units);
  return out;
}

/** Unpacks `rows × units` bits (rows of `rowBytes(units)` bytes) into 0/1 bytes, row-major. */
export function unpackRows(packed: Uint8Array, rows: number, units: number): Uint8Array {
  const b = rowBytes(units);
  const out = new Uint8Array(rows * units);
  for (let d = 0; d < rows; d++) {
    for (let m = 0; m < units; m++) out[d * units + m] = (packed[d * b + (m >> 3)] >> (m & 7)) & 1;
  }
  return out;
}

export interface NpyPayload {
  dtype: 'uint8';
  /** `[N, D, ceil(M/8)]`, C order. */
  shape: [number, number, number];
  data: Uint8Array;
}

/** A growing `N × D × M` bit tensor, appended one snapshot at a time. Snapshots are immutable. */
export class ConfigurationTensor {
  /** `B = ceil(M/8)`, bytes per packed row. */
  readonly rowBytes: number;
  /** `D × B`, bytes per packed snapshot (the `.npy` layout). */
  readonly snapshotBytes: number;
  /** Internal snapshot stride in 32-bit words (`snapshotBytes` rounded up to 4 bytes). */
  readonly strideWords: number;
  private bytes: Uint8Array;
  private words: Uint32Array;
  private count = 0;
  /** Mask of the real bits in a row's last byte (0xff when `M` is a multiple of 8). */
  private readonly lastByteMask: number;

  /**
   * @param probes `D`, probe inputs per snapshot.
   * @param units `M`, ReLU units observed.
   * @param capacity snapshots to allocate room for up front; storage doubles when exceeded.
   */
  constructor(
    readonly probes: number,
    readonly units: number,
    capacity = 16,
  ) {
    if (!Number.isInteger(probes) || probes < 1) throw new RangeError(`probes must be a positive integer, got ${probes}`);
    if (!Number.isInteger(units) || units < 1) throw new RangeError(`units must be a positive integer, got ${units}`);
    this.rowBytes = rowBytes(units);
    this.snapshotBytes = probes * this.rowBytes;
    this.strideWords = (this.snapshotBytes + 3) >> 2;
    this.lastByteMask = units & 7 ? (1 << (units & 7)) - 1 : 0xff;
    this.words = new Uint32Array(Math.max(1, capacity) * this.strideWords);
    this.bytes = new Uint8Array(this.words.buffer);
  }

  /** `N`, snapshots appended so far. */
  get snapshots(): number {
    return this.count;
  }

  /** Appends a packed snapshot (`D` rows of `ceil(M/8)` bytes); padding bits past `M` are ignored. */
  append(packed: Uint8Array): void {
    if (packed.length !== this.snapshotBytes) {
      throw new RangeError(`append: expected ${this.snapshotBytes} packed bytes (${this.probes}×${this.rowBytes}), got ${packed.length}`);
    }
    this.reserve(this.count + 1);
    const start = this.count * this.strideWords * 4;
    this.bytes.set(packed, start);
    if (this.lastByteMask !== 0xff) {
      for (let i = start + this.rowBytes - 1; i < start + this.snapshotBytes; i += this.rowBytes) this.bytes[i] &= this.lastByteMask;
    }
    this.count++;
  }

  /** Packs and appends a row-major `D × M` array of pre-activations (or 0/1 flags); active = `> 0`. */
  appendValues(values: ActivationValues): void {
    this.append(packSnapshot(values, this.probes, this.units));
  }

  /** Bit `(n, d, m)` as 0 or 1. */
  get(n: number, d: number, m: number): 0 | 1 {
    if (n < 0 || n >= this.count || d < 0 || d >= this.probes || m < 0 || m >= this.units) {
      throw new RangeError(`get(${n}, ${d}, ${m}) outside ${this.count}×${this.probes}×${this.units}`);
    }
    return ((this.bytes[this.snapshotOffset(n) + d * this.rowBytes + (m >> 3)] >> (m & 7)) & 1) as 0 | 1;
  }

  /** Byte offset of snapshot `n` in {@link storageBytes}. */
  snapshotOffset(n: number): number {
    return n * this.strideWords * 4;
  }

  /** Snapshot `n` as packed bytes (a read-only view, `D × B` bytes). */
  snapshot(n: number): Uint8Array {
    this.checkIndex(n);
    const o = this.snapshotOffset(n);
    return this.bytes.subarray(o, o + this.snapshotBytes);
  }

  /** The backing bytes (snapshot `n` at `snapshotOffset(n)`); a read-only view for the measures. */
  get storageBytes(): Uint8Array {
    return this.bytes;
  }

  /** The backing words (snapshot `n` at word `n * strideWords`, zero-padded); read-only view. */
  get storageWords(): Uint32Array {
    return this.words;
  }

  /** Snapshot `n` (or all of them) as 0/1 bytes, row-major `D × M` (or `N × D × M`). */
  unpack(n?: number): Uint8Array {
    if (n !== undefined) return unpackRows(this.snapshot(n), this.probes, this.units);
    const per = this.probes * this.units;
    const out = new Uint8Array(this.count * per);
    for (let k = 0; k < this.count; k++) out.set(unpackRows(this.snapshot(k), this.probes, this.units), k * per);
    return out;
  }

  /**
   * The tensor as a C-order `uint8` array of shape `(N, D, ceil(M/8))`; see the module doc for
   * `numpy.unpackbits`. `data` may share memory with the tensor: treat it as read-only.
   */
  toNpyPayload(): NpyPayload {
    const shape: [number, number, number] = [this.count, this.probes, this.rowBytes];
    if (this.strideWords * 4 === this.snapshotBytes) {
      return { dtype: 'uint8', shape, data: this.bytes.subarray(0, this.count * this.snapshotBytes) };
    }
    const data = new Uint8Array(this.count * this.snapshotBytes);
    for (let n = 0; n < this.count; n++) data.set(this.snapshot(n), n * this.snapshotBytes);
    return { dtype: 'uint8', shape, data };
  }

  /**
   * Rebuilds a tensor from {@link toNpyPayload}'s form (or a decoded `.npy` of that layout);
   * `units` (M) is not in the shape, so pass it.
   */
  static fromNpyPayload(payload: { dtype?: string; shape: readonly number[]; data: ArrayLike<number> }, units: number): ConfigurationTensor {
    if (payload.dtype !== undefined && payload.dtype !== 'uint8') throw new TypeError(`fromNpyPayload: dtype must be uint8, got ${payload.dtype}`);
    if (payload.shape.length !== 3) throw new RangeError(`fromNpyPayload: shape must be [N, D, ceil(M/8)], got [${payload.shape.join(', ')}]`);
    const [n, probes, b] = payload.shape;
    if (b !== rowBytes(units)) throw new RangeError(`fromNpyPayload: last axis ${b} does not hold ${units} bits (expected ${rowBytes(units)})`);
    if (payload.data.length !== n * probes * b) throw new RangeError(`fromNpyPayload: ${payload.data.length} bytes for shape [${n}, ${probes}, ${b}]`);
    const t = new ConfigurationTensor(probes, units, n);
    const data = payload.data instanceof Uint8Array ? payload.data : Uint8Array.from(payload.data);
    const s = probes * b;
    for (let k = 0; k < n; k++) t.append(data.subarray(k * s, (k + 1) * s));
    return t;
  }

  /** Makes room for `snapshots` in total, doubling so that appends cost amortised O(1) copies. */
  reserve(snapshots: number): void {
    const capacity = this.words.length / this.strideWords;
    if (snapshots <= capacity) return;
    const next = new Uint32Array(Math.max(snapshots, 2 * capacity) * this.strideWords);
    next.set(this.words.subarray(0, this.count * this.strideWords));
    this.words = next;
    this.bytes = new Uint8Array(next.buffer);
  }

  private checkIndex(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= this.count) throw new RangeError(`snapshot ${n} outside 0..${this.count - 1}`);
  }
}
