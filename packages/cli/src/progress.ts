/**
 * Progress for humans: a cli-progress bar per epoch when stdout is a terminal; otherwise plain
 * lines (logs, CI), at most one per epoch plus one every ~10 s. Plugins can report long analyses
 * by emitting `<plugin>:progress` events with `{ done, total, label? }` on `trainer.events`, and
 * long steps outside the rounds (checkpoint solves) by `phase` events `{ phase, detail?, done, total }`:
 * while one runs, the display names it and counts its steps instead of an epoch estimate that
 * stopped moving (the round bar's "1s left" while a solve takes a minute).
 */
import cliProgress from 'cli-progress';
import type { AnalysisProgressEvent, MetricsRow, PhaseEvent, ProgressEvent, RunReporter, Trainer } from '@taylorlens/core';
import type { CliIo } from './io.js';

export const PLAIN_INTERVAL_MS = 10_000;

type AnalysisProgress = AnalysisProgressEvent;

const fmt = (v: unknown) => (typeof v === 'number' ? (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(3)) : String(v));

export function epochLine(row: MetricsRow, epochs: number, seconds: number): string {
  const extra = Object.entries(row)
    .filter(([k]) => !['epoch', 'round', 'loss', 'kind'].includes(k))
    .map(([k, v]) => `${k} ${fmt(v)}`);
  return `epoch ${row.epoch}/${epochs}: loss ${fmt(row.loss)}${extra.length ? ', ' + extra.join(', ') : ''} (${seconds.toFixed(1)} s)`;
}

/** A phase step as one line: `regret: solving checkpoint 2/12 · scope 3/12 neurons:dense_2`. */
export function phaseLine(p: PhaseEvent, seconds?: number): string {
  return `${p.phase} ${p.done}/${p.total}${p.detail ? ` · ${p.detail}` : ''}${seconds !== undefined ? ` (${seconds.toFixed(1)} s)` : ''}`;
}

export function cliReporter(io: CliIo): RunReporter {
  const tty = io.stdout.isTTY === true;
  const now = io.now ?? Date.now;
  return {
    info: (line) => io.stdout.write(line + '\n'),
    warn: (line) => io.stderr.write(line + '\n'),
    track: (trainer, plan) => (tty ? trackTty(trainer, plan.epochs, io) : trackPlain(trainer, plan.epochs, io, now)),
  };
}

function trackPlain(trainer: Trainer, epochs: number, io: CliIo, now: () => number): () => void {
  let last = now();
  let epochStart = now();
  const line = (s: string) => { io.stdout.write(s + '\n'); last = now(); };
  const onProgress = (p: ProgressEvent) => {
    if (now() - last >= PLAIN_INTERVAL_MS) line(`epoch ${p.epoch}/${p.epochs} round ${p.batch}/${p.batches}: loss ${fmt(p.loss)}`);
  };
  const onEpoch = (row: MetricsRow) => {
    line(epochLine(row, epochs, (now() - epochStart) / 1000));
    epochStart = now();
  };
  const onAny = (key: string | number | symbol, e: unknown) => {
    const type = String(key);
    if (!type.endsWith(':progress')) return;
    const a = e as AnalysisProgress;
    if (now() - last >= PLAIN_INTERVAL_MS || a.done === a.total) line(`${a.label ?? type.slice(0, -':progress'.length)}: ${a.done}/${a.total}`);
  };
  // A phase: a line when it starts, one every ~10 s while it runs, and one with its time when it ends.
  let phase: { name: string; start: number } | null = null;
  const onPhase = (p: PhaseEvent) => {
    const starts = phase?.name !== p.phase;
    if (starts) phase = { name: p.phase, start: now() };
    const ends = p.done >= p.total;
    if (ends) line(phaseLine(p, (now() - phase!.start) / 1000));
    else if (starts || now() - last >= PLAIN_INTERVAL_MS) line(phaseLine(p));
    if (ends) phase = null;
  };
  trainer.events.on('progress', onProgress);
  trainer.events.on('epoch', onEpoch);
  trainer.events.on('phase', onPhase);
  trainer.events.on('*', onAny);
  return () => {
    trainer.events.off('progress', onProgress);
    trainer.events.off('epoch', onEpoch);
    trainer.events.off('phase', onPhase);
    trainer.events.off('*', onAny);
  };
}

function trackTty(trainer: Trainer, epochs: number, io: CliIo): () => void {
  const stream = io.stdout as unknown as NodeJS.WritableStream;
  const bar = new cliProgress.SingleBar({
    stream, format: 'epoch {epoch}/{epochs} |{bar}| {value}/{total} rounds · loss {loss} · {eta_formatted} left',
    hideCursor: true, clearOnComplete: true, barsize: 30,
  }, cliProgress.Presets.shades_classic);
  // Analyses and phases: what runs and how many of its steps are done, with the time it has taken (no ETA).
  const analysis = new cliProgress.SingleBar({
    stream, format: '{label} |{bar}| {value}/{total}{detail} · {duration_formatted}', clearOnComplete: true, barsize: 30,
  }, cliProgress.Presets.shades_classic);
  let active = false;
  let analysisActive = false;
  /** The label the analysis bar shows now (a phase's name, or an analysis's). */
  let analysisLabel = '';
  let epochStart = Date.now();
  const onProgress = (p: ProgressEvent) => {
    if (analysisActive) { analysis.stop(); analysisActive = false; }
    if (!active) {
      bar.start(p.batches, 0, { epoch: p.epoch, epochs: p.epochs, loss: '—' });
      active = true;
    }
    bar.update(p.batch, { loss: fmt(p.loss) });
  };
  const onEpoch = (row: MetricsRow) => {
    if (active) bar.stop();
    active = false;
    io.stdout.write(epochLine(row, epochs, (Date.now() - epochStart) / 1000) + '\n');
    epochStart = Date.now();
  };
  const onAny = (key: string | number | symbol, e: unknown) => {
    const type = String(key);
    if (!type.endsWith(':progress')) return;
    const a = e as AnalysisProgress;
    step(a.label ?? type.slice(0, -':progress'.length), a.done, a.total, '');
  };
  const onPhase = (p: PhaseEvent) => step(p.phase, p.done, p.total, p.detail ? ` · ${p.detail}` : '');
  /** Show `label` at `done` of `total` on the analysis bar, in place of the round bar and its estimate. */
  const step = (label: string, done: number, total: number, detail: string) => {
    if (active) { bar.stop(); active = false; }
    if (analysisActive && analysisLabel !== label) { analysis.stop(); analysisActive = false; }
    if (!analysisActive) {
      analysis.start(total, done, { label, detail });
      analysisActive = true;
      analysisLabel = label;
    }
    analysis.setTotal(total);
    analysis.update(done, { detail });
    if (done >= total) { analysis.stop(); analysisActive = false; }
  };
  trainer.events.on('progress', onProgress);
  trainer.events.on('epoch', onEpoch);
  trainer.events.on('phase', onPhase);
  trainer.events.on('*', onAny);
  return () => {
    if (active) bar.stop();
    if (analysisActive) analysis.stop();
    trainer.events.off('progress', onProgress);
    trainer.events.off('epoch', onEpoch);
    trainer.events.off('phase', onPhase);
    trainer.events.off('*', onAny);
  };
}
