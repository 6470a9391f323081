/** metrics.jsonl for a run: rows from the trainer's events, and cutting it back to a checkpoint on resume. */
import fs from 'node:fs';
import type { MetricsRow } from '../events.js';
import { writeFileAtomic } from '../store/atomic.js';
import { readJsonl } from '../store/jsonl.js';
import { METRICS_CSV, METRICS_JSONL, type RunDir } from '../store/run-dir.js';
import type { Trainer } from '../trainer.js';
import { openRunEvents, scalarsOfRow, type EventFileWriter } from '../export/tensorboard.js';

export type MetricsKind = 'round' | 'epoch';
export type TaggedRow = MetricsRow & { kind: MetricsKind };

export interface RecordMetricsOptions {
  /** Also write the rows as TensorBoard scalars into `<runDir>/tensorboard/` (output.tensorboard). */
  tensorboard?: boolean;
}

/**
 * Append every 'round' and 'epoch' row, tagged with its kind; flush (and fsync) at each epoch,
 * so a crash loses at most the current epoch's rows, and hand rows to the OS at the first round
 * after a second has passed, so a live view (`taylorlens watch`) sees them while an epoch runs. Returns a function that stops listening and
 * writes metrics.csv once (a view rebuilt from the whole file: once per session, not per epoch).
 */
export function recordMetrics(trainer: Trainer, runDir: RunDir, opts: RecordMetricsOptions = {}): () => void {
  // A resumed run has cut metrics.jsonl back to its checkpoint: the event file starts from that.
  const tb: EventFileWriter | null = opts.tensorboard ? openRunEvents(runDir.dir, readMetrics(runDir)).writer : null;
  let lastDrain = Date.now();
  const append = (row: TaggedRow) => {
    runDir.appendMetrics(row);
    const s = tb && scalarsOfRow(row);
    if (s) tb!.scalars(s.step, s.scalars);
  };
  const onRound = (row: MetricsRow) => {
    append({ kind: 'round', ...row });
    if (Date.now() - lastDrain < 1000) return;
    lastDrain = Date.now();
    runDir.flush().catch(() => {}); // best effort: the epoch's flushSync reports a failing disk
    tb?.flush();
  };
  const onEpoch = (row: MetricsRow) => {
    append({ kind: 'epoch', ...row });
    runDir.flushSync();
    tb?.flush();
  };
  trainer.events.on('round', onRound);
  trainer.events.on('epoch', onEpoch);
  return () => {
    trainer.events.off('round', onRound);
    trainer.events.off('epoch', onEpoch);
    // Called while a run ends, perhaps on an error: a CSV that cannot be written must not hide it.
    try {
      runDir.flushSync();
      writeMetricsCsv(runDir);
    } catch (e) {
      trainer.events.emit('warning', { source: 'core', message: `metrics.csv not written: ${(e as Error).message}` });
    }
    try {
      tb?.close();
    } catch (e) {
      trainer.events.emit('warning', { source: 'core', message: `TensorBoard event file not finished: ${(e as Error).message}` });
    }
  };
}

/** One CSV field (RFC 4180): numbers as JavaScript prints them (shortest exact float64), text quoted when it must be. */
function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * metrics.csv beside metrics.jsonl, written from it (atomically) when a run session ends: one row per line of the JSONL,
 * the columns every name any row has, in the order they first appear (`kind` first), empty where
 * a row has no value. For spreadsheets and pandas; metrics.jsonl stays the record.
 */
export function writeMetricsCsv(runDir: RunDir): void {
  const rows = readMetrics(runDir);
  const columns: string[] = ['kind'];
  const seen = new Set(columns);
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.has(k)) { seen.add(k); columns.push(k); }
  const lines = [columns.map(csvField).join(','), ...rows.map((r) => columns.map((c) => csvField((r as Record<string, unknown>)[c])).join(','))];
  writeFileAtomic(runDir.path(METRICS_CSV), lines.join('\r\n') + '\r\n');
}

export function readMetrics(runDir: RunDir): TaggedRow[] {
  const file = runDir.path(METRICS_JSONL);
  return fs.existsSync(file) ? readJsonl<TaggedRow>(file).rows : [];
}

/**
 * Make metrics.jsonl end exactly at a checkpoint: keep rows up to `round` (epoch rows up to
 * `epoch`), drop what an interrupted session wrote after it (a resume redoes those rounds), and
 * restore the checkpoint's epoch row if the crash came before it reached the file.
 */
export function truncateMetrics(runDir: RunDir, epoch: number, round: number, epochRow: MetricsRow | null): { kept: number; dropped: number } {
  const rows = readMetrics(runDir);
  const keep = (r: TaggedRow) => (r.kind === 'epoch' ? Number(r.epoch) <= epoch : Number(r.round) <= round);
  const kept = rows.filter(keep);
  const dropped = rows.length - kept.length;
  if (epochRow && epoch > 0 && !kept.some((r) => r.kind === 'epoch' && Number(r.epoch) === epoch)) {
    kept.push({ kind: 'epoch', ...epochRow });
  }
  writeFileAtomic(runDir.path(METRICS_JSONL), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  return { kept: kept.length, dropped };
}

/**
 * Before a resume writes anything: metrics.jsonl must hold a row for every round up to the
 * checkpoint's `round` (a resume keeps those and appends after them). Throws, naming the file and
 * what is missing, instead of resuming into a file with a hole (e.g. a deleted metrics.jsonl).
 */
export function checkMetricsCover(runDir: RunDir, round: number): void {
  if (round === 0) return;
  const file = runDir.path(METRICS_JSONL);
  if (!fs.existsSync(file)) {
    throw new Error(`${file}: missing file, but the checkpoint is at round ${round}: a resume would lose the rows of rounds 1–${round}. `
      + 'Put metrics.jsonl back, or start a new run from the config');
  }
  const seen = new Set(readJsonl<TaggedRow>(file).rows.filter((r) => r.kind === 'round').map((r) => Number(r.round)).filter((r) => r >= 1 && r <= round));
  if (seen.size < round) {
    let first = 1;
    while (seen.has(first)) first++;
    throw new Error(`${file}: holds rows for ${seen.size} of the ${round} rounds up to the checkpoint (round ${first} is the first missing): `
      + 'a resume would leave that hole. Put the complete file back, or start a new run from the config');
  }
}
