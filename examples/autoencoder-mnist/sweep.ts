/**
 * The optimizer sweep behind the paper's experiments (also used by ../convnet and
 * ../custom-optimizer/compare.ts): one run config per optimizer, identical but for the optimizer
 * (same seed, so the same initial weights and data order), written to `<out>/configs/`, run one
 * after another through core's run module, then one `compare` report across the runs.
 *
 *   <out>/configs/<label>.json    each run's config: `taylorlens run <out>/configs/adam.json` repeats it
 *   <out>/runs/<stamp>-<name>-…/  one run folder per optimizer (run.json, metrics.jsonl, report.html, …)
 *   <out>/compare/report.html     the runs side by side
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  loadConfigFile, startRun, validateConfig, writeCompareReport,
  type MetricsRow, type OptimizerEntry, type ResolvedConfig, type RunConfig, type RunFileStatus, type RunReporter,
} from '@taylorlens/core';

/** Plugin packages resolve from here (the examples package depends on every plugin). */
const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * A file of the examples package by its path there ("autoencoder-mnist/config.template.json"),
 * from the sources or from dist/ alike (tsc does not copy JSON files to dist/).
 */
export function examplesFile(rel: string): string {
  for (let dir = HERE; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === '@taylorlens/examples') return path.join(dir, rel);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the examples package above ${HERE}`);
  }
}

/** The paper's optimizers: Adam and RMSProp at their default rates, SGD at 1.0, 0.1 and 0.01. */
export const PAPER_OPTIMIZERS = ['adam', 'rmsprop', 'sgd-1.0', 'sgd-0.1', 'sgd-0.01'];

export interface OptimizerChoice {
  /** Names the config file and ends the run name: "adam", "sgd-0.1". */
  label: string;
  /** Optimizer name in the config. */
  name: string;
  options: Record<string, unknown>;
  /** An optimizer from your own code, used in place of the one the config's name would resolve to. */
  entry?: OptimizerEntry;
}

/**
 * "adam,rmsprop,sgd-0.1" → one choice each. `<name>` uses the optimizer's default learning rate,
 * `<name>-<rate>` sets it. Names are those a config accepts (plugin-optimizers' or tfjs's).
 */
export function parseOptimizers(list: string): OptimizerChoice[] {
  const labels = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (labels.length === 0) throw new Error('--optimizers: expected a comma-separated list such as adam,rmsprop,sgd-0.1');
  return labels.map((label) => {
    const m = /^([A-Za-z][A-Za-z0-9]*)(?:-(\d*\.?\d+(?:e-?\d+)?))?$/.exec(label);
    if (!m) throw new Error(`--optimizers: "${label}" is not <name> or <name>-<learning rate> (e.g. sgd-0.1)`);
    return { label, name: m[1], options: m[2] === undefined ? {} : { learningRate: Number(m[2]) } };
  });
}

export interface SweepOptions {
  /** Everything but the name and the optimizer, which each run sets. */
  template: RunConfig;
  /** Run names are `<prefix>-<label>`. */
  prefix: string;
  optimizers: OptimizerChoice[];
  /** Folder for configs/, runs/ and compare/ (created). */
  out: string;
  /** tfjs backend to require; default the best available. */
  backend?: string;
  /** Ctrl-C ends the current run cleanly (as `interrupted`) and skips the rest; for scripts, not tests. */
  handleSignals?: boolean;
  /** Progress lines (default console.log) and warnings (default console.error). */
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

export interface SweepRun {
  label: string;
  config: string;
  dir: string;
  status: RunFileStatus;
  /** Seconds spent training, and for the whole run (setup, training, report). */
  trainSeconds: number;
  wallSeconds: number;
  report: string | null;
}

export interface SweepResult {
  runs: SweepRun[];
  /** The compare report, and the plugin sections that could not be built. */
  compare: { path: string; warnings: string[] };
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const warn = opts.warn ?? ((l: string) => console.error(l));
  const out = path.resolve(opts.out);
  fs.mkdirSync(path.join(out, 'configs'), { recursive: true });
  // Write and validate every config before training anything: a typo in the last one fails at once.
  const planned: { choice: OptimizerChoice; file: string; resolved: ResolvedConfig }[] = [];
  for (const choice of opts.optimizers) {
    const config: RunConfig = {
      ...opts.template,
      name: `${opts.prefix}-${choice.label}`,
      optimizer: { name: choice.name, options: choice.options },
      output: { ...opts.template.output, dir: '../runs' }, // relative to the config file
    };
    const file = path.join(out, 'configs', `${choice.label}.json`);
    fs.writeFileSync(file, JSON.stringify(config, null, 2) + '\n');
    const resolved = choice.entry ? await resolveWithEntry(config, file, choice.entry) : await loadConfigFile(file, HERE);
    planned.push({ choice, file, resolved });
  }
  const runs: SweepRun[] = [];
  for (const { choice, file, resolved } of planned) {
    const t0 = Date.now();
    const o = await startRun(resolved, { cwd: HERE, backend: opts.backend, reporter: reporter(choice.label, log, warn), handleSignals: opts.handleSignals });
    const wallSeconds = (Date.now() - t0) / 1000;
    runs.push({ label: choice.label, config: file, dir: o.dir, status: o.status, trainSeconds: o.run.timings.trainMs / 1000, wallSeconds, report: o.reportPath });
    log(`[${choice.label}] ${o.status} in ${wallSeconds.toFixed(1)} s`);
    if (o.status === 'interrupted') {
      warn('interrupted: skipping the remaining optimizers; comparing the runs so far');
      break;
    }
  }
  const compare = await writeCompareReport(runs.map((r) => r.dir), path.join(out, 'compare'), { cwd: HERE });
  for (const w of compare.warnings) warn(`warning: ${w}`);
  log(`compare report: ${compare.path}`);
  return { runs, compare };
}

/**
 * A config names its optimizer, and the run module resolves that name among installed plugin
 * modules and tfjs. An optimizer that lives in your own code is not among them: validate the config
 * with a stand-in name, then put your entry (and your name, for run.json) in its place.
 */
async function resolveWithEntry(config: RunConfig, file: string, entry: OptimizerEntry): Promise<ResolvedConfig> {
  const standIn = { ...config, optimizer: { name: 'sgd' } };
  const resolved = await validateConfig(standIn, { source: file, baseDir: path.dirname(file), cwd: HERE });
  entry.create(config.optimizer.options ?? {}).dispose(); // its options are checked now, not mid-sweep
  return { ...resolved, config: { ...resolved.config, optimizer: config.optimizer }, optimizer: entry };
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(4) : v.toExponential(3)) : String(v));

/** One line per epoch (the CLI's progress bar is not part of core's public API). */
function reporter(label: string, log: (l: string) => void, warn: (l: string) => void): RunReporter {
  return {
    info: (line) => log(`[${label}] ${line}`),
    warn: (line) => warn(`[${label}] ${line}`),
    track: (trainer, plan) => {
      let t = Date.now();
      const onEpoch = (row: MetricsRow) => {
        const extra = Object.entries(row).filter(([k]) => !['epoch', 'round', 'loss'].includes(k)).map(([k, v]) => `${k} ${fmt(v)}`);
        log(`[${label}] epoch ${row.epoch}/${plan.epochs}: loss ${fmt(row.loss)}${extra.length ? ', ' + extra.join(', ') : ''} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
        t = Date.now();
      };
      trainer.events.on('epoch', onEpoch);
      return () => trainer.events.off('epoch', onEpoch);
    },
  };
}

/** Help lines of the flags every paper sweep shares (autoencoder, convnet), after the script's own. */
export function sharedFlagsHelp(d: { epochs: number; testLimit: number; optimizers: string; out: string; neurons: number; seed: number }, limit: string): string {
  return `  --epochs <n>        epochs per optimizer (default ${d.epochs})
  --limit <n>         training images (default: ${limit})
  --test-limit <n>    test images for the validation loss (default ${d.testLimit}, at most --limit)
  --optimizers <list> comma-separated <name> or <name>-<learning rate> (default ${d.optimizers})
  --out <dir>         folder for configs/, runs/ and compare/ (default ${d.out})
  --neurons <n>       neurons (filters) per layer in regret's neuron scope (default ${d.neurons}, the paper's)
  --no-network        regret's network scope off (its checkpoint solves replay every stored round,
                      so their cost grows with the run)
  --network-every <n> store one round in n for the network scope (default: the template's 100); its
                      checkpoint solves cost about n⁻¹ × the rounds so far × a few hundred products
  --seed <n>          initial weights, data order, probe draw (default ${d.seed})
  --backend <name>    wasm, cpu, tensorflow or webgpu (default: the best available)`;
}

/** Flags every sweep script shares; `extra` adds its own. Numbers must be positive integers. */
export function parseFlags<E extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], extra: E) {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      epochs: { type: 'string' }, limit: { type: 'string' }, 'test-limit': { type: 'string' }, out: { type: 'string' },
      optimizers: { type: 'string' }, neurons: { type: 'string' }, seed: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      'no-network': { type: 'boolean' }, 'network-every': { type: 'string' },
      ...extra,
    },
  });
  return values as Record<string, string | boolean | undefined>;
}

/** The regret plugin's options in a config, with `--no-network` and `--network-every` applied (null without the plugin). */
export function regretOptionsFor(cfg: RunConfig, f: Record<string, unknown>): { neurons: { layers: string[]; perLayer: unknown }; network: { enabled: boolean; every?: number } } | null {
  const regret = cfg.plugins?.find((p) => p.name === 'regret')?.options as ReturnType<typeof regretOptionsFor>;
  if (!regret) return null;
  // The network scope's checkpoint solves replay every stored round, so they grow with the run.
  if (f['no-network']) regret.network.enabled = false;
  const every = positiveInt(f, 'network-every');
  if (every !== undefined) regret.network.every = every;
  return regret;
}

export function positiveInt(values: Record<string, unknown>, flag: string): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${String(v)}"`);
  return n;
}

/**
 * Run `main(process.argv)` when this file is the entry point. Exit code: 0 when every run completed
 * or diverged (a divergence is a result: SGD at 1.0 may), 1 when one failed, 130 when interrupted,
 * 2 for bad flags or configs.
 */
export async function runAsScript(metaUrl: string, main: (args: string[], signals: boolean) => Promise<SweepResult | null>): Promise<void> {
  if (process.argv[1] === undefined || path.resolve(process.argv[1]) !== fileURLToPath(metaUrl)) return;
  let code = 0;
  try {
    const r = await main(process.argv.slice(2), true);
    const statuses = r?.runs.map((x) => x.status) ?? [];
    code = statuses.includes('interrupted') ? 130 : statuses.includes('failed') ? 1 : 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    code = 2;
  }
  // Exit explicitly once stdout has drained: a backend may keep handles open that would hold the process.
  process.stdout.write('', () => process.exit(code));
}

/** The sweep's runs as a small table for the terminal. */
export function summaryLines(r: SweepResult): string[] {
  const rows = r.runs.map((x) => [x.label, x.status, x.trainSeconds.toFixed(1), x.wallSeconds.toFixed(1), x.dir]);
  const head = ['optimizer', 'status', 'train s', 'wall s', 'run folder'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [head, ...rows].map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i]))).join('  '));
}

/** What an example's `main` takes besides its flags. */
export interface MainIo {
  log?: (line: string) => void;
  warn?: (line: string) => void;
  /** Let Ctrl-C end the current run cleanly (scripts only). */
  signals?: boolean;
}

/** Run one experiment's sweep with the shared flags (`--out`, `--backend`) and print its summary. */
export async function runExperiment(io: MainIo, f: Record<string, unknown>, defaultOut: string,
  spec: Pick<SweepOptions, 'template' | 'prefix' | 'optimizers'>): Promise<SweepResult> {
  const log = io.log ?? ((l: string) => console.log(l));
  const result = await runSweep({
    ...spec,
    out: String(f.out ?? defaultOut),
    backend: f.backend as string | undefined,
    handleSignals: io.signals,
    log,
    warn: io.warn,
  });
  for (const line of summaryLines(result)) log(line);
  return result;
}
