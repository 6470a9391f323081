/**
 * The tensor seen per unit: for unit `m` and snapshot `n`, the bitset over probe inputs
 * `x_n[d] = A[n, d, m]`, `W = ceil(D/32)` words, bit `d` = bit `d % 32` of word `d >> 5`.
 * These are the rows of the `N × D` matrix `A[:, :, m]` whose singular values we want.
 *
 * Units are transposed eight at a time (one byte column of the packed rows), so a full pass
 * reads every stored byte once and memory stays at `8·N·W` words whatever `M` is.
 */
import type { ConfigurationTensor } from '../bits.js';

/** Words per per-unit bitset over the `D` probe inputs. */
export function bitsetWords(probes: number): number {
  return (probes + 31) >> 5;
}

/**
 * Bitsets of units `8j .. 8j+7` (those below `M`): unit `8j+t`, snapshot `n` starts at word
 * `(t·N + n)·W` of the result. Reuses `out` when it is large enough.
 */
export function byteColumnBitsets(tensor: ConfigurationTensor, j: number, out?: Uint32Array): Uint32Array {
  const { snapshots: N, probes: D, rowBytes: B } = tensor;
  const W = bitsetWords(D);
  const size = 8 * N * W;
  const bits = out && out.length >= size ? out.fill(0, 0, size) : new Uint32Array(size);
  const bytes = tensor.storageBytes;
  for (let n = 0; n < N; n++) {
    const base = tensor.snapshotOffset(n) + j;
    for (let d = 0; d < D; d++) {
      let byte = bytes[base + d * B];
      if (byte === 0) continue; // ReLU configurations are often sparse
      const word = n * W + (d >> 5);
      const bit = 1 << (d & 31);
      for (let t = 0; byte !== 0; t++, byte >>>= 1) {
        if (byte & 1) bits[t * N * W + word] |= bit;
      }
    }
  }
  return bits;
}

/** Bitsets of one unit `m`: snapshot `n` at word `n·W` (`N·W` words). */
export function unitBitsets(tensor: ConfigurationTensor, m: number): Uint32Array {
  if (!Number.isInteger(m) || m < 0 || m >= tensor.units) throw new RangeError(`unit ${m} outside 0..${tensor.units - 1}`);
  const size = tensor.snapshots * bitsetWords(tensor.probes);
  const t = m & 7;
  return byteColumnBitsets(tensor, m >> 3).slice(t * size, (t + 1) * size);
}
