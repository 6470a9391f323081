/**
 * JSON Lines: one JSON object per line, appended. Metrics streams use this so a crash loses at
 * most the line being written, and readers can skip that torn line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RecordAppender } from './appender.js';

export interface JsonlWriterOptions {
  /** Buffered bytes that trigger a write to the OS (not an fsync); default 64 KiB. */
  highWaterMark?: number;
}

export class JsonlWriter {
  readonly path: string;
  /** Bytes of a torn last line (from an earlier crash) cut off when this writer opened the file. */
  readonly repairedBytes: number;
  private readonly out: RecordAppender;

  /** Opens (creating folders and file as needed) for appending. */
  constructor(file: string, opts: JsonlWriterOptions = {}) {
    this.path = path.resolve(file);
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    const fd = fs.openSync(this.path, 'a+');
    this.repairedBytes = repairTail(fd, this.path);
    this.out = new RecordAppender(this.path, fd, opts.highWaterMark);
  }

  get closed(): boolean { return this.out.closed; }

  /** Buffer one row; written to the OS once the buffer passes highWaterMark, or on flush/close. */
  append(row: object): void {
    if (this.out.closed) throw new Error(`${this.path}: append after close`);
    // NaN/Infinity become null, as JSON.stringify always does.
    const line = JSON.stringify(row);
    if (line === undefined) throw new Error(`${this.path}: cannot append ${typeof row} as a JSON line`);
    this.out.push(Buffer.from(line + '\n', 'utf8'));
  }

  /** Write and fsync now, synchronously: safe in signal and exit handlers. */
  flushSync(): void { this.out.flushSync(); }

  /** Write synchronously (cheap), then fsync without blocking the event loop. */
  flush(): Promise<void> { return this.out.flush(); }

  /** Flush, fsync and close; idempotent. */
  close(): void { this.out.close(); }
}

/**
 * If the file ends in a partial line (a crash mid-write), make appends start on a fresh line:
 * keep the tail if it is valid JSON (just add the newline), else truncate it. Returns bytes cut.
 */
function repairTail(fd: number, file: string): number {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return 0;
  const chunk = Buffer.alloc(64 * 1024);
  let tailStart = 0;
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const n = fs.readSync(fd, chunk, 0, end - start, start);
    const nl = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) { tailStart = start + nl + 1; break; }
    end = start;
  }
  if (tailStart === size) return 0;
  const tail = Buffer.alloc(size - tailStart);
  fs.readSync(fd, tail, 0, tail.length, tailStart);
  try {
    JSON.parse(tail.toString('utf8'));
    fs.writeSync(fd, '\n');
    return 0;
  } catch {
    try {
      fs.ftruncateSync(fd, tailStart);
    } catch (e) {
      throw new Error(`${file}: cannot cut torn last line (${tail.length} bytes): ${(e as Error).message}`);
    }
    return tail.length;
  }
}

export interface JsonlContents<T> {
  rows: T[];
  /** Lines skipped because the last line was torn (0 or 1). */
  dropped: number;
}

/**
 * Read every line as JSON. A corrupt *last* line is dropped and counted (a crash mid-write);
 * a corrupt line anywhere else is real damage and throws with its line number.
 */
export function readJsonl<T = Record<string, unknown>>(file: string): JsonlContents<T> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${abs}: ${code === 'ENOENT' ? 'missing file: no such JSON Lines file' : (e as Error).message}`);
  }
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;
  const rows: T[] = [];
  let dropped = 0;
  for (let i = 0; i <= last; i++) {
    if (lines[i].trim() === '') continue;
    try {
      rows.push(JSON.parse(lines[i]) as T);
    } catch (e) {
      if (i === last) { dropped = 1; break; }
      throw new Error(`${abs}: corrupt line ${i + 1} (${(e as Error).message}); only a torn last line is tolerated`);
    }
  }
  return { rows, dropped };
}
