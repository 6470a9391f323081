/**
 * Reports rebuilt from a run folder's files alone: the core's training curves, then one section
 * per plugin from its module's `reportSections(runDir)`. `compare` puts several runs side by side.
 */
import path from 'node:path';
import { buildReport, lineChart, writeReport, type ReportSection, type Row, type TableSpec } from '../report/index.js';
import { RunDir } from '../store/run-dir.js';
import type { ReportSectionLike } from '../types.js';
import { readMetrics, type TaggedRow } from './metrics.js';
import { loadPluginModule, type LoadedPluginModule } from './plugins.js';
import { readRunFile, type RunFile } from './run-file.js';
import { REPORT_HTML } from './store.js';

export interface ReportOptions {
  /** Plugin packages are looked up from here first. */
  cwd: string;
}

export interface ReportResult {
  path: string;
  /** Plugin sections that could not be built (the report still has everything else). */
  warnings: string[];
  /** What plugin sections flag about their own numbers (`ReportSectionLike.flags`), prefixed by the section title. */
  flags: string[];
  /**
   * `compare` only: what it leaves out and why, one line each, e.g. "regret: left out — the runs
   * share no scope this comparison plots, … (a: layer 1 (dense_1); b: network)"; the report lists
   * them too, in a section of their own after the training loss.
   */
  leftOut?: string[];
}

/** Something a comparison does not show: a plugin's section, or a run within one. */
interface LeftOut { what: string; why: string }
const leftOutLine = (l: LeftOut) => `${l.what}: left out — ${l.why}`;

function sectionFlags(sections: { title: string; flags?: readonly string[] }[]): string[] {
  return sections.flatMap((s) => (s.flags ?? []).map((f) => `${s.title}: ${f}`));
}

interface LoadedRun {
  dir: string;
  run: RunFile;
  rows: TaggedRow[];
  label: string;
}

function loadRun(dir: string): LoadedRun {
  const runDir = RunDir.open(dir);
  const run = readRunFile(runDir);
  return { dir: runDir.dir, run, rows: readMetrics(runDir), label: run.name };
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Exponential moving average, the usual way to read a noisy per-round loss. */
export function smooth(values: readonly number[], alpha = 0.1): number[] {
  const out: number[] = [];
  let m = NaN;
  for (const v of values) {
    m = Number.isNaN(m) ? v : alpha * v + (1 - alpha) * m;
    out.push(m);
  }
  return out;
}

/** Keep at most `max` points: bucket means of x and y (keeps the curve's shape and its ends). */
export function thin(points: { x: number; y: number }[], max = 800): { x: number; y: number }[] {
  if (points.length <= max) return points;
  const out: { x: number; y: number }[] = [];
  const size = points.length / max;
  for (let b = 0; b < max; b++) {
    const part = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (part.length === 0) continue;
    out.push({ x: part[part.length - 1].x, y: part.reduce((a, p) => a + p.y, 0) / part.length });
  }
  return out;
}

function lossScale(values: number[]): 'log' | 'linear' {
  const pos = values.filter((v) => v > 0);
  if (pos.length !== values.length || pos.length === 0) return 'linear';
  return Math.max(...pos) / Math.min(...pos) > 30 ? 'log' : 'linear';
}

function roundPoints(rows: TaggedRow[]): { x: number; y: number }[] {
  return rows.filter((r) => r.kind === 'round')
    .map((r) => ({ x: Number(r.round), y: num(r.loss) }))
    .filter((p): p is { x: number; y: number } => p.y !== null);
}

function smoothedSeries(rows: TaggedRow[]): { raw: { x: number; y: number }[]; smoothed: { x: number; y: number }[] } {
  const raw = roundPoints(rows);
  const s = smooth(raw.map((p) => p.y));
  return { raw, smoothed: raw.map((p, i) => ({ x: p.x, y: s[i] })) };
}

function lastEpoch(rows: TaggedRow[]): TaggedRow | undefined {
  return rows.filter((r) => r.kind === 'epoch').at(-1);
}

/** The core's own section: per-round loss (and smoothed), per-epoch train/validation loss, numbers. */
export function trainingSection(r: LoadedRun): ReportSection {
  const { raw, smoothed } = smoothedSeries(r.rows);
  const figures: ReportSection['figures'][number][] = [];
  if (raw.length > 0) {
    const data: Row[] = [
      ...thin(raw).map((p) => ({ round: p.x, loss: p.y, series: 'per round' })),
      ...thin(smoothed).map((p) => ({ round: p.x, loss: p.y, series: 'smoothed (EMA 0.1)' })),
    ];
    figures.push({
      caption: 'Training loss of every minibatch (light) and its moving average: look for a steady fall and no spikes.',
      spec: lineChart({
        title: 'Training loss per round', data, series: 'series',
        x: { field: 'round', title: 'round (minibatch step)' },
        y: { field: 'loss', title: `loss (${r.run.config.model.loss})`, scale: lossScale(raw.map((p) => p.y)) },
      }),
    });
  }
  const epochs = r.rows.filter((x) => x.kind === 'epoch');
  if (epochs.length > 0) {
    const data: Row[] = [];
    for (const e of epochs) {
      if (num(e.loss) !== null) data.push({ epoch: Number(e.epoch), loss: e.loss, series: 'train' });
      if (num(e.val_loss) !== null) data.push({ epoch: Number(e.epoch), loss: e.val_loss, series: 'validation' });
    }
    figures.push({
      caption: 'Mean loss per epoch on the training set and, if validated, the test split: a widening gap means overfitting.',
      spec: lineChart({
        title: 'Loss per epoch', data, series: 'series', points: true,
        x: { field: 'epoch', title: 'epoch' },
        y: { field: 'loss', title: `loss (${r.run.config.model.loss})` },
      }),
    });
  }
  const last = lastEpoch(r.rows);
  const tables: TableSpec[] = [{
    caption: 'Where the run ended',
    columns: ['quantity', 'value'],
    rows: [
      { quantity: 'status', value: r.run.status },
      { quantity: 'epochs completed', value: r.run.summary?.epochsCompleted ?? last?.epoch ?? 0 },
      { quantity: 'rounds', value: r.run.summary?.rounds ?? raw.at(-1)?.x ?? 0 },
      { quantity: 'last round loss', value: raw.at(-1)?.y ?? null },
      { quantity: 'last epoch train loss', value: num(last?.loss) },
      { quantity: 'last epoch validation loss', value: num(last?.val_loss) },
      { quantity: 'training time (s)', value: r.run.timings.trainMs / 1000 },
    ],
  }];
  if (r.run.dataFiles?.length) {
    tables.push({
      caption: 'Data files read (provenance): size and SHA-256 of each, as of the latest session',
      columns: ['split', 'path', 'bytes', 'sha256'],
      rows: r.run.dataFiles.map((f) => ({ split: f.split, path: f.path, bytes: f.bytes, sha256: f.sha256 })),
    });
  }
  const notes: string[] = [];
  if (raw.length === 0) notes.push('No training rounds were recorded.');
  const nonFinite = r.rows.filter((x) => x.kind === 'round' && num(x.loss) === null).length;
  if (nonFinite > 0 || r.run.status === 'diverged') {
    notes.push(`Non-finite losses (NaN, ±∞) are left out of the figures and shown as — in tables${nonFinite > 0 ? ` (${nonFinite} round row${nonFinite === 1 ? '' : 's'})` : ''}; the round whose loss diverged has no row.`);
  }
  if (r.run.reason) notes.push(`Run ended ${r.run.status}: ${r.run.reason}.`);
  return {
    id: 'training', title: 'Training',
    intro: `Loss of ${r.run.model.description} trained with ${r.run.optimizer.name} on ${r.run.data}. Every number comes from metrics.jsonl in the run folder.`,
    figures, tables, notes,
  };
}

async function pluginSections(mods: { name: string }[], cwd: string, call: (m: LoadedPluginModule) => Promise<ReportSectionLike[]> | undefined,
  warnings: string[]): Promise<ReportSection[]> {
  const out: ReportSection[] = [];
  for (const p of mods) {
    try {
      const m = await loadPluginModule(p.name, cwd);
      const sections = await call(m);
      if (sections) out.push(...(sections as unknown as ReportSection[]));
    } catch (e) {
      const msg = `plugin "${p.name}": its report section failed: ${(e as Error).message.split('\n')[0]}`;
      warnings.push(msg);
      out.push({ id: `plugin-${p.name}`, title: `Plugin ${p.name}`, figures: [], notes: [`This section could not be built: ${msg}`] });
    }
  }
  return out;
}

/** What the run warned about on the terminal (run.json's `warnings`), so the report says it too. */
function warningsSection(run: RunFile): ReportSection[] {
  const list = run.warnings ?? [];
  if (list.length === 0) return [];
  return [{
    id: 'warnings', title: 'Warnings during the run',
    intro: 'What the run printed as warnings, from run.json: each once, with the session that first gave it.',
    figures: [],
    notes: list.map((w) => `${w.source}: ${w.message} (session ${w.session}${w.count > 1 ? `, ${w.count} times` : ''})`),
  }];
}

function runMeta(run: RunFile): Record<string, string | number> {
  return {
    run: run.name, status: run.status, backend: run.backend.name, seed: run.seed,
    epochs: `${run.summary?.epochsCompleted ?? run.checkpoint?.epoch ?? 0} / ${run.config.epochs}`,
    'batch size': run.config.batchSize, optimizer: run.optimizer.name, model: run.model.description, data: run.data,
    plugins: run.plugins.map((p) => p.name).join(', ') || 'none', created: run.createdAt,
    taylorlens: run.versions['@taylorlens/core'] ?? '?',
  };
}

/** A self-contained report.html for one run, from its folder alone. */
export async function buildRunReport(dir: string, opts: ReportOptions): Promise<{ html: string; warnings: string[]; flags: string[] }> {
  const r = loadRun(dir);
  const warnings: string[] = [];
  const sections = [trainingSection(r), ...warningsSection(r.run), ...await pluginSections(r.run.plugins, opts.cwd, (m) => m.module.reportSections?.(r.dir), warnings)];
  const html = await buildReport({ title: `taylorlens run: ${r.run.name}`, subtitle: r.dir, meta: runMeta(r.run), sections });
  return { html, warnings, flags: sectionFlags(sections) };
}

export async function writeRunReport(dir: string, opts: ReportOptions): Promise<ReportResult> {
  const { html, warnings, flags } = await buildRunReport(dir, opts);
  const file = path.join(path.resolve(dir), REPORT_HTML);
  await writeReport(file, html);
  return { path: file, warnings, flags };
}

/** Distinct labels: the run name, or name (folder) where names repeat. */
function labelRuns(runs: LoadedRun[]): void {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.run.name, (counts.get(r.run.name) ?? 0) + 1);
  for (const r of runs) r.label = counts.get(r.run.name)! > 1 ? `${r.run.name} (${path.basename(r.dir)})` : r.run.name;
}

/** One report across runs: training loss per run (Fig. 6), final numbers, each plugin's compareSections. */
export async function writeCompareReport(dirs: string[], outDir: string, opts: ReportOptions): Promise<ReportResult> {
  const runs = dirs.map((d) => loadRun(path.resolve(opts.cwd, d)));
  labelRuns(runs);
  const warnings: string[] = [];
  const curve: Row[] = [];
  const all: number[] = [];
  for (const r of runs) {
    const { smoothed } = smoothedSeries(r.rows);
    all.push(...smoothed.map((p) => p.y));
    for (const p of thin(smoothed, 600)) curve.push({ round: p.x, loss: p.y, run: r.label });
  }
  const losses = new Set(runs.map((r) => r.run.config.model.loss));
  const core: ReportSection = {
    id: 'training-loss', title: 'Training loss per run',
    intro: 'Fig. 6: the smoothed per-round training loss of every run on shared axes (moving average 0.1 of metrics.jsonl).' +
      (losses.size > 1 ? ' The runs use different losses, so their levels are not comparable.' : ''),
    figures: curve.length ? [{
      caption: 'Smoothed training loss per round, one line per run: lower and earlier is better.',
      spec: lineChart({
        title: 'Training loss per run', data: curve, series: 'run',
        x: { field: 'round', title: 'round (minibatch step)' },
        y: { field: 'loss', title: `loss (${[...losses].join(', ')})`, scale: lossScale(all) },
      }),
    }] : [],
    tables: [{
      caption: 'Final numbers per run',
      columns: [
        { key: 'run' }, { key: 'status' }, { key: 'optimizer' }, { key: 'epochs' }, { key: 'rounds' },
        { key: 'train', title: 'last epoch train loss' }, { key: 'val', title: 'last epoch validation loss' },
        { key: 'lastRound', title: 'last round loss' }, { key: 'seconds', title: 'training time (s)' },
      ],
      rows: runs.map((r) => {
        const last = lastEpoch(r.rows);
        return {
          run: r.label, status: r.run.status, optimizer: r.run.optimizer.name,
          epochs: r.run.summary?.epochsCompleted ?? Number(last?.epoch ?? 0), rounds: roundPoints(r.rows).at(-1)?.x ?? 0,
          train: num(last?.loss), val: num(last?.val_loss), lastRound: roundPoints(r.rows).at(-1)?.y ?? null,
          seconds: r.run.timings.trainMs / 1000,
        };
      }),
    }],
    notes: curve.length ? [] : ['None of these runs recorded a training round.'],
  };
  const names = [...new Set(runs.flatMap((r) => r.run.plugins.map((p) => p.name)))].sort();
  // Nothing is dropped silently: each section (or run) not shown is named, with why.
  const leftOut: LeftOut[] = [];
  const plugins = await pluginSections(names.map((name) => ({ name })), opts.cwd, async (m) => {
    const uses = (r: LoadedRun) => r.run.plugins.some((p) => p.name === m.name);
    const using = runs.filter(uses).map((r) => ({ label: r.label, dir: r.dir }));
    for (const r of runs.filter((x) => !uses(x))) leftOut.push({ what: `${m.name}, run "${r.label}"`, why: 'the run did not use this plugin' });
    if (!m.module.compareSections) {
      leftOut.push({ what: m.name, why: `the plugin (${m.packageName}) has no comparison sections` });
      return [];
    }
    const all = await m.module.compareSections(using);
    const omitted = all.filter((s) => s.leftOut !== undefined);
    const kept = all.filter((s) => s.leftOut === undefined);
    for (const s of omitted) leftOut.push({ what: kept.length === 0 && omitted.length === 1 ? m.name : `${m.name}, "${s.title}"`, why: s.leftOut! });
    if (all.length === 0) leftOut.push({ what: m.name, why: 'the plugin gave no comparison section for these runs (it did not say why)' });
    return kept;
  }, warnings);
  const lines = leftOut.map(leftOutLine);
  const omitted: ReportSection[] = lines.length === 0 ? [] : [{
    id: 'left-out', title: 'Left out of this comparison',
    intro: 'What this comparison does not show, and why.',
    figures: [], notes: lines,
  }];
  const sections = [core, ...omitted, ...plugins];
  const html = await buildReport({
    title: `taylorlens comparison: ${runs.length} runs`,
    meta: Object.fromEntries(runs.map((r, i) => [`run ${i + 1}`, `${r.label} — ${r.dir}`])),
    sections,
  });
  const file = path.join(path.resolve(opts.cwd, outDir), REPORT_HTML);
  await writeReport(file, html);
  return { path: file, warnings, flags: sectionFlags(sections), leftOut: lines };
}
