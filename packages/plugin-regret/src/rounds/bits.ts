/**
 * Flags packed 8 to a byte per row, first flag in the most significant bit — numpy's
 * `np.packbits(a, axis=1)`; `np.unpackbits(p, axis=1)[:, :cols]` reads them back.
 */
export function packRows(flags: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  const stride = Math.ceil(cols / 8);
  const out = new Uint8Array(rows * stride);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (flags[r * cols + c] > 0.5) out[r * stride + (c >> 3)] |= 0x80 >> (c & 7);
  }
  return out;
}

export function unpackRows(packed: Uint8Array, rows: number, cols: number): Float32Array {
  const stride = Math.ceil(cols / 8);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = (packed[r * stride + (c >> 3)] >> (7 - (c & 7))) & 1;
  }
  return out;
}
