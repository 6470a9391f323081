/**
 * `taylorlens sweep-compare`: the core's compare report over every completed run of a sweep, and a
 * summary grouped by the swept axes (seeds pooled): per group the mean ± standard deviation over
 * seeds of the final training and validation loss and, for runs with the regret plugin, of each
 * scope's normalised regret at its last checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeCompareReport, writeJsonAtomic, type ReportResult } from '@taylorlens/core';
import { readManifest, viewRun } from './folder.js';
import { table } from './status.js';

export interface GroupRow {
  axes: Record<string, string>;
  runs: number;
  /** Metric → mean and sample standard deviation over the group's runs (std null for one run). */
  metrics: Record<string, { mean: number; std: number | null; n: number }>;
}

/** The numbers a run contributes: final epoch losses, and each regret scope's last normalised mean. */
function runMetrics(runDir: string, run: NonNullable<ReturnType<typeof viewRun>['run']>): Record<string, number> {
  const out: Record<string, number> = {};
  const train = run.summary?.epochLoss.at(-1);
  const val = run.summary?.valLoss.at(-1);
  if (Number.isFinite(train)) out['train loss'] = train!;
  if (Number.isFinite(val)) out['val loss'] = val!;
  const regretFile = path.join(runDir, 'regret', 'regret.json');
  if (fs.existsSync(regretFile)) {
    const r = JSON.parse(fs.readFileSync(regretFile, 'utf8')) as { scopes?: Record<string, { checkpoints?: { summary?: { mean?: number } }[] }> };
    for (const [scope, rec] of Object.entries(r.scopes ?? {})) {
      const m = rec.checkpoints?.at(-1)?.summary?.mean;
      if (typeof m === 'number' && Number.isFinite(m)) out[`regret ${scope}`] = m;
    }
  }
  return out;
}

export function groupSweep(sweepDir: string): { axes: string[]; groups: GroupRow[]; completed: string[]; missing: string[] } {
  const m = readManifest(sweepDir);
  const groups = new Map<string, { axes: Record<string, string>; values: Map<string, number[]>; runs: number }>();
  const completed: string[] = [];
  const missing: string[] = [];
  for (const r of m.runs) {
    const v = viewRun(sweepDir, r.id);
    if (v.state !== 'completed' || !v.run || !v.runDir) { missing.push(`${r.id} (${v.state})`); continue; }
    completed.push(v.runDir);
    const key = JSON.stringify(m.axes.map((a) => r.axes[a.name]));
    const g = groups.get(key) ?? { axes: r.axes, values: new Map(), runs: 0 };
    g.runs++;
    for (const [k, x] of Object.entries(runMetrics(v.runDir, v.run))) g.values.set(k, [...(g.values.get(k) ?? []), x]);
    groups.set(key, g);
  }
  const rows = [...groups.values()].map((g) => ({
    axes: g.axes, runs: g.runs,
    metrics: Object.fromEntries([...g.values].map(([k, xs]) => [k, meanStd(xs)])),
  }));
  return { axes: m.axes.map((a) => a.name), groups: rows, completed, missing };
}

function meanStd(xs: number[]): { mean: number; std: number | null; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n };
}

const fmt = (x: { mean: number; std: number | null } | undefined) =>
  !x ? '' : `${x.mean.toPrecision(4)}${x.std === null ? '' : ` ± ${x.std.toPrecision(2)}`}`;

export function formatGroups(g: ReturnType<typeof groupSweep>): string {
  const metrics = [...new Set(g.groups.flatMap((r) => Object.keys(r.metrics)))];
  return table(
    [...g.axes, 'runs', ...metrics],
    g.groups.map((r) => [...g.axes.map((a) => r.axes[a] ?? ''), String(r.runs), ...metrics.map((k) => fmt(r.metrics[k]))]),
  );
}

/** Write `<out>/report.html` (the core's compare) and `<out>/sweep-summary.{json,txt}`; returns the text summary. */
export async function compareSweep(sweepDir: string, outDir: string, cwd: string): Promise<{ text: string; report: ReportResult | null; missing: string[] }> {
  const g = groupSweep(sweepDir);
  const out = path.resolve(cwd, outDir);
  fs.mkdirSync(out, { recursive: true });
  const text = `mean ± std over seeds, final values (regret: normalised, mean over the scope's problems)\n${formatGroups(g)}`;
  writeJsonAtomic(path.join(out, 'sweep-summary.json'), { axes: g.axes, groups: g.groups, leftOut: g.missing });
  fs.writeFileSync(path.join(out, 'sweep-summary.txt'), text);
  const report = g.completed.length ? await writeCompareReport(g.completed, out, { cwd }) : null;
  return { text, report, missing: g.missing };
}
