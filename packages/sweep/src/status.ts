/** `taylorlens sweep-status`: per run its state, progress, last worker and attempts, read from the sweep folder alone. */
import { readManifest, viewRun, type RunState } from './folder.js';

export interface StatusRow {
  id: string;
  axes: Record<string, string>;
  seed: number;
  state: RunState;
  /** "3/20" epochs as of the last checkpoint. */
  progress: string;
  worker: string;
  attempts: number;
  runDir: string | null;
}

export function sweepStatus(sweepDir: string): { name: string; axes: string[]; rows: StatusRow[] } {
  const m = readManifest(sweepDir);
  const rows = m.runs.map((r) => {
    const v = viewRun(sweepDir, r.id);
    return {
      id: r.id, axes: r.axes, seed: r.seed, state: v.state, progress: `${v.epochDone}/${v.epochs}`,
      worker: v.attempts.at(-1)?.worker ?? '', attempts: v.attempts.length, runDir: v.runDir,
    };
  });
  return { name: m.name, axes: m.axes.map((a) => a.name), rows };
}

/** A plain text table, columns padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

export function formatStatus(s: ReturnType<typeof sweepStatus>): string {
  const counts = new Map<string, number>();
  for (const r of s.rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const head = `sweep ${s.name}: ${s.rows.length} runs: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}\n`;
  return head + table(
    ['run', ...s.axes, 'seed', 'status', 'progress', 'worker', 'attempts'],
    s.rows.map((r) => [r.id, ...s.axes.map((a) => r.axes[a] ?? ''), String(r.seed), r.state, r.progress, r.worker, String(r.attempts)]),
  );
}
