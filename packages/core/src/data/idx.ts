/**
 * IDX reader (the MNIST / Fashion-MNIST container format).
 *
 * Layout: magic 0x00 0x00 <dtype> <ndim>, then ndim big-endian uint32 dims, then the values,
 * big-endian, row-major. Files may be raw or gzip (detected by magic bytes, not extension).
 */
import { DataFileError, readBytes, readHead } from './read.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

interface DtypeInfo { code: number; dtype: IdxDtype; bytes: number }
const DTYPES: DtypeInfo[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1 },
  { code: 0x09, dtype: 'int8', bytes: 1 },
  { code: 0x0b, dtype: 'int16', bytes: 2 },
  { code: 0x0c, dtype: 'int32', bytes: 4 },
  { code: 0x0d, dtype: 'float32', bytes: 4 },
  { code: 0x0e, dtype: 'float64', bytes: 8 },
];
const byCode = new Map(DTYPES.map((d) => [d.code, d]));
const byName = new Map(DTYPES.map((d) => [d.dtype, d]));

const hex = (n: number, width = 8) => '0x' + n.toString(16).padStart(width, '0');

export interface ParseIdxOptions {
  /** Noun for the first dimension in truncation messages ("labels", "images"); default "items". */
  items?: string;
  /** The bytes came out of gunzip: sizes in messages then say so. */
  gzipped?: boolean;
}

/** Parse IDX bytes (already gunzipped). `file` is used only in error messages. */
export function parseIdx(bytes: Uint8Array, file: string, opts: ParseIdxOptions = {}): IdxArray {
  if (bytes.length < 4) {
    throw new DataFileError(file, `truncated: file has ${bytes.length} bytes, too short for the 4-byte IDX magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const info = byCode.get(bytes[2]);
  if (bytes[0] !== 0 || bytes[1] !== 0 || !info) {
    throw new DataFileError(file,
      `wrong magic number ${hex(magic)}: expected 0x00 0x00 <dtype 08/09/0B/0C/0D/0E> <ndim> ` +
      `(e.g. 0x00000803 for MNIST images, 0x00000801 for labels); is this an IDX file?`);
  }
  const ndim = bytes[3];
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new DataFileError(file,
      `truncated header: magic ${hex(magic)} says ${ndim} dims (${headerBytes} header bytes) but file has ${bytes.length} bytes`);
  }
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * info.bytes;
  if (bytes.length !== expected) {
    const items = opts.items ?? 'items';
    const what = ndim === 0 ? 'a scalar'
      : `${shape[0]} ${items}` + (ndim > 1 ? ` of ${shape.slice(1).join('×')}` : '') + (info.bytes > 1 ? ` ${info.dtype}` : '');
    const problem = bytes.length < expected ? 'truncated' : `trailing garbage (${bytes.length - expected} extra bytes)`;
    const has = `file has ${bytes.length} bytes${opts.gzipped ? ' after gunzip' : ''}`;
    throw new DataFileError(file, `${problem}: header says ${what} (${expected} bytes) but ${has}`);
  }
  return { dtype: info.dtype, shape, data: decodeValues(bytes, headerBytes, count, info) };
}

/** Copy the big-endian payload into a native typed array (copy so no pooled Buffer is aliased). */
function decodeValues(bytes: Uint8Array, offset: number, count: number, info: DtypeInfo): IdxData {
  // new Uint8Array(view) copies; Buffer#slice would not.
  if (info.dtype === 'uint8') return new Uint8Array(bytes.subarray(offset, offset + count));
  if (info.dtype === 'int8') return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + count)).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * info.bytes);
  switch (info.dtype) {
    case 'int16': { const out = new Int16Array(count); for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false); return out; }
    case 'int32': { const out = new Int32Array(count); for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false); return out; }
    case 'float32': { const out = new Float32Array(count); for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false); return out; }
    default: { const out = new Float64Array(count); for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false); return out; }
  }
}

/**
 * The header of an IDX file (raw or gzip) from its first bytes: dtype and shape, without reading
 * the values. Throws DataFileError naming the file (missing, a folder, corrupt gzip, not IDX).
 */
export function peekIdx(file: string, what = 'IDX file'): { path: string; dtype: IdxDtype; shape: number[]; gzipped: boolean } {
  const { path, head, gzipped } = readHead(file, what);
  if (head.length < 4) throw new DataFileError(path, `truncated: ${head.length} bytes${gzipped ? ' after gunzip' : ''}, too short for the 4-byte IDX magic number (expected the ${what})`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const info = byCode.get(head[2]);
  if (head[0] !== 0 || head[1] !== 0 || !info) {
    throw new DataFileError(path, `wrong magic number ${hex(view.getUint32(0, false))}: expected the ${what}, an IDX file starting 0x00 0x00 <dtype> <ndim> `
      + '(e.g. 0x00000803 for MNIST images, 0x00000801 for labels)');
  }
  const ndim = head[3];
  if (head.length < 4 + 4 * ndim) throw new DataFileError(path, `truncated header: magic says ${ndim} dims but the file has ${head.length} bytes${gzipped ? ' after gunzip' : ''}`);
  return { path, dtype: info.dtype, shape: Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false)), gzipped };
}

/** Read an IDX file (raw or gzip) from any path. */
export function readIdx(file: string, opts: ParseIdxOptions = {}): IdxArray {
  const { path, bytes, gzipped } = readBytes(file, 'IDX file');
  return parseIdx(bytes, path, { ...opts, gzipped });
}

/** Encode an array as IDX bytes (big-endian); handy for fixtures and exporting. */
export function encodeIdx(arr: { dtype: IdxDtype; shape: number[]; data: ArrayLike<number> }): Buffer {
  const info = byName.get(arr.dtype);
  if (!info) throw new Error(`encodeIdx: unsupported dtype '${arr.dtype}', expected one of ${[...byName.keys()].join(', ')}`);
  if (arr.shape.length > 255) throw new Error(`encodeIdx: ${arr.shape.length} dims, IDX allows at most 255`);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) {
    throw new Error(`encodeIdx: shape [${arr.shape.join(', ')}] needs ${count} values but data has ${arr.data.length}`);
  }
  const header = 4 + 4 * arr.shape.length;
  const buf = Buffer.alloc(header + count * info.bytes);
  buf[2] = info.code;
  buf[3] = arr.shape.length;
  arr.shape.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < count; i++) {
    const v = arr.data[i];
    const at = header + i * info.bytes;
    switch (info.dtype) {
      case 'uint8': view.setUint8(at, v); break;
      case 'int8': view.setInt8(at, v); break;
      case 'int16': view.setInt16(at, v, false); break;
      case 'int32': view.setInt32(at, v, false); break;
      case 'float32': view.setFloat32(at, v, false); break;
      case 'float64': view.setFloat64(at, v, false); break;
    }
  }
  return buf;
}
