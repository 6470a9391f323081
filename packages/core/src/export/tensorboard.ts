/**
 * TensorBoard event files: the numbers of metrics.jsonl as scalars, in
 * `<runDir>/tensorboard/events.out.tfevents.<seconds>.<host>`. Written while a run trains
 * (`output.tensorboard: true`, fed the same rows as metrics.jsonl) and by
 * `taylorlens export tensorboard <runDir>` for runs that already exist.
 *
 * An event file is a TFRecord stream: per record, the data length (uint64 LE), its masked CRC32C,
 * the data, and the data's masked CRC32C. Each record is a serialized `Event` message; the first
 * one only names the file format. Messages are encoded with protobufjs from the field numbers of
 * TensorBoard's `tensorboard/compat/proto/event.proto` and `summary.proto`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import CRC32C from 'crc-32/crc32c.js';
import protobuf from 'protobufjs/light.js';
import { RecordAppender } from '../store/appender.js';

export const TENSORBOARD_DIR = 'tensorboard';
const FILE_PREFIX = 'events.out.tfevents.';

// Only the fields written here; names as in the .proto files, numbers and types as published.
const root = protobuf.Root.fromJSON({
  nested: {
    tensorboard: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'summary'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              oneofs: { value: { oneof: ['simpleValue'] } },
              fields: { tag: { type: 'string', id: 1 }, simpleValue: { type: 'float', id: 2 } },
            },
          },
        },
      },
    },
  },
});
const EventMessage = root.lookupType('tensorboard.Event');

/** TFRecord's checksum: CRC32C, rotated right by 15 bits plus a constant (so CRCs of CRCs differ). */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = CRC32C.buf(data) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

function encodeEvent(e: { wallTime: number; step?: number; fileVersion?: string; scalars?: readonly (readonly [string, number])[] }): Uint8Array {
  const msg: Record<string, unknown> = { wallTime: e.wallTime, step: e.step ?? 0 };
  if (e.fileVersion !== undefined) msg.fileVersion = e.fileVersion;
  if (e.scalars) msg.summary = { value: e.scalars.map(([tag, simpleValue]) => ({ tag, simpleValue })) };
  return EventMessage.encode(EventMessage.fromObject(msg)).finish();
}

/** A metrics row (`kind` round or epoch) as one step's scalars; null if it has no number to show. */
export function scalarsOfRow(row: Record<string, unknown>): { step: number; scalars: [string, number][] } | null {
  const kind = row.kind;
  if (kind !== 'round' && kind !== 'epoch') return null;
  // Like Keras's callback: per-batch scalars against the round, per-epoch ones against the epoch.
  const step = Number(kind === 'round' ? row.round : row.epoch);
  if (!Number.isInteger(step)) return null;
  const scalars: [string, number][] = [];
  for (const [key, v] of Object.entries(row)) {
    if (key === 'kind' || key === 'round' || key === 'epoch') continue;
    if (typeof v === 'number' && Number.isFinite(v)) scalars.push([`${kind}/${key}`, v]);
  }
  return scalars.length > 0 ? { step, scalars } : null;
}

export interface EventWriterOptions {
  /** Seconds since the epoch for the file name and the header event; default now. */
  time?: number;
  /** Host part of the file name; default os.hostname(). */
  host?: string;
}

/** Appends events to one new event file; buffered until flush() or close(). */
export class EventFileWriter {
  readonly file: string;
  private readonly out: RecordAppender;

  constructor(dir: string, opts: EventWriterOptions = {}) {
    const time = opts.time ?? Date.now() / 1000;
    const host = (opts.host ?? os.hostname()).replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${FILE_PREFIX}${Math.floor(time)}.${host}`);
    this.out = new RecordAppender(this.file, fs.openSync(this.file, 'w'));
    this.out.push(tfRecord(encodeEvent({ wallTime: time, fileVersion: 'brain.Event:2' })));
    this.flush();
  }

  /** One event holding every scalar of a step; `wallTime` in seconds (default now). */
  scalars(step: number, scalars: readonly (readonly [string, number])[], wallTime = Date.now() / 1000): void {
    if (scalars.length > 0) this.out.push(tfRecord(encodeEvent({ wallTime, step, scalars })));
  }

  /** Hand buffered records to the OS (whole records, so a reader sees at most a torn last one). */
  flush(): void { this.out.drain(); }

  /** Flush, fsync and close; idempotent. */
  close(): void { this.out.close(); }
}

/**
 * A fresh event file for a run folder: removes the folder's earlier event files (a resumed run
 * has cut metrics.jsonl back to its checkpoint, and TensorBoard would show both versions of the
 * rounds after it), then writes `rows` (the run's rows so far) into the new file.
 */
export function openRunEvents(runDir: string, rows: readonly Record<string, unknown>[], opts: EventWriterOptions = {}): { writer: EventFileWriter; events: number } {
  const dir = path.join(runDir, TENSORBOARD_DIR);
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir)) if (f.startsWith(FILE_PREFIX)) fs.rmSync(path.join(dir, f));
  }
  const writer = new EventFileWriter(dir, opts);
  const time = opts.time ?? Date.now() / 1000;
  let events = 0;
  for (const row of rows) {
    const s = scalarsOfRow(row);
    if (!s) continue;
    writer.scalars(s.step, s.scalars, time); // the rows carry no time: all at the export's
    events++;
  }
  writer.flush();
  return { writer, events };
}
