/** `taylorlens export tensorboard <runDir>`: TensorBoard event files for a run that already exists. */
import fs from 'node:fs';
import { acquireRunLock } from '../run/lock.js';
import { readMetrics } from '../run/metrics.js';
import { UsageError } from '../run/errors.js';
import { METRICS_JSONL, RunDir } from '../store/run-dir.js';
import { openRunEvents } from './tensorboard.js';

export interface TensorBoardExport {
  /** The event file written. */
  file: string;
  /** Scalar events in it (one per metrics row with a number). */
  events: number;
  rows: number;
}

/**
 * Rewrites `<runDir>/tensorboard/` from metrics.jsonl: one event file replacing earlier ones.
 * Takes the run folder's lock, so it never races a run writing the same folder.
 */
export function exportTensorBoard(dir: string): TensorBoardExport {
  let runDir: RunDir;
  try {
    runDir = RunDir.open(dir);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const file = runDir.path(METRICS_JSONL);
  if (!fs.existsSync(file)) throw new UsageError(`${file}: missing file: nothing to export (is ${runDir.dir} a run folder?)`);
  const lock = acquireRunLock(runDir.dir, 'export tensorboard');
  try {
    const rows = readMetrics(runDir);
    const { writer, events } = openRunEvents(runDir.dir, rows);
    writer.close();
    return { file: writer.file, events, rows: rows.length };
  } finally {
    lock.release();
  }
}
