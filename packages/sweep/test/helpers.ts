/** Test helpers: the built CLI with the sweep package, child processes, and runs one by one to compare against. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { buildCli, CLI_MAIN, finalWeights, readRows, REPO_ROOT } from '../../core/test/fixtures/project.js';

export { CLI_MAIN, REPO_ROOT };

/** Build core (the CLI) and sweep (which the CLI imports on demand) into dist/. */
export function buildAll(): void {
  buildCli();
  execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'packages/sweep'], { cwd: REPO_ROOT, stdio: 'pipe' });
}

export interface Exited { code: number | null; signal: NodeJS.Signals | null; out: string }

/** Start the CLI in `cwd`; `done` resolves when it exits. */
export function startCli(cwd: string, args: string[]): { child: ChildProcess; done: Promise<Exited> } {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const done = new Promise<Exited>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
  return { child, done };
}

export const cli = (cwd: string, args: string[]) => startCli(cwd, args).done;

export async function until(what: string, test: () => boolean, timeoutMs = 240_000, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Run each of the sweep's run configs alone, one after another, with the CLI; returns id → run folder. */
export async function runOneByOne(cwd: string, sweepDir: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of ids) {
    const cfg = JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'config.json'), 'utf8'));
    cfg.output = { ...cfg.output, dir: path.join(cwd, 'one-by-one', id) };
    const file = path.join(cwd, `alone-${id}.json`);
    fs.writeFileSync(file, JSON.stringify(cfg));
    const r = await cli(cwd, ['run', file]);
    expect(r.code, r.out).toBe(0);
    const dirs = fs.readdirSync(cfg.output.dir);
    expect(dirs).toHaveLength(1);
    out.set(id, path.join(cfg.output.dir, dirs[0]));
  }
  return out;
}

/** Metrics rows without anything measured in wall-clock time. */
const rowsOf = (dir: string) => readRows(dir).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !/ms$|Ms$|seconds|time/i.test(k))));

/** Final weights (bytes) and metrics rows of two run folders are identical. */
export function expectSameRun(a: string, b: string, label: string): void {
  const wa = finalWeights(a);
  const wb = finalWeights(b);
  expect([...wa.keys()], label).toEqual([...wb.keys()]);
  expect(wa.size, label).toBeGreaterThan(0);
  for (const [k, bytes] of wa) expect(bytes.equals(wb.get(k)!), `${label}: weights/${k}`).toBe(true);
  expect(rowsOf(a), label).toEqual(rowsOf(b));
}

/** The run folder the CLI made under `<sweepDir>/runs/<id>/`. */
export function runDirOf(sweepDir: string, id: string): string {
  const home = path.join(sweepDir, 'runs', id);
  const dirs = fs.readdirSync(home, { withFileTypes: true }).filter((e) => e.isDirectory());
  expect(dirs, home).toHaveLength(1);
  return path.join(home, dirs[0].name);
}

export function runStatus(sweepDir: string, id: string): string | null {
  const home = path.join(sweepDir, 'runs', id);
  for (const e of fs.readdirSync(home, { withFileTypes: true })) {
    const f = path.join(home, e.name, 'run.json');
    if (e.isDirectory() && fs.existsSync(f)) {
      try {
        return (JSON.parse(fs.readFileSync(f, 'utf8')) as { status: string }).status;
      } catch { return null; } // being replaced
    }
  }
  return null;
}
