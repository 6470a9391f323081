/** One training run's folder: JSON and .npy artefacts, a metrics stream, per-plugin subfolders. */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeJsonAtomic, writeNpyAtomic } from './atomic.js';
import { JsonlWriter } from './jsonl.js';
import type { NpyInput } from './npy.js';

export const RUN_JSON = 'run.json';
export const METRICS_JSONL = 'metrics.jsonl';
/** The same rows as a table (written at each epoch end and when the run ends). */
export const METRICS_CSV = 'metrics.csv';

/** UTC, sortable, filename-safe: 20250102-030405. */
function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Names become path segments: keep letters, digits, dot, dash, underscore. */
function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|-+$/g, '');
  return s || 'run';
}

/** A failed mkdir in words (read-only places often answer ENOENT or EROFS rather than EACCES). */
function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES': case 'EPERM': return 'permission denied (a read-only folder?)';
    case 'EROFS': return 'the filesystem is read-only';
    case 'ENOENT': return 'the system refused to create it (a read-only or special filesystem?)';
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'ENOSPC': return 'no space left on the device';
    default: return (e as Error).message;
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir spins forever where a filesystem answers
 * ENOENT to every new folder (e.g. under /proc), and this way the failing level is the one named.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export class RunDir {
  private metrics: JsonlWriter | null = null;

  /** Absolute path of the run folder. */
  private constructor(readonly dir: string) {}

  /**
   * Make a new, unique run folder `<root>/<UTC timestamp>-<name>-<6 hex>` (root created if needed).
   * mkdir without `recursive` fails on an existing folder, so a clash retries and nothing is overwritten.
   */
  static create(root: string, name: string): RunDir {
    const base = path.resolve(root);
    try {
      makeFolders(base);
    } catch (e) {
      throw new Error(`${base}: cannot create the output folder: ${fsProblem(e)}`);
    }
    for (let attempt = 0; attempt < 16; attempt++) {
      const dir = path.join(base, `${stamp(new Date())}-${safeName(name)}-${randomBytes(3).toString('hex')}`);
      try {
        fs.mkdirSync(dir);
        return new RunDir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${dir}: cannot create the run folder: ${fsProblem(e)}`);
      }
    }
    throw new Error(`${base}: could not find a free run folder name for '${name}' after 16 tries`);
  }

  /** Open an existing run folder. */
  static open(dir: string): RunDir {
    const abs = path.resolve(dir);
    if (!fs.existsSync(abs)) throw new Error(`${abs}: missing folder: expected a run folder`);
    if (!fs.statSync(abs).isDirectory()) throw new Error(`${abs}: is a file, expected a run folder`);
    return new RunDir(abs);
  }

  /** Path inside the run; refuses absolute parts and `..` escapes so artefacts stay in the run. */
  path(...parts: string[]): string {
    const p = path.resolve(this.dir, ...parts);
    if (p !== this.dir && !p.startsWith(this.dir + path.sep)) {
      throw new Error(`${p}: outside run folder ${this.dir} (from parts ${JSON.stringify(parts)})`);
    }
    return p;
  }

  writeJson(rel: string, value: unknown): string {
    const p = this.path(rel);
    writeJsonAtomic(p, value);
    return p;
  }

  writeNpy(rel: string, arr: NpyInput): string {
    const p = this.path(rel);
    writeNpyAtomic(p, arr);
    return p;
  }

  /** Append one row to metrics.jsonl (buffered; see flush/flushSync/close). */
  appendMetrics(row: object): void {
    this.metrics ??= new JsonlWriter(this.path(METRICS_JSONL));
    this.metrics.append(row);
  }

  async flush(): Promise<void> { await this.metrics?.flush(); }
  flushSync(): void { this.metrics?.flushSync(); }
  close(): void { this.metrics?.close(); this.metrics = null; }

  /** `<runDir>/<pluginName>/`, created on first use. */
  pluginDir(pluginName: string): string {
    const safe = safeName(pluginName);
    if (safe !== pluginName) {
      throw new Error(`plugin name '${pluginName}' is not a safe folder name: use letters, digits, '.', '-', '_' (e.g. '${safe}')`);
    }
    if (pluginName === RUN_JSON || pluginName === METRICS_JSONL) throw new Error(`plugin name '${pluginName}' clashes with a run file`);
    const p = this.path(pluginName);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }

  readRunJson<T = Record<string, unknown>>(): T {
    const p = this.path(RUN_JSON);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`${p}: ${code === 'ENOENT' ? `missing file: no ${RUN_JSON} in this run folder` : (e as Error).message}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${p}: invalid JSON: ${(e as Error).message}`);
    }
  }
}
