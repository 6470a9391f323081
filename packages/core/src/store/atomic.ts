/**
 * Crash-safe file writes: readers see the old file or the new one, never half of one.
 * Write a temp file in the same folder (rename is only atomic within a filesystem), fsync it,
 * rename over the target, then fsync the folder so the rename itself survives a power cut.
 * Synchronous on purpose: run artefacts are small, and a sync write also works from exit/signal handlers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeNpy, type NpyInput } from './npy.js';

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const target = path.resolve(file);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* may not exist */ }
    throw new Error(`${target}: atomic write failed: ${(e as Error).message}`);
  }
  fsyncDir(dir);
}

/**
 * Write and fsync a file in place, without the temp-file-and-rename: for files inside a folder
 * that nothing reads until it is committed as a whole (a checkpoint, a weights set).
 */
export function writeFileSynced(file: string, bytes: Uint8Array, opts: { exclusive?: boolean } = {}): void {
  const fd = fs.openSync(file, opts.exclusive ? 'wx' : 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Best effort: make a folder's entries durable; some platforms (Windows) cannot open or fsync a folder. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch { /* not supported here */ } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Pretty JSON (2-space indent) with a trailing newline. */
export function writeJsonAtomic(file: string, value: unknown, indent = 2): void {
  const text = JSON.stringify(value, null, indent);
  if (text === undefined) throw new Error(`${path.resolve(file)}: cannot write ${typeof value} as JSON`);
  writeFileAtomic(file, text + '\n');
}

export function writeNpyAtomic(file: string, arr: NpyInput): void {
  writeFileAtomic(file, encodeNpy(arr));
}
