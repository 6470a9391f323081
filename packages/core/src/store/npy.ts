/**
 * NumPy .npy encode/decode, so run artefacts open with `numpy.load` and nothing else.
 * We write version 1.0, little-endian, C order; we read versions 1.0, 2.0 and 3.0.
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import os from 'node:os';

export type NpyDtype = 'float32' | 'float64' | 'int32' | 'uint8' | 'bool';
export type NpyData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Row-major values. bool is stored as a Uint8Array of 0/1. */
  data: NpyData;
}

export interface NpyInput {
  dtype: NpyDtype;
  shape: readonly number[];
  data: ArrayLike<number> | ArrayLike<boolean>;
  /** Only C order is written. */
  fortranOrder?: false;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const DESCR: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8', int32: '<i4', uint8: '|u1', bool: '|b1' };
const LITTLE = os.endianness() === 'LE';

interface Kind { dtype: NpyDtype; bytes: number; make: (n: number) => NpyData }
const KINDS: Record<string, Kind> = {
  f4: { dtype: 'float32', bytes: 4, make: (n) => new Float32Array(n) },
  f8: { dtype: 'float64', bytes: 8, make: (n) => new Float64Array(n) },
  i4: { dtype: 'int32', bytes: 4, make: (n) => new Int32Array(n) },
  u1: { dtype: 'uint8', bytes: 1, make: (n) => new Uint8Array(n) },
  b1: { dtype: 'bool', bytes: 1, make: (n) => new Uint8Array(n) },
};

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Python tuple literal: () for 0-d, (5,) for 1-d, (3, 4) otherwise. */
function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

export function encodeNpy(arr: NpyInput): Buffer {
  const descr = DESCR[arr.dtype];
  if (!descr) throw new Error(`encodeNpy: unsupported dtype '${arr.dtype}', expected ${Object.keys(DESCR).join(', ')}`);
  if (arr.fortranOrder) throw new Error('encodeNpy: fortranOrder is not supported; pass C-order (row-major) data');
  for (const d of arr.shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`encodeNpy: bad shape [${arr.shape.join(', ')}], dims must be integers ≥ 0`);
  }
  const n = size(arr.shape);
  if (arr.data.length !== n) {
    throw new Error(`encodeNpy: shape [${arr.shape.join(', ')}] needs ${n} values but data has ${arr.data.length}`);
  }

  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${pyShape(arr.shape)}, }`;
  // Pad with spaces so magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64 (numpy aligns data).
  const unpadded = MAGIC.length + 4 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new Error(`encodeNpy: header of ${header.length} bytes is too long for format 1.0`);

  const itemBytes = KINDS[descr.slice(1)].bytes;
  const out = Buffer.alloc(MAGIC.length + 4 + header.length + n * itemBytes);
  MAGIC.copy(out, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  writeValues(out, 10 + header.length, arr.dtype, arr.data);
  return out;
}

function writeValues(out: Buffer, at: number, dtype: NpyDtype, data: NpyInput['data']): void {
  const n = data.length;
  if (dtype === 'bool' || dtype === 'uint8') {
    for (let i = 0; i < n; i++) out[at + i] = dtype === 'bool' ? (data[i] ? 1 : 0) : Number(data[i]);
    return;
  }
  const typed = dtype === 'float32' ? Float32Array : dtype === 'float64' ? Float64Array : Int32Array;
  // Fast path: a native typed array on a little-endian host is already the .npy payload.
  const src = data instanceof typed ? data : typed.from(data as ArrayLike<number>);
  if (LITTLE) {
    out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + at, src.byteLength);
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') view.setFloat32(4 * i, src[i], true);
    else if (dtype === 'float64') view.setFloat64(8 * i, src[i], true);
    else view.setInt32(4 * i, src[i], true);
  }
}

/** What a .npy header says: dtype, shape, where the values start and how many bytes the whole file must have. */
export interface NpyLayout {
  dtype: NpyDtype;
  /** The header's dtype string, e.g. `<f4`. */
  descr: string;
  shape: number[];
  dataStart: number;
  /** Header plus values: the file's expected size. */
  fileBytes: number;
}

/**
 * Parse the header of .npy bytes (the whole file, or just its first bytes: enough to size-check a
 * file without reading it). `source` (e.g. the file path) prefixes error messages.
 */
export function readNpyHeader(buf: Uint8Array, source = 'npy'): NpyLayout {
  const fail = (problem: string): never => { throw new Error(`${source}: ${problem}`); };
  if (buf.length < 10 || !MAGIC.every((b, i) => buf[i] === b)) fail('not a .npy file: missing \\x93NUMPY magic');
  const major = buf[6];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number, headerStart: number;
  if (major === 1) { headerLen = view.getUint16(8, true); headerStart = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated .npy header');
    headerLen = view.getUint32(8, true); headerStart = 12;
  } else return fail(`unsupported .npy version ${major}.${buf[7]}, expected 1.0, 2.0 or 3.0`);
  const dataStart = headerStart + headerLen;
  if (buf.length < dataStart) fail(`truncated .npy header: needs ${dataStart} bytes, file has ${buf.length}`);
  const header = Buffer.from(buf.buffer, buf.byteOffset + headerStart, headerLen).toString(major === 3 ? 'utf8' : 'latin1');

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1] ?? fail(`header has no 'descr': ${header.trim()}`);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1] ?? fail(`header has no 'fortran_order': ${header.trim()}`);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? fail(`header has no 'shape': ${header.trim()}`);
  if (fortran === 'True') fail('fortran_order True is not supported; save with C order (numpy default)');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText}) in header`);

  const order = descr[0];
  const kind = KINDS[descr.slice(1)];
  if (!kind || !'<>|='.includes(order)) fail(`unsupported dtype '${descr}', expected one of <f4 <f8 <i4 |u1 |b1 (either byte order)`);
  return { dtype: kind.dtype, descr, shape, dataStart, fileBytes: dataStart + size(shape) * kind.bytes };
}

/** Decode .npy bytes. `source` (e.g. the file path) prefixes error messages. */
export function decodeNpy(buf: Uint8Array, source = 'npy'): NpyArray {
  const { descr, shape, dataStart, fileBytes: need } = readNpyHeader(buf, source);
  const kind = KINDS[descr.slice(1)];
  const order = descr[0];
  const n = size(shape);
  if (buf.length < need) throw new Error(`${source}: truncated: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes, file has ${buf.length}`);

  const data = kind.make(n);
  const little = order === '<' || (order === '=' && LITTLE) || kind.bytes === 1;
  if (little === LITTLE) {
    // Copy (not view) so the result is aligned and does not pin `buf`.
    new Uint8Array(data.buffer).set(buf.subarray(dataStart, dataStart + n * kind.bytes));
  } else {
    const v = new DataView(buf.buffer, buf.byteOffset + dataStart, n * kind.bytes);
    for (let i = 0; i < n; i++) {
      data[i] = kind.dtype === 'float32' ? v.getFloat32(4 * i, little)
        : kind.dtype === 'float64' ? v.getFloat64(8 * i, little) : v.getInt32(4 * i, little);
    }
  }
  return { dtype: kind.dtype, shape, data };
}
