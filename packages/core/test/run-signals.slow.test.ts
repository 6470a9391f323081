// The real binary in child processes: SIGINT mid-epoch ends a run as 'interrupted' (exit 130)
// with every row flushed, and `run --resume` finishes it with the same final weights, bit for bit,
// as the same run left alone. Also: an invalid config through the binary exits 2, writing nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildCli, CLI_MAIN, REPO_ROOT, finalWeights, onlyRun, readJson, readRows, tempProject, tinyConfig, writeConfig, type Project,
} from './fixtures/project.js';

let project: Project;

beforeAll(() => {
  buildCli(); // the binary runs from dist/
  expect(fs.existsSync(CLI_MAIN)).toBe(true);
  project = tempProject('taylorlens-signals-');
});
afterAll(() => project?.cleanup());

interface Child { code: number | null; signal: NodeJS.Signals | null; out: string }

/** Run the CLI; `whenReady` (polled every 20 ms) may return true to have SIGINT sent. */
function cli(args: string[], whenReady?: () => boolean): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = whenReady && setInterval(() => {
      if (whenReady()) {
        clearInterval(timer);
        child.kill('SIGINT');
      }
    }, 20);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, out });
    });
  });
}

/** The first epoch row is flushed to metrics.jsonl at that epoch's end. */
function firstEpochDone(root: string): boolean {
  if (!fs.existsSync(root)) return false;
  const dirs = fs.readdirSync(root);
  if (dirs.length === 0) return false;
  const m = path.join(root, dirs[0], 'metrics.jsonl');
  return fs.existsSync(m) && fs.readFileSync(m, 'utf8').includes('"kind":"epoch"');
}

describe('taylorlens run in a child process', () => {
  it('SIGINT mid-epoch: interrupted, rows all there; --resume ends with the same weights as an uninterrupted run', async () => {
    // 256 rounds per epoch: wide enough that the signal lands inside epoch 2.
    const cfg = (name: string) => tinyConfig({
      name, epochs: 3, batchSize: 8, data: { source: 'mnist', limit: 2048, target: 'input', flatten: true },
      backend: 'wasm', plugins: [{ name: 'echo' }], output: { dir: `runs-${name}` },
    });
    const alone = await cli(['run', writeConfig(project.dir, cfg('alone'), 'alone.json')]);
    expect(alone.code, alone.out).toBe(0);
    const aloneDir = onlyRun(path.join(project.dir, 'runs-alone'));

    writeConfig(project.dir, cfg('cut'), 'cut.json');
    const cutRoot = path.join(project.dir, 'runs-cut');
    const cut = await cli(['run', 'cut.json'], () => firstEpochDone(cutRoot));
    expect(cut.code, cut.out).toBe(130);
    expect(cut.out).toContain('SIGINT: finishing the current round');
    const dir = onlyRun(cutRoot);
    const run = readJson(path.join(dir, 'run.json'));
    expect(run).toMatchObject({ status: 'interrupted', reason: 'SIGINT', checkpoint: { epoch: 1, round: 256 } });
    const rounds = readRows(dir).filter((r) => r.kind === 'round').map((r) => r.round);
    expect(rounds.length).toBeGreaterThan(256);
    expect(rounds.length).toBeLessThan(512);
    expect(rounds).toEqual(Array.from({ length: rounds.length }, (_, i) => i + 1));
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);

    const resumed = await cli(['run', '--resume', dir]);
    expect(resumed.code, resumed.out).toBe(0);
    expect(resumed.out).toMatch(new RegExp(`dropped ${rounds.length - 256} metrics row`));
    const a = finalWeights(aloneDir);
    const b = finalWeights(dir);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [f, bytes] of a) expect(b.get(f)!.equals(bytes), `weights/${f} differs`).toBe(true);
    expect(readRows(dir)).toEqual(readRows(aloneDir));
    expect(readJson(path.join(dir, 'run.json')).status).toBe('completed');
  });

  it('an invalid config exits 2 with its problems and writes nothing', async () => {
    const bad = tinyConfig({ epochs: 'many', optimizer: { name: 'nadam' }, output: { dir: 'runs-bad' } });
    const r = await cli(['run', writeConfig(project.dir, bad, 'bad.json')]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('  /epochs: expected an integer, got string "many"');
    expect(r.out).toMatch(/ {2}\/optimizer\/name: unknown optimizer "nadam"; available: .*adam \((tfjs|@taylorlens\/plugin-optimizers)\)/);
    expect(fs.existsSync(path.join(project.dir, 'runs-bad'))).toBe(false);
  });
});
