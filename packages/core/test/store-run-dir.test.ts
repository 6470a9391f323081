import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunDir } from '../src/store/run-dir.js';
import { readJsonl } from '../src/store/jsonl.js';
import { decodeNpy } from '../src/store/npy.js';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

describe('RunDir', () => {
  it('creates unique, timestamped folders and never reuses one', () => {
    const root = path.join(tmp, 'runs');
    const runs = Array.from({ length: 25 }, () => RunDir.create(root, 'mnist mlp/v1'));
    expect(new Set(runs.map((r) => r.dir)).size).toBe(25);
    for (const r of runs) {
      expect(path.dirname(r.dir)).toBe(root);
      expect(path.basename(r.dir)).toMatch(/^\d{8}-\d{6}-mnist-mlp-v1-[0-9a-f]{6}$/);
      expect(fs.readdirSync(r.dir)).toEqual([]);
    }
  });

  it('writes JSON, .npy and metrics inside the run', () => {
    const run = RunDir.create(tmp, 'io');
    const rj = run.writeJson('run.json', { name: 'io', epochs: 2 });
    expect(rj).toBe(path.join(run.dir, 'run.json'));
    expect(run.readRunJson()).toEqual({ name: 'io', epochs: 2 });
    const npy = run.writeNpy('weights/w0.npy', { dtype: 'float32', shape: [2, 2], data: [1, 2, 3, 4] });
    expect(decodeNpy(fs.readFileSync(npy)).shape).toEqual([2, 2]);
    run.appendMetrics({ step: 0, loss: 2.3 });
    run.appendMetrics({ step: 1, loss: 1.1 });
    run.flushSync();
    expect(readJsonl(run.path('metrics.jsonl')).rows).toEqual([{ step: 0, loss: 2.3 }, { step: 1, loss: 1.1 }]);
    run.appendMetrics({ step: 2, loss: 0.7 });
    run.close();
    expect(readJsonl(run.path('metrics.jsonl')).rows).toHaveLength(3);
    // Reopening keeps appending to the same stream.
    const again = RunDir.open(run.dir);
    again.appendMetrics({ step: 3, loss: 0.5 });
    again.close();
    expect(readJsonl(run.path('metrics.jsonl')).rows).toHaveLength(4);
  });

  it('pluginDir is <run>/<plugin>/ and rejects unsafe names', () => {
    const run = RunDir.create(tmp, 'plug');
    const d = run.pluginDir('regret');
    expect(d).toBe(path.join(run.dir, 'regret'));
    expect(fs.statSync(d).isDirectory()).toBe(true);
    expect(() => run.pluginDir('../evil')).toThrow(/not a safe folder name/);
    expect(() => run.pluginDir('metrics.jsonl')).toThrow(/clashes with a run file/);
  });

  it('path() refuses to leave the run folder', () => {
    const run = RunDir.create(tmp, 'esc');
    expect(run.path('a', 'b.json')).toBe(path.join(run.dir, 'a', 'b.json'));
    expect(() => run.path('..', 'x')).toThrow(/outside run folder/);
    expect(() => run.writeJson('/etc/x.json', {})).toThrow(/outside run folder/);
  });

  it('readRunJson names a missing or invalid run.json', () => {
    const run = RunDir.create(tmp, 'nojson');
    const p = path.join(run.dir, 'run.json');
    expect(() => run.readRunJson()).toThrow(`${p}: missing file`);
    fs.writeFileSync(p, '{"a":');
    expect(() => run.readRunJson()).toThrow(`${p}: invalid JSON`);
    expect(() => RunDir.open(path.join(tmp, 'nope'))).toThrow(/missing folder/);
  });
});
