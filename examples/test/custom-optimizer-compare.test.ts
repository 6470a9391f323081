// Lion against Adam through the runner (examples/custom-optimizer/compare.ts) at a tiny scale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../custom-optimizer/compare.js';
import { figure, figures, metricsRows, readJson } from './helpers/report.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-lion-example-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('examples/custom-optimizer/compare', () => {
  it('trains the autoencoder with Lion and with Adam through the runner, then one compare report', async () => {
    const lines: string[] = [];
    const t0 = Date.now();
    const r = (await main(['--epochs', '1', '--limit', '128', '--neurons', '3', '--lion-lr', '0.001', '--out', out, '--backend', 'wasm'], { log: (l) => lines.push(l), warn: (l) => lines.push(l) }))!;
    const seconds = (Date.now() - t0) / 1000;
    expect(r.runs.map((x) => [x.label, x.status]), lines.join('\n')).toEqual([['lion', 'completed'], ['adam', 'completed']]);
    const lion = readJson(path.join(r.runs[0].dir, 'run.json'));
    expect(lion.optimizer).toEqual({ name: 'lion', provider: 'examples/custom-optimizer' });
    expect(lion.config.optimizer).toEqual({ name: 'lion', options: { learningRate: 0.001 } });
    expect(readJson(path.join(r.runs[1].dir, 'run.json')).optimizer).toEqual({ name: 'adam', provider: '@taylorlens/plugin-optimizers' });
    // Same initial weights and first batch: the first round's loss agrees; the updates then differ.
    const [a, b] = r.runs.map((x) => metricsRows(x.dir).filter((row) => row.kind === 'round').map((row) => row.loss));
    expect(a[0]).toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
    for (const x of r.runs) expect(fs.existsSync(path.join(x.dir, 'regret', 'regret.json'))).toBe(true);

    expect(r.compare.warnings).toEqual([]);
    const all = figures(fs.readFileSync(r.compare.path, 'utf8'));
    for (const title of ['Training loss per run', 'Novelty over training', /^Normalised regret/]) {
      expect(figure(all, title).legend).toEqual(['ae-mnist-lion', 'ae-mnist-adam']);
    }
    console.log(`custom-optimizer compare, 2 optimizers × 1 epoch × 128 images: ${seconds.toFixed(1)} s`);
  });

  it('refuses bad Lion options before training anything', async () => {
    await expect(main(['--lion-lr', '0', '--out', out])).rejects.toThrow('--lion-lr must be a positive number');
  });
});
