// Sweep files: axes × seeds expand into the expected run configs; seeded samples repeat; a bad
// sweep file is refused (exit 2, the JSON pointer named) before anything is written.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@taylorlens/core';
import { expandSweep, expandSweepFile, prepareSweepFolder, readManifest } from '@taylorlens/sweep';
import { REPO_ROOT, runCliIn, tempProject, tinyConfig, type Project } from '../../core/test/fixtures/project.js';
import { buildAll } from './helpers.js';

let project: Project;
beforeAll(() => {
  buildAll(); // the CLI imports the sweep package's dist/
  project = tempProject('taylorlens-sweep-expand-');
});
afterAll(() => project?.cleanup());

const source = () => path.join(project.dir, 'grid.sweep.json');
const expand = (raw: unknown) => expandSweep(raw, { source: source(), cwd: project.dir });

async function problemsOf(raw: unknown): Promise<{ pointer: string; message: string }[]> {
  try {
    await expand(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected the sweep to be refused');
}

describe('sweep expansion', () => {
  it('axes × seeds: every combination, the last axis fastest, seeds innermost, each an ordinary config', async () => {
    const x = await expand({
      name: 'grid',
      base: tinyConfig(),
      axes: [
        { name: 'opt', path: '/optimizer', values: [{ name: 'adam', options: { learningRate: 0.001 } }, { name: 'sgd', options: { learningRate: 0.1 } }] },
        { name: 'units', path: '/model/layers/0/units', values: [8, 16, 32] },
      ],
      seeds: [1, 2],
    });
    expect(x.runs).toHaveLength(2 * 3 * 2);
    expect(x.dir).toBe(path.join(project.dir, 'sweeps', 'grid'));
    expect(x.runs.map((r) => r.id).slice(0, 4)).toEqual(['000-adam-8-s1', '001-adam-8-s2', '002-adam-16-s1', '003-adam-16-s2']);
    expect(x.runs.at(-1)!.id).toBe('011-sgd-32-s2');
    const r = x.runs[7]; // sgd, 8 units, seed 2
    expect(r.axes).toEqual({ opt: 'sgd', units: '8' });
    expect(r.config).toMatchObject({
      name: r.id, seed: 2, optimizer: { name: 'sgd', options: { learningRate: 0.1 } },
      model: { layers: [{ units: 8 }, { units: 784 }] }, output: { dir: path.join(x.dir, 'runs', r.id) },
    });
    // The base is untouched apart from the swept fields, name, seed and output.dir.
    const { name: _n, seed: _s, output: _o, optimizer: _p, model: _m, ...rest } = r.config;
    const { name: _bn, seed: _bs, output: _bo, optimizer: _bp, model: _bm, ...baseRest } = tinyConfig();
    expect(rest).toEqual(baseRest);
  });

  it('seeded samples: log-uniform draws in range, the same for the same seed; no seeds given means the base seed', async () => {
    const axis = { name: 'lr', path: '/optimizer/options/learningRate', sample: { distribution: 'logUniform', min: 1e-4, max: 1e-1, count: 5, seed: 3 } };
    const a = await expand({ base: tinyConfig(), axes: [axis] });
    const b = await expand({ base: tinyConfig(), axes: [axis] });
    const lrs = a.runs.map((r) => (r.config.optimizer as { options: { learningRate: number } }).options.learningRate);
    expect(lrs).toHaveLength(5);
    expect(new Set(lrs).size).toBe(5);
    for (const lr of lrs) expect(lr >= 1e-4 && lr < 1e-1).toBe(true);
    expect(b.runs.map((r) => r.config)).toEqual(a.runs.map((r) => r.config));
    expect(a.runs.every((r) => r.seed === 7)).toBe(true); // tinyConfig's seed
    const big = await expand({ base: tinyConfig(), axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [1e30, 1e-30, 0.5] }] });
    expect(big.runs.map((r) => r.id)).toEqual(['000-1e30-s7', '001-1e-30-s7', '002-0.5-s7']);
    const c = await expand({ base: tinyConfig(), axes: [{ ...axis, sample: { ...axis.sample, seed: 4 } }] });
    expect(c.runs.map((r) => r.config)).not.toEqual(a.runs.map((r) => r.config));
  });

  it('a base config file: its relative data paths resolve against its own folder', async () => {
    fs.mkdirSync(path.join(project.dir, 'cfg'), { recursive: true });
    fs.writeFileSync(path.join(project.dir, 'cfg', 'base.json'), JSON.stringify(tinyConfig({ data: { source: 'mnist', dir: '../mnist-missing', limit: 256, target: 'input', flatten: true } })));
    const problems = await problemsOf({ base: 'cfg/base.json', seeds: [1] });
    expect(problems[0].pointer).toBe('/base (cfg/base.json: /data/dir)');
    expect(problems[0].message).toContain(path.join(project.dir, 'mnist-missing'));
  });

  it('refuses bad sweep files, naming the pointer: schema, axis paths, values the run config rejects', async () => {
    expect(await problemsOf({ base: tinyConfig(), axes: [{ name: 'lr', path: 'optimizer' }], seeds: [1, 1] })).toEqual(expect.arrayContaining([
      expect.objectContaining({ pointer: '/axes/0/path' }),
      expect.objectContaining({ pointer: '/seeds' }),
    ]));
    expect(await problemsOf({ base: tinyConfig(), axes: [{ name: 'lr', path: '/optimizer/options/learningRate' }] }))
      .toEqual([{ pointer: '/axes/0', message: expect.stringContaining('exactly one of "values"') }]);
    expect(await problemsOf({ base: tinyConfig(), axes: [{ name: 'w', path: '/model/nothing/units', values: [1] }] }))
      .toEqual([{ pointer: '/axes/0/path', message: expect.stringContaining('has no object at /model/nothing') }]);
    // A value the run config's own validation rejects is traced back to the axis value that gave it.
    const bad = await problemsOf({ base: tinyConfig(), axes: [{ name: 'units', path: '/model/layers/0/units', values: [8, -3] }], seeds: [1, 2] });
    expect(bad).toHaveLength(1);
    expect(bad[0].pointer).toBe('/axes/0/values/1');
    expect(bad[0].message).toMatch(/^\(run 002-3-s1\) expected a number >= 1/);
    expect((await problemsOf({ base: { ...tinyConfig(), epochs: 0 } }))[0].pointer).toBe('/base/epochs');
    expect((await problemsOf({ base: tinyConfig(), axes: [{ name: 'o', path: '/optimizer/name', values: ['adamm'] }] }))[0].pointer).toBe('/axes/0/values/0');
  });

  it('the CLI: a bad sweep file exits 2 with the pointer and writes nothing; a good one writes the manifest and configs', async () => {
    const file = path.join(project.dir, 'bad.sweep.json');
    fs.writeFileSync(file, JSON.stringify({ base: tinyConfig(), axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.1, 'fast'] }] }));
    const r = await runCliIn(project.dir, ['sweep', file]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`invalid config ${file}`);
    expect(r.err).toContain('/axes/0/values/1');
    expect(fs.existsSync(path.join(project.dir, 'sweeps'))).toBe(false);

    const x = await expand({ name: 'again', base: tinyConfig(), seeds: [1, 2] });
    const m = prepareSweepFolder(x);
    expect(readManifest(x.dir)).toEqual(m);
    expect(JSON.parse(fs.readFileSync(path.join(x.dir, 'runs', '001-s2', 'config.json'), 'utf8'))).toEqual(x.runs[1].config);
    expect(prepareSweepFolder(x).token).toBe(m.token); // the same sweep again: reopened
    const other = await expand({ name: 'again', base: tinyConfig(), seeds: [1, 3] });
    expect(() => prepareSweepFolder(other)).toThrow(/already holds a different sweep/);
  });

  it("examples/sweeps: the paper's comparison expands into its five optimizers × three seeds, each config valid", async () => {
    const x = await expandSweepFile(path.join(REPO_ROOT, 'examples', 'sweeps', 'paper-autoencoder.sweep.json'), REPO_ROOT);
    expect(x.runs).toHaveLength(15);
    const adam = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'results', 'autoencoder-mnist', 'configs', 'adam.json'), 'utf8'));
    for (const opt of ['adam', 'rmsprop', 'sgd-1.0', 'sgd-0.1', 'sgd-0.01']) {
      const ref = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'results', 'autoencoder-mnist', 'configs', `${opt}.json`), 'utf8'));
      const run = x.runs.find((r) => r.axes.optimizer === opt && r.seed === 1)!;
      expect(run.config.optimizer).toEqual(ref.optimizer);
      expect({ ...run.config, name: 0, output: 0, optimizer: 0 }).toEqual({ ...adam, name: 0, output: 0, optimizer: 0 });
    }
    for (const f of ['autoencoder-lr-grid', 'small']) {
      expect((await expandSweepFile(path.join(REPO_ROOT, 'examples', 'sweeps', `${f}.sweep.json`), REPO_ROOT)).runs.length).toBeGreaterThan(0);
    }
  });
});
