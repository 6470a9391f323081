// TensorBoard event files (#16 item 6): written while a run trains (output.tensorboard) and by
// `taylorlens export tensorboard`, read back by an independent reader: Python, Google's protobuf
// runtime with message classes protoc makes from fixtures/tensorboard/event.proto (written from
// TensorBoard's published event.proto and summary.proto), and crcmod's CRC-32C for the TFRecord
// checksums. Debian has no TensorBoard package and pip has no network here; see the report/README.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRunEvents } from '../src/export/tensorboard.js';
import { validateConfig } from '../src/run/config.js';
import { resumeRun, startRun } from '../src/run/runner.js';
import { FIXTURES, onlyRun, readRows, runCliIn, tempProject, tinyConfig, writeConfig } from './fixtures/project.js';

const PYTHON = '/usr/bin/python3'; // Debian's, where python3-protobuf and python3-crcmod install
const TB = path.join(FIXTURES, 'tensorboard');
const project = tempProject('taylorlens-tb-');
let protoOut: string;

beforeAll(() => {
  protoOut = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-tb-proto-'));
  try {
    execFileSync('protoc', [`--python_out=${protoOut}`, '-I', TB, 'event.proto'], { stdio: 'pipe' });
    execFileSync(PYTHON, ['-c', 'import google.protobuf, crcmod.predefined'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the TensorBoard reader needs protoc, python3-protobuf and python3-crcmod: run .ci/install-tensorboard-reader.sh (as root)\n${(e as Error).message}`);
  }
});
afterAll(() => {
  project.cleanup();
  fs.rmSync(protoOut, { recursive: true, force: true });
});

interface ReadEvent { wall_time: number; step: number; what: string | null; file_version?: string; values?: { tag: string; kind: string; simple_value: number }[] }

function readEvents(file: string): ReadEvent[] {
  return JSON.parse(execFileSync(PYTHON, [path.join(TB, 'read_events.py'), protoOut, file], { encoding: 'utf8', stdio: 'pipe' })) as ReadEvent[];
}

function eventFiles(runDir: string): string[] {
  const dir = path.join(runDir, 'tensorboard');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => path.join(dir, f)) : [];
}

/** What the file must hold, from metrics.jsonl: every finite number as a float32 scalar, per row. */
function expectedScalars(rows: Record<string, unknown>[]): { step: number; values: [string, number][] }[] {
  return rows.map((r) => ({
    step: Number(r.kind === 'round' ? r.round : r.epoch),
    values: Object.entries(r)
      .filter(([k, v]) => !['kind', 'round', 'epoch'].includes(k) && typeof v === 'number' && Number.isFinite(v))
      .map(([k, v]) => [`${r.kind}/${k}`, Math.fround(v as number)] as [string, number]),
  })).filter((e) => e.values.length > 0);
}

const summaries = (events: ReadEvent[]) => events.slice(1).map((e) => ({ step: e.step, values: e.values!.map((v) => [v.tag, v.simple_value]) }));

function checkFile(file: string, rows: Record<string, unknown>[]): ReadEvent[] {
  expect(path.basename(file)).toMatch(/^events\.out\.tfevents\.\d{10}\.[A-Za-z0-9._-]+$/);
  const events = readEvents(file);
  expect(events[0]).toMatchObject({ what: 'file_version', file_version: 'brain.Event:2', step: 0 });
  expect(events.slice(1).every((e) => e.what === 'summary' && e.values!.every((v) => v.kind === 'simple_value'))).toBe(true);
  expect(summaries(events)).toEqual(expectedScalars(rows));
  return events;
}

const plugins = [{ name: 'activation', options: { probeSize: 16 } }, { name: 'regret', options: { network: { enabled: false }, neurons: { perLayer: 2 } } }];

describe('TensorBoard event files', () => {
  it('a run with output.tensorboard writes loss, validation loss, regret and exploration scalars that the independent reader reads back, CRCs checked', async () => {
    const t0 = Date.now() / 1000;
    const cfg = tinyConfig({
      name: 'tb-live', epochs: 2, validation: true, plugins,
      data: { source: 'mnist', limit: 128, target: 'input', flatten: true },
      output: { dir: 'runs-live', tensorboard: true },
    });
    const r = await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg, 'live.json'), '--backend', 'cpu']);
    expect(r.code, r.err).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-live'));
    const files = eventFiles(dir);
    expect(files).toHaveLength(1);
    const rows = readRows(dir);
    const events = checkFile(files[0], rows);
    const tags = new Set(events.flatMap((e) => e.values?.map((v) => v.tag) ?? []));
    for (const t of ['round/loss', 'epoch/loss', 'epoch/val_loss', 'epoch/activation.novelty']) expect(tags).toContain(t);
    expect([...tags].some((t) => t.startsWith('epoch/regret.neurons.'))).toBe(true);
    // Live: each scalar event has the time it was written, within the run.
    const times = events.slice(1).map((e) => e.wall_time);
    expect(times[0]).toBeGreaterThanOrEqual(t0 - 1);
    expect(times.at(-1)!).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('`export tensorboard` writes them for a run that had it off, and a second export replaces the file', async () => {
    const cfg = tinyConfig({ name: 'tb-export', epochs: 1, plugins, data: { source: 'mnist', limit: 96, target: 'input', flatten: true }, output: { dir: 'runs-export' } });
    expect((await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg, 'export.json'), '--backend', 'cpu'])).code).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-export'));
    expect(eventFiles(dir)).toEqual([]); // off by default
    const e1 = await runCliIn(project.dir, ['export', 'tensorboard', dir]);
    expect(e1.code, e1.err).toBe(0);
    expect(e1.out).toMatch(/tensorboard: .*events\.out\.tfevents\..* \(\d+ events from \d+ rows\)/);
    checkFile(eventFiles(dir)[0], readRows(dir));
    fs.writeFileSync(path.join(dir, 'tensorboard', 'events.out.tfevents.1000000000.stale'), 'left from an earlier session');
    expect((await runCliIn(project.dir, ['export', 'tensorboard', dir])).code).toBe(0);
    const files = eventFiles(dir);
    expect(files).toHaveLength(1);
    checkFile(files[0], readRows(dir));
  });

  it('a resumed run starts its event file afresh from the rows kept at the checkpoint (no stale rounds in TensorBoard)', async () => {
    const cfg = tinyConfig({ name: 'tb-resume', epochs: 2, data: { source: 'mnist', limit: 128, target: 'input', flatten: true }, output: { dir: 'runs-resume', tensorboard: true } });
    const resolved = await validateConfig(cfg, { source: 'test', baseDir: project.dir, cwd: project.dir });
    const reporter = { info: () => {}, warn: () => {} };
    const cut = await startRun(resolved, {
      cwd: project.dir, reporter, backend: 'cpu',
      onTrainer: (t) => t.events.on('round', (row) => { if (row.round === 6) t.stop('test interrupt', 'interrupted'); }),
    });
    expect(cut.status).toBe('interrupted');
    const stale = eventFiles(cut.dir);
    expect(stale).toHaveLength(1);
    const staleSteps = summaries(readEvents(stale[0])).map((e) => e.step);
    expect(staleSteps).toContain(6); // rounds 5 and 6 come after the epoch-1 checkpoint (round 4)
    fs.renameSync(stale[0], stale[0].replace(/\.\d{10}\./, '.1000000000.')); // as if written by an earlier second
    const resumed = await resumeRun(cut.dir, { cwd: project.dir, reporter, backend: 'cpu' });
    expect(resumed.status).toBe('completed');
    const files = eventFiles(cut.dir);
    expect(files).toHaveLength(1);
    const rows = readRows(cut.dir);
    expect(rows.filter((r) => r.kind === 'round').map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    checkFile(files[0], rows); // each round once: the rows kept, then the resumed session's
  });

  it('the reader is not lenient: a flipped byte or a cut-off record is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-tb-crc-'));
    try {
      const { writer } = openRunEvents(dir, [{ kind: 'round', round: 1, loss: 0.25 }], { time: 1_700_000_000, host: 'h' });
      writer.close();
      const good = fs.readFileSync(writer.file);
      expect(summaries(readEvents(writer.file))).toEqual([{ step: 1, values: [['round/loss', 0.25]] }]);
      const flipped = Buffer.from(good);
      flipped[good.length - 8] ^= 0x01; // inside the last record's data
      fs.writeFileSync(writer.file, flipped);
      expect(() => readEvents(writer.file)).toThrow(/data CRC mismatch/);
      fs.writeFileSync(writer.file, good.subarray(0, good.length - 2));
      expect(() => readEvents(writer.file)).toThrow(/truncated record/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a non-boolean output.tensorboard before any work, and an export of a folder that is not a run', async () => {
    const cfg = tinyConfig({ name: 'tb-bad', output: { dir: 'runs-bad', tensorboard: 'yes' } });
    const r = await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg, 'bad.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/output\/tensorboard|output\.tensorboard/);
    expect(r.err).toMatch(/boolean/);
    expect(fs.existsSync(path.join(project.dir, 'runs-bad'))).toBe(false);
    const e = await runCliIn(project.dir, ['export', 'tensorboard', path.join(project.dir, 'nowhere')]);
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/nowhere: missing folder/);
  });
});
