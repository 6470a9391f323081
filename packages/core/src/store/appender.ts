/**
 * An append-only file written in whole records: records are buffered and handed to the OS in one
 * write once the buffer passes a high-water mark (or on flush), so a crash tears at most the
 * record being written. metrics.jsonl (JSON lines) and TensorBoard event files (TFRecords) share it.
 */
import fs from 'node:fs';

export class RecordAppender {
  private fd: number | null;
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** `fd` is open for writing at its end; the appender owns it from now on. */
  constructor(readonly path: string, fd: number, private readonly highWaterMark = 64 * 1024) {
    this.fd = fd;
  }

  get closed(): boolean { return this.fd === null; }

  /** Buffer one whole record. */
  push(record: Buffer): void {
    if (this.fd === null) throw new Error(`${this.path}: write after close`);
    this.chunks.push(record);
    this.buffered += record.length;
    if (this.buffered >= this.highWaterMark) this.drain();
  }

  /** Hand buffered records to the OS in one write (not an fsync). */
  drain(): void {
    if (this.fd === null || this.chunks.length === 0) return;
    const bytes = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(this.fd, bytes, off, bytes.length - off);
  }

  /** Write and fsync now, synchronously: safe in signal and exit handlers. */
  flushSync(): void {
    if (this.fd === null) return;
    this.drain();
    fs.fsyncSync(this.fd);
  }

  /** Write synchronously (cheap), then fsync without blocking the event loop. */
  async flush(): Promise<void> {
    if (this.fd === null) return;
    this.drain();
    const fd = this.fd;
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => {
      // A close() racing us already fsynced; the fd is then gone, which is fine.
      if (err && !(err.code === 'EBADF' && this.fd === null)) reject(new Error(`${this.path}: fsync failed: ${err.message}`));
      else resolve();
    }));
  }

  /** Flush, fsync and close; idempotent. */
  close(): void {
    if (this.fd === null) return;
    this.flushSync();
    fs.closeSync(this.fd);
    this.fd = null;
  }
}
