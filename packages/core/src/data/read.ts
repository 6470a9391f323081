import fs from 'node:fs';
import path from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

/**
 * A data file is missing or malformed. The message always starts with the file's full path,
 * then the problem and what was expected, so a user can fix the right file without a stack trace.
 */
export class DataFileError extends Error {
  constructor(
    /** Absolute path of the offending file or folder. */
    readonly file: string,
    /** The problem, without the path. */
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DataFileError';
  }
}

/** Whether bytes start with the gzip magic 1f 8b (we never trust the extension). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Read a whole file, transparently gunzipping it when it starts with the gzip magic.
 * Errors (missing file, a folder, a corrupt gzip stream) are DataFileErrors naming the absolute path.
 */
export function readBytes(file: string, what = 'data file'): { path: string; bytes: Uint8Array; gzipped: boolean } {
  const abs = path.resolve(file);
  let raw: Buffer;
  try {
    raw = fs.readFileSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataFileError(abs, `missing file: no such file (expected the ${what} here)`);
    if (code === 'EISDIR') throw new DataFileError(abs, `is a folder, expected the ${what} (a file)`);
    if (code === 'EACCES' || code === 'EPERM') throw new DataFileError(abs, `permission denied: cannot read the ${what}`);
    throw new DataFileError(abs, `cannot read ${what}: ${(e as Error).message}`);
  }
  if (!isGzip(raw)) return { path: abs, bytes: raw, gzipped: false };
  try {
    return { path: abs, bytes: gunzipSync(raw), gzipped: true };
  } catch (e) {
    throw new DataFileError(abs, `corrupt gzip stream (file starts with gzip magic 1f 8b but does not decompress: ${(e as Error).message})`);
  }
}

/**
 * The first bytes of a file (gunzipped when it starts with the gzip magic): enough to read a header
 * without reading, or decompressing, the whole file. Errors are DataFileErrors naming the path.
 */
export function readHead(file: string, what = 'data file', bytes = 65_536): { path: string; head: Uint8Array; gzipped: boolean; size: number } {
  const abs = path.resolve(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataFileError(abs, `missing file: no such file (expected the ${what} here)`);
    throw new DataFileError(abs, `cannot read ${what}: ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw new DataFileError(abs, `is a folder, expected the ${what} (a file)`);
  const raw = Buffer.alloc(Math.min(bytes, st.size));
  let fd: number | undefined;
  try {
    fd = fs.openSync(abs, 'r');
    fs.readSync(fd, raw, 0, raw.length, 0);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new DataFileError(abs, `permission denied: cannot read the ${what}`);
    throw new DataFileError(abs, `cannot read ${what}: ${(e as Error).message}`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (!isGzip(raw)) return { path: abs, head: raw, gzipped: false, size: st.size };
  try {
    // A sync flush decompresses what the prefix holds without requiring the stream's end.
    return { path: abs, head: gunzipSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH }), gzipped: true, size: st.size };
  } catch (e) {
    throw new DataFileError(abs, `corrupt gzip stream (file starts with gzip magic 1f 8b but does not decompress: ${(e as Error).message})`);
  }
}
