// metrics.csv beside metrics.jsonl (#16 item 6, the CSV half): the same rows as a table, read back
// with Python's csv module (an independent reader) and compared with the JSONL value by value.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onlyRun, runCliIn, tempProject, tinyConfig, writeConfig } from './fixtures/project.js';

const project = tempProject('taylorlens-csv-');
afterAll(() => project.cleanup());

describe('metrics.csv', () => {
  it('holds every metrics.jsonl row and column (regret and activation numbers too), and Python\'s csv module reads back the same values', async () => {
    const cfg = tinyConfig({
      epochs: 2,
      data: { source: 'mnist', limit: 128, target: 'input', flatten: true },
      plugins: [{ name: 'activation', options: { probeSize: 16 } }, { name: 'regret', options: { network: { enabled: false }, neurons: { perLayer: 2 } } }],
    });
    const r = await runCliIn(project.dir, ['run', writeConfig(project.dir, cfg), '--backend', 'cpu']);
    expect(r.code, r.err).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs'));
    const rows = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const script = 'import csv, json, sys\nwith open(sys.argv[1], newline="") as f:\n    print(json.dumps(list(csv.DictReader(f))))';
    const table = JSON.parse(execFileSync('python3', ['-c', script, path.join(dir, 'metrics.csv')], { encoding: 'utf8' })) as Record<string, string>[];
    expect(table).toHaveLength(rows.length);
    const columns = new Set(rows.flatMap((row) => Object.keys(row)));
    expect(new Set(Object.keys(table[0]))).toEqual(columns);
    expect([...columns].some((c) => c.startsWith('regret.'))).toBe(true);
    expect([...columns].some((c) => c.startsWith('activation.'))).toBe(true);
    rows.forEach((row, i) => {
      for (const c of columns) {
        const v = row[c];
        const cell = table[i][c];
        if (v === undefined || v === null) expect(cell, `${c} of row ${i}`).toBe('');
        else if (typeof v === 'number') expect(Number(cell), `${c} of row ${i}`).toBe(v); // exact: JavaScript's shortest float64 text
        else expect(cell, `${c} of row ${i}`).toBe(String(v));
      }
    });
  });
});
