// A battery of malformed inputs, as a hostile but fair user would give them: every one is refused
// before any work — exit code 2, a message naming the field or the file and what is wrong with it,
// and nothing written. The configs are kept in fixtures/malformed/configs (cases.json says what
// each must print); the data files they point at, the oversized configs and the damaged run
// folders (checkpoints, metrics, run.json, locks) are generated here, into a temp project.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/run/config.js';
import { ConfigError } from '../src/run/problems.js';
import { encodeNpy } from '../src/store/npy.js';
import { FIXTURES, onlyRun, readJson, tempProject, type Project, runCliIn } from './fixtures/project.js';
import { snapshot, writeBatteryData } from './helpers/battery.js';

const MALFORMED = path.join(FIXTURES, 'malformed');
const cases = readJson<{ file: string; what: string; expect: string[] }[]>(path.join(MALFORMED, 'cases.json'));

let project: Project;
beforeAll(() => {
  project = tempProject('taylorlens-battery-');
  writeBatteryData(project.dir);
});
afterAll(() => project.cleanup());

/** Run the CLI in-process; returns exit code, stdout and stderr. */
const cli = (...argv: string[]) => runCliIn(project.dir, argv);

function expectAll(err: string, fragments: string[]): void {
  for (const f of fragments) expect(err, `missing "${f}" in:\n${err}`).toContain(f);
}

describe('malformed configs, data files and limits (fixtures/malformed)', () => {
  it('the battery keeps at least 60 malformed inputs, counting the generated ones below', () => {
    expect(cases.length + GENERATED + RUN_FOLDER_CASES.length).toBeGreaterThanOrEqual(60);
    expect(fs.readdirSync(path.join(MALFORMED, 'configs')).sort()).toEqual(cases.map((c) => c.file).sort());
  });

  it.each(cases.map((c) => [c.file, c.what, c] as const))('%s (%s) → exit 2, named, nothing written', async (file, _what, c) => {
    const config = path.join(project.dir, file);
    fs.copyFileSync(path.join(MALFORMED, 'configs', file), config);
    const before = snapshot(path.join(project.dir, 'data'));
    const r = await cli('run', config);
    expect(r.code, r.err).toBe(2);
    expectAll(r.err, c.expect);
    expect(r.out).toBe('');
    expect(fs.existsSync(path.join(project.dir, 'runs')), 'a run folder was created').toBe(false);
    expect(snapshot(path.join(project.dir, 'data'))).toEqual(before);
  });
});

const GENERATED = 6;
describe('limits and unusual files, generated', () => {
  const base = () => readJson(path.join(MALFORMED, 'configs', 's01-epochs-null.json'));

  it('a config nested 100,000 levels deep: the nesting limit, at once', async () => {
    const file = path.join(project.dir, 'deep.json');
    fs.writeFileSync(file, '{"name": ' + '['.repeat(100_000) + ']'.repeat(100_000) + '}');
    const r = await cli('run', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain('  /: nested more than 64 levels deep (objects and arrays inside each other); a run config may nest at most 64 (limit: JSON nesting depth)');
  });

  it('a config file over 1 MB (a million layers): the file-size limit, without reading it', async () => {
    const cfg = base();
    cfg.model.layers = Array.from({ length: 1_000_000 }, () => ({ type: 'flatten' }));
    const file = path.join(project.dir, 'huge.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const t0 = Date.now();
    const r = await cli('run', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ {2}\/: the file is \d+\.\d MB; a run config may be at most 1\.0 MB \(limit: config file size\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a config object with a million layers (the API, no file): the layer-count limit, fast', async () => {
    const cfg = base();
    cfg.model.layers = Array.from({ length: 1_000_000 }, () => ({ type: 'dense', units: 4 }));
    const t0 = Date.now();
    const e = await validateConfig(cfg, { source: 'api', baseDir: project.dir, cwd: project.dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).problems).toEqual([{ pointer: '/model/layers', message: '1000000 layers; a model may have at most 1000 (limit: layer count)' }]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a config object nested 100,000 levels deep (the API): the nesting limit, no stack overflow', async () => {
    const cfg = base();
    let v: unknown = 0;
    for (let i = 0; i < 100_000; i++) v = [v];
    cfg.extra = v;
    const e = await validateConfig(cfg, { source: 'api', baseDir: project.dir, cwd: project.dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toContain('(limit: JSON nesting depth)');
  });

  it('the config path is a folder', async () => {
    const r = await cli('run', 'data');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`invalid config ${path.join(project.dir, 'data')}`);
    expect(r.err).toContain('  /: is a folder, expected a JSON run config (a file)');
  });

  it('an output folder that cannot be created (a read-only place): /output/dir named, nothing written', async () => {
    const cfg = base();
    cfg.epochs = 1;
    let ro: string;
    let cleanup = () => {};
    if (process.getuid?.() === 0) {
      // root writes through permission bits; /proc refuses new folders to everyone.
      ro = '/proc/taylorlens-battery/runs';
    } else {
      ro = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-ro-'));
      fs.chmodSync(ro, 0o555);
      cleanup = () => { fs.chmodSync(ro, 0o755); fs.rmSync(ro, { recursive: true, force: true }); };
    }
    try {
      cfg.output.dir = path.join(ro, 'runs');
      const file = path.join(project.dir, 'readonly.json');
      fs.writeFileSync(file, JSON.stringify(cfg));
      const r = await cli('run', file);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain('  /output/dir: ');
      expect(r.err).toMatch(/not writable|cannot create the output folder: (permission denied|the system refused|the filesystem is read-only)/);
      expect(r.err).not.toMatch(/ENOENT|EACCES/);
    } finally {
      cleanup();
    }
  });
});

interface RunFolderCase {
  what: string;
  /** Damage the copy of a good run folder (status set to interrupted, so it could be resumed). */
  damage(dir: string): void | string;
  expect: (dir: string) => string[];
  /** The path to resume, when not the folder itself. */
  target?: (dir: string) => string;
}

const npy = (shape: number[]) => encodeNpy({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
const ckpt = (dir: string, ...rel: string[]) => path.join(dir, 'checkpoint', 'epoch-000002', ...rel);
const editJson = (file: string, edit: (j: any) => void) => {
  const j = readJson(file);
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};
const truncate = (file: string, keep: number) => fs.writeFileSync(file, fs.readFileSync(file).subarray(0, keep));

const RUN_FOLDER_CASES: RunFolderCase[] = [
  { what: 'checkpoint/latest.json cut short', damage: (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'latest.json'), '{"epoch": 2, "ro'), expect: () => ['latest.json: the pointer to the newest checkpoint is not valid JSON'] },
  { what: 'checkpoint/latest.json empty', damage: (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'latest.json'), ''), expect: () => ['latest.json: the pointer to the newest checkpoint is not valid JSON', 'the file is damaged'] },
  {
    what: 'checkpoint/latest.json pointing outside the checkpoints',
    damage: (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'latest.json'), '{"epoch": 2, "round": 12, "dir": "../../etc"}'),
    expect: () => ['latest.json: expected {"epoch": <integer>, "round": <integer>, "dir": "checkpoint/epoch-NNNNNN"}', 'complete checkpoints here: epoch-000002'],
  },
  {
    what: 'checkpoint/latest.json naming a folder that is gone',
    damage: (d) => fs.writeFileSync(path.join(d, 'checkpoint', 'latest.json'), '{"epoch": 7, "round": 42, "dir": "checkpoint/epoch-000007"}'),
    expect: () => ['epoch-000007/state.json: missing file: expected the checkpoint named by'],
  },
  { what: 'state.json garbage', damage: (d) => fs.writeFileSync(ckpt(d, 'state.json'), '\u0000\u0001garbage'), expect: () => ['state.json: the checkpoint named by', 'is not valid JSON'] },
  { what: 'state.json without its variables', damage: (d) => editJson(ckpt(d, 'state.json'), (j) => { delete j.variables; }), expect: () => ['state.json: not a checkpoint state: missing variables'] },
  {
    what: 'state.json is a folder',
    damage: (d) => { fs.rmSync(ckpt(d, 'state.json')); fs.mkdirSync(ckpt(d, 'state.json')); },
    expect: () => ['state.json: is a folder, expected the checkpoint named by'],
  },
  { what: 'a checkpoint weight .npy cut short', damage: (d) => truncate(ckpt(d, 'weights', '00.npy'), 300), expect: () => ['weights/00.npy: truncated: its header says shape (36, 8) of <f4, 1280 bytes, but the file has 300'] },
  { what: 'a checkpoint weight .npy missing', damage: (d) => fs.rmSync(ckpt(d, 'weights', '01.npy')), expect: () => ['weights/01.npy: missing file: the checkpoint names it but it is not there'] },
  { what: 'a checkpoint weight .npy that is not .npy', damage: (d) => fs.writeFileSync(ckpt(d, 'weights', '00.npy'), 'PK\u0003\u0004 a zip, say'), expect: () => ['weights/00.npy: not a .npy file: missing \\x93NUMPY magic'] },
  { what: 'a checkpoint weight .npy that is a folder', damage: (d) => { fs.rmSync(ckpt(d, 'weights', '02.npy')); fs.mkdirSync(ckpt(d, 'weights', '02.npy')); }, expect: () => ['weights/02.npy: is not a file'] },
  { what: 'optimizer state .npy cut short', damage: (d) => truncate(ckpt(d, 'optimizer', '01.npy'), 200), expect: () => ['optimizer/01.npy: truncated: its header says shape (36, 8)'] },
  {
    what: 'a checkpoint weight of the wrong shape',
    damage: (d) => fs.writeFileSync(ckpt(d, 'weights', '00.npy'), npy([8, 36])),
    expect: () => ['weights/00.npy: shape [8,36] does not match variable'],
  },
  {
    what: 'metrics.jsonl deleted',
    damage: (d) => fs.rmSync(path.join(d, 'metrics.jsonl')),
    expect: (d) => [`${path.join(d, 'metrics.jsonl')}: missing file, but the checkpoint is at round 12: a resume would lose the rows of rounds 1–12`],
  },
  {
    what: 'metrics.jsonl with a round missing',
    damage: (d) => {
      const f = path.join(d, 'metrics.jsonl');
      const keep = (l: string) => !l || !(JSON.parse(l).kind === 'round' && JSON.parse(l).round === 5);
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').split('\n').filter(keep).join('\n'));
    },
    expect: () => ['metrics.jsonl: holds rows for 11 of the 12 rounds up to the checkpoint (round 5 is the first missing)'],
  },
  {
    what: 'metrics.jsonl with a corrupt line in the middle',
    damage: (d) => {
      const f = path.join(d, 'metrics.jsonl');
      const lines = fs.readFileSync(f, 'utf8').split('\n');
      lines[3] = '{"kind": "round", "round": 4, "loss": 0.5';
      fs.writeFileSync(f, lines.join('\n'));
    },
    expect: () => ['metrics.jsonl: corrupt line 4'],
  },
  { what: 'run.json garbage', damage: (d) => fs.writeFileSync(path.join(d, 'run.json'), '{ not json'), expect: () => ['run.json: invalid JSON'] },
  { what: 'run.json of another format', damage: (d) => editJson(path.join(d, 'run.json'), (j) => { j.format = 'something-else/2'; }), expect: () => ['run.json: expected format "taylorlens-run/1", got "something-else/2"'] },
  { what: 'run.json missing', damage: (d) => fs.rmSync(path.join(d, 'run.json')), expect: () => ['run.json: missing file: not a run folder?'] },
  {
    what: 'run.json holding a config that no longer validates',
    damage: (d) => editJson(path.join(d, 'run.json'), (j) => { j.config.epochs = 0; }),
    expect: () => ['run.json (config) (1 problem):', '  /epochs: expected a number >= 1, got 0'],
  },
  { what: 'a completed run', damage: (d) => editJson(path.join(d, 'run.json'), (j) => { j.status = 'completed'; }), expect: () => ['the run already completed'] },
  { what: 'a diverged run', damage: (d) => editJson(path.join(d, 'run.json'), (j) => { j.status = 'diverged'; j.reason = 'loss became NaN at round 3'; }), expect: () => ['the run diverged (loss became NaN at round 3); resuming would repeat it'] },
  {
    what: 'a run folder another live process is writing (its lock)',
    damage: (d) => fs.writeFileSync(path.join(d, 'run.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: '2025-01-01T00:00:00.000Z', processStart: null, command: 'run', token: 'abc' })),
    expect: () => [`is being written by another process (pid ${process.pid} on host ${os.hostname()}, \`taylorlens run\` since 2025-01-01T00:00:00.000Z): one writer per run folder, so this command wrote nothing`],
  },
  { what: '--resume of a file', damage: () => {}, target: (d) => path.join(d, 'run.json'), expect: (d) => [`${path.join(d, 'run.json')}: is a file, expected a run folder`] },
  { what: '--resume of a folder that does not exist', damage: () => {}, target: (d) => path.join(d, 'nope'), expect: (d) => [`${path.join(d, 'nope')}: missing folder: expected a run folder`] },
];

describe('damaged run folders: `run --resume` refuses before writing anything', () => {
  let good: string;
  beforeAll(async () => {
    // Momentum keeps optimizer state, so the checkpoint has optimizer/*.npy too; 2 epochs of 6 rounds.
    const cfg = readJson(path.join(MALFORMED, 'configs', 's01-epochs-null.json'));
    cfg.epochs = 2;
    cfg.optimizer = { name: 'momentum', options: { learningRate: 0.05, momentum: 0.9 } };
    cfg.output.dir = 'runs-good';
    fs.writeFileSync(path.join(project.dir, 'good.json'), JSON.stringify(cfg));
    const r = await cli('run', 'good.json');
    expect(r.code, r.err).toBe(0);
    good = onlyRun(path.join(project.dir, 'runs-good'));
  });

  /** A copy of the good run that could be resumed (interrupted), at `<project>/damaged/<n>`. */
  function copy(n: number): string {
    const dir = path.join(project.dir, 'damaged', String(n));
    fs.cpSync(good, dir, { recursive: true });
    editJson(path.join(dir, 'run.json'), (j) => { j.status = 'interrupted'; });
    return dir;
  }

  it('an undamaged copy resumes (the control)', async () => {
    const dir = copy(0);
    const r = await cli('run', '--resume', dir);
    expect(r.code, r.err).toBe(0);
    expect(readJson(path.join(dir, 'run.json')).status).toBe('completed');
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
  });

  it.each(RUN_FOLDER_CASES.map((c, i) => [i + 1, c.what, c] as const))('%i. %s → exit 2, named, folder untouched', async (i, _what, c) => {
    const dir = copy(i);
    c.damage(dir);
    const before = snapshot(dir);
    const r = await cli('run', '--resume', c.target?.(dir) ?? dir);
    expect(r.code, r.err + r.out).toBe(2);
    expectAll(r.err, c.expect(dir));
    expect(snapshot(dir), 'the refused resume changed the folder').toEqual(before);
  });
});
