// Cost of the activation plugin on a real MNIST epoch: the paper's autoencoder, 60,000 samples,
// batch 64, Adam, with the default schedule (a snapshot of 1,000 probes before training and one
// at the epoch end, measures and files at the end) against the same epoch with no plugin
// (`core.trainer.autoencoder.epoch`, which the core suite does not define, so it is recorded here).
// Imports the built packages: `npx tsc -b packages/core packages/plugin-activation` first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, loadMnist, modelAnatomy, selectBackend, toTensors } from '@taylorlens/core';
import { ActivationPlugin, configurationSnapshot, selectUnits, gatherProbe, probeIndices } from '@taylorlens/plugin-activation';
import { median } from '../harness.js';
import { autoencoder } from '../lib/models.js';

const BATCH = 64;
const PROBES = 1000;
/** Interleaved baseline/plugin epochs, one timed iteration each (an epoch takes a while). */
const PAIRS = 3;

/** A minimal run store in a temp folder, so the plugin writes its files as in a CLI run. */
function tempStore() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-bench-activation-'));
  return {
    dir, traceDir: null, traces: () => false,
    pluginDir: (name) => { const p = path.join(dir, name); fs.mkdirSync(p, { recursive: true }); return p; },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Adds the wall time spent inside the recorder's begin/afterEpoch/end to `spent.ms`. */
function timeRecorder(plugin, spent) {
  for (const method of ['begin', 'afterRound', 'afterEpoch', 'end']) {
    const fn = plugin.recorder[method].bind(plugin.recorder);
    plugin.recorder[method] = async (...args) => {
      const t0 = performance.now();
      try { return await fn(...args); } finally { spent.ms += performance.now() - t0; }
    };
  }
}

/** One epoch with a fresh model (same seed every time), with or without the plugin. */
async function epoch(x, withPlugin, n = x.shape[0], spent = { ms: 0 }) {
  const data = n === x.shape[0] ? x : tf.slice(x, 0, n);
  const model = autoencoder(1);
  const store = withPlugin ? tempStore() : null;
  const plugin = withPlugin ? new ActivationPlugin({ probeSize: PROBES }).setTrainingData(data) : null;
  if (plugin) timeRecorder(plugin, spent);
  const trainer = new Trainer(model, { plugins: plugin ? [plugin] : [], store: store ?? undefined });
  await trainer.fit(data, data, { epochs: 1, batchSize: BATCH, seed: 1 });
  if (plugin && plugin.tensor.snapshots !== 2) throw new Error(`expected 2 snapshots, got ${plugin.tensor.snapshots}`);
  store?.remove();
  model.optimizer.dispose();
  model.dispose();
  if (data !== x) data.dispose();
}

export async function run(bench) {
  if (!bench.wants('activation.epoch.autoencoder') && !bench.wants('core.trainer.autoencoder.epoch')) return;
  await selectBackend('wasm');
  const { x } = toTensors(loadMnist({ split: 'train' }), { flatten: true });

  // Warm both paths (kernels, XNNPACK, JIT) on a short epoch before timing whole ones.
  await epoch(x, false, 64 * BATCH);
  await epoch(x, true, 64 * BATCH);
  // Interleaved, so drift on a shared machine hits both alike. Process CPU time is kept too: on a
  // loaded machine wall time mostly measures the other processes.
  const once = { warmup: 0, iterations: 1 };
  const base = [];
  const ours = [];
  const baseCpu = [];
  const oursCpu = [];
  const spent = [];
  const cpuMs = async (fn, into) => {
    const c0 = process.cpuUsage();
    const ms = await fn();
    const c = process.cpuUsage(c0);
    into.push((c.user + c.system) / 1000);
    return ms;
  };
  for (let i = 0; i < PAIRS; i++) {
    base.push(await cpuMs(() => bench.time(() => epoch(x, false), once), baseCpu));
    const s = { ms: 0 };
    ours.push(await cpuMs(() => bench.time(() => epoch(x, true, x.shape[0], s), once), oursCpu));
    spent.push(s.ms);
  }
  const extra = { samples: x.shape[0], batch: BATCH, runs: base.length };
  bench.record('core.trainer.autoencoder.epoch', median(base), {
    extra: { ...extra, each_ms: base.map(Math.round), cpu_ms: Math.round(median(baseCpu)) },
  });

  // What one snapshot costs by itself (1,000 probes × 180 units, one forward pass, packing).
  const model = autoencoder(1);
  const anatomy = modelAnatomy(model);
  const selection = selectUnits(anatomy, { maxUnitsPerLayer: {}, seed: 1 });
  const probe = gatherProbe(x, probeIndices(x.shape[0], { probeSize: PROBES, seed: 0 }).indices);
  const snapshotMs = await bench.time(() => configurationSnapshot(anatomy, probe, selection), { warmup: 2, iterations: 10 });
  probe.dispose();
  model.dispose();

  bench.record('activation.epoch.autoencoder', median(ours), {
    baseline: 'core.trainer.autoencoder.epoch',
    extra: {
      ...extra, each_ms: ours.map(Math.round), probes: PROBES, units: selection.units, snapshots: 2,
      snapshot_ms: Math.round(snapshotMs * 10) / 10,
      // Time inside the plugin per epoch (snapshots, measures, files): the overhead without the machine's noise.
      plugin_ms: Math.round(median(spent)),
      plugin_share: Math.round((median(spent) / median(base)) * 1e4) / 1e4,
      cpu_ms: Math.round(median(oursCpu)),
      cpu_ratio: Math.round((median(oursCpu) / median(baseCpu)) * 1e3) / 1e3,
    },
  });
  x.dispose();
}
