// Issue 17: sweeps. `sweep.local.parallel2`: 6 small autoencoder runs with `taylorlens sweep
// --parallel 2` against the same 6 configs run one after another with `taylorlens run` (baseline
// `sweep.local.sequential`; budget: ratio ≤ 0.6 on a 2-core machine). `sweep.queue.pickup`: on a
// BullMQ queue with idle workers (redis-server on a free port, when installed), the time from
// enqueue to a worker starting the run, and (extra) to the run's folder existing.
// Run: `node bench/run.js sweep.` after `pnpm run build`.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const BACKEND = process.env.TAYLORLENS_BACKEND ?? 'wasm';
// Runs long enough (≈ 4 s alone, a third of it the CLI's start) that the sweep's own serial start (the CLI, then its lanes
// loading while it expands and validates) is not most of it.
const EPOCHS = 8;

const base = (epochs) => ({
  name: 'bench', seed: 1, epochs, batchSize: 32, backend: BACKEND,
  model: { input: [784], layers: [{ type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 784 }], loss: 'mse' },
  data: { source: 'mnist', limit: 2048, target: 'input', flatten: true },
  optimizer: { name: 'adam', options: { learningRate: 0.001 } },
  output: { dir: 'runs' },
});

function cli(cwd, args, { quiet = true } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: quiet ? 'ignore' : 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`taylorlens ${args.join(' ')}: exit ${code}`))));
  });
}

function sweepFile(dir, name, epochs) {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({
    name, base: base(epochs),
    axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.001, 0.003, 0.01] }],
    seeds: [1, 2],
  }));
  return file;
}

async function localParallel(bench) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-bench-sweep-'));
  try {
    // The sweep's own configs (written by a first, untimed expansion) are what both sides run.
    const { expandSweepFile } = await import('@taylorlens/sweep');
    const x = await expandSweepFile(sweepFile(dir, 'configs', EPOCHS), dir);
    const configs = x.runs.map((r, i) => {
      const f = path.join(dir, `run-${i}.json`);
      fs.writeFileSync(f, JSON.stringify({ ...r.config, output: { dir: path.join(dir, 'alone') } }));
      return f;
    });
    let k = 0;
    const sequential = async () => { for (const f of configs) await cli(dir, ['run', f]); };
    const parallel2 = async () => cli(dir, ['sweep', sweepFile(dir, `p${k++}`, EPOCHS), '--parallel', '2']);
    const loadBefore = os.loadavg()[0];
    const [seq, par] = await bench.timeEach([sequential, parallel2], { warmup: 0, iterations: 3 });
    // The machine is shared: other processes' load (1-minute average) says how many cores were ours.
    const extra = { runs: 6, epochs: EPOCHS, cores: os.availableParallelism(), budget: 0.6, load_avg_1m: [round2(loadBefore), round2(os.loadavg()[0])] };
    bench.record('sweep.local.sequential', seq, { extra });
    bench.record('sweep.local.parallel2', par, { baseline: 'sweep.local.sequential', extra });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const round2 = (x) => Math.round(x * 100) / 100;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

async function queuePickup(bench) {
  const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!redisBin) {
    console.log('sweep.queue.pickup: skipped, redis-server not installed (.ci/install-redis.sh)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-bench-queue-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const redis = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  let worker;
  try {
    await new Promise((r) => setTimeout(r, 500));
    // One idle worker with a slot per run: every run is picked up as soon as it is enqueued.
    worker = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--concurrency', '6'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => worker.stdout.on('data', (d) => { if (String(d).includes('taking runs')) resolve(); }));
    const file = sweepFile(dir, 'queued', 1);
    await cli(dir, ['sweep', file, '--queue', url]);
    const sweepDir = path.join(dir, 'sweeps', 'queued');
    const runs = JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8')).runs;
    const done = () => runs.every((r) => {
      const home = path.join(sweepDir, 'runs', r.id);
      const a = fs.existsSync(path.join(home, 'attempts.json')) ? JSON.parse(fs.readFileSync(path.join(home, 'attempts.json'), 'utf8')) : [];
      return a.at(-1)?.endedAt;
    });
    for (const end = Date.now() + 300_000; !done() && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
    const pickup = [];
    const toFolder = [];
    for (const r of runs) {
      const home = path.join(sweepDir, 'runs', r.id);
      const [a] = JSON.parse(fs.readFileSync(path.join(home, 'attempts.json'), 'utf8'));
      pickup.push(a.queuedMs);
      const runDir = fs.readdirSync(home, { withFileTypes: true }).find((e) => e.isDirectory());
      const created = JSON.parse(fs.readFileSync(path.join(home, runDir.name, 'run.json'), 'utf8')).createdAt;
      toFolder.push(Date.parse(created) - (Date.parse(a.startedAt) - a.queuedMs));
    }
    bench.record('sweep.queue.pickup', median(pickup), {
      extra: { runs: runs.length, pickup_ms: pickup, enqueue_to_run_folder_median_ms: median(toFolder), note: 'enqueue → worker starts the run (idle worker); extra: → the child CLI has validated, loaded data and created the run folder' },
    });
  } finally {
    worker?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    redis.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(bench) {
  if (bench.wants('sweep.local.parallel2') || bench.wants('sweep.local.sequential')) await localParallel(bench);
  if (bench.wants('sweep.queue.pickup')) await queuePickup(bench);
}
