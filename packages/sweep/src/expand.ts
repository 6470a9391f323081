/**
 * A sweep file expanded into ordinary run configs: the base config, every combination of the axes
 * (in file order, the last axis fastest), times the seeds. Everything is checked before anything
 * is written: the sweep schema (ajv, like run configs), then each expanded config with the core's
 * own `validateConfig`. Problems name JSON pointers into the sweep file (ConfigError, exit 2).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAgainst, ConfigError, SeededRandom, validateConfig, type ConfigProblem } from '@taylorlens/core';

export const SWEEP_SCHEMA_FILE = 'sweep.schema.json';
/** Default folder (relative to the sweep file) that holds sweep folders. */
export const DEFAULT_SWEEPS_DIR = 'sweeps';

type Json = Record<string, unknown>;

export interface SweepAxis {
  name: string;
  path: string;
  values?: unknown[];
  labels?: string[];
  sample?: { distribution: 'uniform' | 'logUniform' | 'intUniform'; min: number; max: number; count: number; seed: number };
}

export interface SweepFile {
  name?: string;
  base: Json | string;
  axes?: SweepAxis[];
  seeds?: number[];
  output?: { dir: string };
}

/** One run of a sweep: its id (folder name), the value label per axis, its seed and config. */
export interface SweepRun {
  id: string;
  /** Axis name → label of the value this run takes. */
  axes: Record<string, string>;
  seed: number;
  config: Json;
}

export interface Expansion {
  name: string;
  /** The sweep file (absolute). */
  source: string;
  /** The folder this sweep's runs and manifest go to. */
  dir: string;
  axes: { name: string; path: string; labels: string[] }[];
  runs: SweepRun[];
}

let schema: object | undefined;
function sweepSchema(): object {
  // schemas/ sits two levels above both src/ and dist/.
  schema ??= JSON.parse(fs.readFileSync(fileURLToPath(new URL(`../schemas/${SWEEP_SCHEMA_FILE}`, import.meta.url)), 'utf8')) as object;
  return schema;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Read, check and expand a sweep file; throws ConfigError (every problem, with pointers) before anything is written. */
export async function expandSweepFile(file: string, cwd: string): Promise<Expansion> {
  const abs = path.resolve(cwd, file);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(abs, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found: expected a JSON sweep file here' : code === 'EISDIR' ? 'is a folder, expected a JSON sweep file'
      : e instanceof SyntaxError ? `not valid JSON: ${e.message}` : (e as Error).message;
    throw new ConfigError(abs, [{ pointer: '', message: why }]);
  }
  return expandSweep(raw, { source: abs, cwd });
}

/** Expand a parsed sweep (`source`: the file it came from; relative paths resolve against its folder). */
export async function expandSweep(raw: unknown, opts: { source: string; cwd: string }): Promise<Expansion> {
  const problems = checkAgainst(sweepSchema(), raw);
  if (problems.length > 0 || !isObj(raw)) throw new ConfigError(opts.source, problems);
  const sweep = raw as unknown as SweepFile;
  const here = path.dirname(opts.source);

  // The base config, and the folder its relative paths (data files, a saved model) resolve against.
  let base: Json;
  let baseDir = here;
  if (typeof sweep.base === 'string') {
    const file = path.resolve(here, sweep.base);
    try {
      base = JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
    } catch (e) {
      throw new ConfigError(opts.source, [{ pointer: '/base', message: `${file}: cannot read the base run config: ${(e as Error).message}` }]);
    }
    if (!isObj(base)) throw new ConfigError(opts.source, [{ pointer: '/base', message: `${file}: expected a JSON object (a run config)` }]);
    baseDir = path.dirname(file);
  } else {
    base = sweep.base;
  }

  const axes = (sweep.axes ?? []).map((a, i) => axisValues(a, i, problems));
  const names = new Set<string>();
  (sweep.axes ?? []).forEach((a, i) => {
    if (names.has(a.name)) problems.push({ pointer: `/axes/${i}/name`, message: `axis "${a.name}" is named twice; expected distinct names` });
    names.add(a.name);
    if (a.path === '/seed' || a.path === '/name' || a.path.startsWith('/output')) {
      problems.push({ pointer: `/axes/${i}/path`, message: `${a.path} is set by the sweep itself (seeds: "seeds"; name and output: the sweep folder); expected another field` });
    }
  });
  if (problems.length > 0) throw new ConfigError(opts.source, problems);

  const name = sweep.name ?? (path.basename(opts.source).replace(/\.json$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60) || 'sweep');
  const dir = path.resolve(here, sweep.output?.dir ?? DEFAULT_SWEEPS_DIR, name);
  const seeds = sweep.seeds ?? [typeof base.seed === 'number' ? base.seed : 0];

  const runs: SweepRun[] = [];
  const combos = cartesian(axes.map((a) => a.values.length));
  let index = 0;
  for (const combo of combos) {
    for (const seed of seeds) {
      const config = structuredClone(base);
      const labels: Record<string, string> = {};
      combo.forEach((j, i) => {
        setPointer(config, axes[i].path, structuredClone(axes[i].values[j]), `/axes/${i}/path`, problems);
        labels[axes[i].name] = axes[i].labels[j];
      });
      const id = runId(index++, Object.values(labels), seed);
      config.name = id;
      config.seed = seed;
      config.output = { ...(isObj(config.output) ? config.output : {}), dir: path.join(dir, 'runs', id) };
      absolutizePaths(config, baseDir);
      runs.push({ id, axes: labels, seed, config });
    }
  }
  if (problems.length > 0) throw new ConfigError(opts.source, dedupe(problems));

  // Every run config through the core's own validation; a problem names where its value came from.
  for (const run of runs) {
    try {
      await validateConfig(run.config, { source: run.id, baseDir, cwd: opts.cwd });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const p of e.problems) problems.push({ pointer: origin(p.pointer, sweep, axes, run), message: `(run ${run.id}) ${p.message}` });
    }
  }
  if (problems.length > 0) throw new ConfigError(opts.source, dedupe(problems));
  return { name, source: opts.source, dir, axes: axes.map(({ name: n, path: p, labels }) => ({ name: n, path: p, labels })), runs };
}

interface ResolvedAxis { name: string; path: string; values: unknown[]; labels: string[] }

/** An axis's values (given, or drawn from its seeded distribution) and their labels. */
function axisValues(a: SweepAxis, i: number, problems: ConfigProblem[]): ResolvedAxis {
  const at = `/axes/${i}`;
  if ((a.values === undefined) === (a.sample === undefined)) {
    problems.push({ pointer: at, message: 'expected exactly one of "values" (a list) or "sample" (a seeded distribution)' });
    return { name: a.name, path: a.path, values: [], labels: [] };
  }
  let values: unknown[];
  if (a.sample) {
    const s = a.sample;
    if (!(s.min < s.max)) problems.push({ pointer: `${at}/sample/max`, message: `expected a number > min (${s.min}), got ${s.max}` });
    if (s.distribution === 'logUniform' && !(s.min > 0)) problems.push({ pointer: `${at}/sample/min`, message: `expected a number > 0 for a log-uniform draw, got ${s.min}` });
    if (s.distribution === 'intUniform' && !(Number.isInteger(s.min) && Number.isInteger(s.max))) {
      problems.push({ pointer: `${at}/sample`, message: `expected integer min and max for an integer draw, got ${s.min} and ${s.max}` });
    }
    const rng = new SeededRandom(s.seed);
    values = Array.from({ length: s.count }, () => draw(s, rng.next()));
  } else {
    values = a.values!;
  }
  let labels: string[];
  if (a.labels) {
    labels = a.labels;
    if (labels.length !== values.length) problems.push({ pointer: `${at}/labels`, message: `expected ${values.length} labels (one per value), got ${labels.length}` });
  } else {
    labels = values.map((v, j) => autoLabel(v, j));
  }
  const seen = new Map<string, number>();
  labels.forEach((l, j) => {
    if (seen.has(l)) problems.push({ pointer: a.labels ? `${at}/labels/${j}` : `${at}/values/${j}`, message: `label "${l}" repeats value ${seen.get(l)}'s; expected distinct values${a.labels ? ' and labels' : ' (or give "labels")'}` });
    seen.set(l, j);
  });
  return { name: a.name, path: a.path, values, labels };
}

function draw(s: NonNullable<SweepAxis['sample']>, u: number): number {
  if (s.distribution === 'logUniform') return Math.exp(Math.log(s.min) + u * (Math.log(s.max) - Math.log(s.min)));
  if (s.distribution === 'intUniform') return s.min + Math.floor(u * (s.max - s.min + 1));
  return s.min + u * (s.max - s.min);
}

/** A short label: numbers to 4 significant digits, strings as they are, `{ name }` objects by name. */
function autoLabel(v: unknown, j: number): string {
  let s: string;
  // 1e+30 → 1e30: '+' is not allowed in a run name, and '-' would read as a negative exponent.
  if (typeof v === 'number') s = (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)))).replace('e+', 'e');
  else if (typeof v === 'string' || typeof v === 'boolean') s = String(v);
  else if (isObj(v) && typeof v.name === 'string') s = v.name;
  else s = `v${j}`;
  s = s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 24);
  return s || `v${j}`;
}

/** Every index tuple of the given sizes, last position fastest; one empty tuple for no axes. */
function cartesian(sizes: number[]): number[][] {
  let out: number[][] = [[]];
  for (const n of sizes) out = out.flatMap((t) => Array.from({ length: n }, (_, j) => [...t, j]));
  return out;
}

/** `003-adam-lr=0.001-s1`: index first (order), then the labels, then the seed; at most 80 characters. */
function runId(index: number, labels: string[], seed: number): string {
  const id = [String(index).padStart(3, '0'), ...labels, `s${seed}`].join('-');
  return id.length <= 80 ? id : `${id.slice(0, 70)}-s${seed}`.slice(0, 80);
}

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** Set the value at a JSON pointer; its parent must exist and be an object (or an array, for an index). */
function setPointer(target: Json, pointer: string, value: unknown, at: string, problems: ConfigProblem[]): void {
  const parts = pointer.split('/').slice(1).map(unescape);
  let node: unknown = target;
  for (const [k, part] of parts.slice(0, -1).entries()) {
    const next = Array.isArray(node) ? node[Number(part)] : isObj(node) ? node[part] : undefined;
    if (!isObj(next) && !Array.isArray(next)) {
      problems.push({ pointer: at, message: `${pointer}: the base config (with the axes before it applied) has no object at /${parts.slice(0, k + 1).join('/')}; expected a path whose parent exists` });
      return;
    }
    node = next;
  }
  const last = parts.at(-1)!;
  if (Array.isArray(node)) node[Number(last)] = value;
  else (node as Json)[last] = value;
}

/** Data files and saved models named relative to the base config resolve against its folder, wherever the run's config lives. */
function absolutizePaths(config: Json, baseDir: string): void {
  const fix = (o: unknown, keys: string[]) => {
    if (!isObj(o)) return;
    for (const k of keys) if (typeof o[k] === 'string') o[k] = path.resolve(baseDir, o[k] as string);
  };
  fix(config.model, ['saved']);
  fix(config.data, ['dir', 'trainImages', 'trainLabels', 'testImages', 'testLabels', 'path']);
}

/** Where a problem in an expanded config came from: an axis's value, or the base config. */
function origin(pointer: string, sweep: SweepFile, axes: ResolvedAxis[], run: SweepRun): string {
  for (let i = axes.length - 1; i >= 0; i--) {
    const p = axes[i].path;
    if (pointer === p || pointer.startsWith(p + '/')) {
      const j = axes[i].labels.indexOf(run.axes[axes[i].name]);
      return sweep.axes![i].sample ? `/axes/${i}/sample` : `/axes/${i}/values/${j}${pointer.slice(p.length)}`;
    }
  }
  if (pointer === '/seed') return '/seeds';
  return typeof sweep.base === 'string' ? `/base (${sweep.base}: ${pointer || '/'})` : `/base${pointer}`;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.pointer}\n${p.message.replace(/^\(run [^)]*\) /, '')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
