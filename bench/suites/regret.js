// Regret plugin (issue 5): per-round overhead of recording Taylor losses on the paper's
// autoencoder and MNIST convnet, bytes stored per recorded round, and checkpoint solve times
// (issue 12: the certified network-scope checkpoint, `node bench/run.js regret.network.checkpoint`).
// Imports the built packages: `npx tsc -b packages/core packages/plugin-regret` first.
//
// Each overhead is measured in alternation with a plain trainer (same model, data and seed), so a
// busy machine slows both alike: `ratio` is against core.trainer.autoencoder as recorded in this
// process, `ratio_paired` the median of the per-pair ratios.
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { outputCurvature } from '../../packages/plugin-regret/dist/convex/output-curvature.js';
import { NetworkProblem } from '../../packages/plugin-regret/dist/rounds/network-problem.js';
import { median } from '../harness.js';
import { autoencoder, cifarLike, mnistLike, paperConvnet, resnetBlock } from '../lib/models.js';

const BATCH = 64;
const ROUNDS = 40;
const BASELINE = 'core.trainer.autoencoder';
const NONE = { enabled: false };
const HIDDEN = [1, 2, 3, 4, 5]; // layers 2–6: fan-in ≤ 64

/** ms per round of one epoch, minus the time the plugin spent in checkpoints. */
async function epochMs(trainer, x, y, batch, plugin) {
  const t0 = performance.now();
  await trainer.fit(x, y, { epochs: 1, batchSize: batch, seed: 1 });
  const ms = performance.now() - t0 - (plugin ? plugin.results.timing.checkpointMs : 0);
  return ms / Math.ceil(x.shape[0] / batch);
}

/** Baseline and candidate epochs in alternation (after `warmup` pairs): medians and the median pair ratio. */
async function paired(base, cand, { warmup = 2, iterations = 9 } = {}) {
  const b = [];
  const c = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const tb = await base();
    const tc = await cand();
    if (i >= warmup) { b.push(tb); c.push(tc); }
  }
  return { base: median(b), cand: median(c), ratio: Math.round(median(c.map((v, i) => v / b[i])) * 1000) / 1000 };
}

/** Wall time of one epoch of a fresh model (same seed every time), with the plugin or without; warnings into `warnings`. */
async function freshEpoch(makeModel, x, y, batch, plugin, warnings) {
  const model = makeModel();
  const trainer = new Trainer(model, { plugins: plugin ? [plugin] : [] });
  trainer.events.on('warning', (e) => warnings.push(e.message));
  const t0 = performance.now();
  await trainer.fit(x, y, { epochs: 1, batchSize: batch, seed: 1 });
  const ms = performance.now() - t0;
  model.optimizer.dispose();
  model.dispose();
  return ms;
}

/**
 * One epoch of all 60,000 MNIST images (the autoencoder, batch 64) with a regret plugin of these
 * scope options, against the plain epoch before and after it in this process: the first epoch of
 * a process can run slow (13.2 s against 10.7 s seen), so the baseline is the faster of the two.
 * The plugin is retained (dispose it after reading its results); plugin warnings in `warnings`.
 */
async function mnistEpochAgainstPlain(scopes) {
  await selectBackend('wasm');
  const { loadMnist } = await import('@taylorlens/core');
  const ds = loadMnist({ split: 'train' });
  const mx = tf.tensor2d(ds.images, [ds.count, 784]);
  const warnings = [];
  const epochOf = (plugin) => freshEpoch(() => autoencoder(1), mx, mx, BATCH, plugin, warnings);
  const before = await epochOf(null);
  const plugin = new RegretPlugin({ trace: false, budget: { maxOverhead: 1e9, memoryMB: 8192, diskGB: 1e4 }, ...scopes });
  plugin.retain = true;
  const ms = await epochOf(plugin);
  const after = await epochOf(null);
  mx.dispose();
  const base = Math.min(before, after);
  return { ms, base, baselines: [Math.round(before), Math.round(after)], ratio: Math.round((ms / base) * 1000) / 1000, plugin, warnings, samples: ds.count };
}

function regretTrainer(options, model = autoencoder(1)) {
  const plugin = new RegretPlugin({ trace: false, budget: { maxOverhead: 1e9, memoryMB: 4096, diskGB: 1e4 }, ...options });
  plugin.retain = true;
  return { plugin, trainer: new Trainer(model, { plugins: [plugin] }) };
}

export async function run(bench) {
  const names = ['layer3', 'neurons50-hidden', 'neurons50-input', 'network', 'network.checkpoint', 'checkpoint-solve'].map((n) => `regret.${n}.autoencoder`);
  names.push('regret.neurons50-input.autoencoder.every-round', 'regret.layer-output.autoencoder');
  const wanted = names.filter((n) => bench.wants(n));
  if (wanted.length > 0) {
    await selectBackend('wasm');
    const { x, y } = mnistLike(BATCH * ROUNDS);
    const plain = new Trainer(autoencoder(1));
    const base = () => epochMs(plain, x, y, BATCH, null);
    if (!bench.results[BASELINE]) {
      // The lead's core suite records this too; measured here (same definition) when that suite did not run.
      const ms = [];
      for (let i = 0; i < 11; i++) { const t = await base(); if (i >= 2) ms.push(t); }
      bench.record(BASELINE, median(ms), { extra: { batch: BATCH, recorded_by: 'bench/suites/regret.js' } });
    }
    const overhead = async (name, options, extra, opts) => {
      if (!bench.wants(name)) return;
      const { plugin, trainer } = regretTrainer(options);
      const r = await paired(base, () => epochMs(trainer, x, y, BATCH, plugin), opts);
      bench.record(name, r.cand, { baseline: BASELINE, extra: { ...extra, ratio_paired: r.ratio, baseline_paired_ms: Math.round(r.base * 1000) / 1000 } });
      plugin.dispose();
    };
    await overhead('regret.layer3.autoencoder', { network: NONE, neurons: NONE, layers: { layers: [2] } },
      { scope: 'layer 3 (30→20, 620 parameters), every round, exact MSE statistics' });
    await overhead('regret.neurons50-hidden.autoencoder', { network: NONE, layers: NONE, neurons: { layers: HIDDEN, perLayer: 50 } },
      { scope: 'neurons of layers 2–6 (50, or all where fewer: 180 units), every round, exact MSE statistics' });
    await overhead('regret.neurons50-input.autoencoder', { network: NONE, layers: NONE, neurons: { layers: [0], perLayer: 50, every: 10 } },
      { scope: '50 neurons of layer 1 (fan-in 785), every 10th round, exact MSE statistics' }, { warmup: 1, iterations: 5 });
    await overhead('regret.layer-output.autoencoder', { network: NONE, neurons: NONE, layers: { layers: [5] } },
      { scope: 'layer 6 (50→784 linear, 39,984 parameters), every round, exact MSE statistics as unit blocks (one shared 51×51 block)' });
    if (bench.wants('regret.neurons50-input.autoencoder.every-round')) {
      // Issue 15: the input layer's 50 neurons every round, on real MNIST (its zeros and its units'
      // activity decide the cost: inactive samples are skipped), 40 rounds of batch 64.
      const { loadMnist } = await import('@taylorlens/core');
      const ds = loadMnist({ split: 'train', limit: BATCH * ROUNDS });
      const mx = tf.tensor2d(ds.images, [ds.count, 784]);
      const plainM = new Trainer(autoencoder(1));
      const { plugin, trainer } = regretTrainer({ network: NONE, layers: NONE, neurons: { layers: [0], perLayer: 50, every: 1 } });
      const r = await paired(() => epochMs(plainM, mx, mx, BATCH, null), () => epochMs(trainer, mx, mx, BATCH, plugin), { warmup: 1, iterations: 5 });
      bench.record('regret.neurons50-input.autoencoder.every-round', r.cand, {
        baseline: BASELINE,
        extra: { scope: '50 neurons of layer 1 (fan-in 785), every round, exact MSE statistics, real MNIST', budget: 1.5, ratio_paired: r.ratio, baseline_paired_ms: Math.round(r.base * 1000) / 1000 },
      });
      plugin.dispose();
      mx.dispose();
    }
    if (bench.wants('regret.network.autoencoder')) {
      // Every 100th round: epochs of 200 rounds, so that two rounds are stored in each timed epoch.
      const big = mnistLike(BATCH * 200);
      const plainBig = new Trainer(autoencoder(1));
      const { plugin, trainer } = regretTrainer({ layers: NONE, neurons: NONE, network: { every: 100 } });
      const r = await paired(() => epochMs(plainBig, big.x, big.y, BATCH, null), () => epochMs(trainer, big.x, big.y, BATCH, plugin), { warmup: 1, iterations: 3 });
      const net = plugin.scopes[0];
      bench.record('regret.network.autoencoder', r.cand, {
        baseline: BASELINE,
        extra: { every: 100, bytes_per_recorded_round: net.lastRoundBytes, parameters: net.desc.params, ratio_paired: r.ratio },
      });
      plugin.dispose();
      tf.dispose([big.x, big.y]);
    }
    if (bench.wants('regret.network.checkpoint.autoencoder')) {
      // The certified network-scope optimum (issue 12): 94 stored rounds of batch 64 (every 10th of
      // 940 rounds: 10 epochs of 94 batches, one checkpoint at the end), squared error → GLTR.
      const R = 94;
      const data = mnistLike(BATCH * R, { seed: 5 });
      const { plugin, trainer } = regretTrainer({ layers: NONE, neurons: NONE, network: { every: 10 }, checkpoint: { everyEpochs: 10 } });
      const t0 = performance.now();
      await trainer.fit(data.x, data.y, { epochs: 10, batchSize: BATCH, seed: 1 });
      const trainMs = performance.now() - t0;
      const net = plugin.scopes[0];
      const c = plugin.results.scopes[net.desc.key].checkpoints.at(-1);
      const s = c.ball.solver[0];
      const sig = (v) => (v === undefined ? null : Number(v.toPrecision(3)));
      bench.record('regret.network.checkpoint.autoencoder', c.solveMs, {
        extra: {
          recorded_rounds: c.recordedRounds, samples_per_round: BATCH, parameters: net.desc.params, method: s.method,
          certified: s.certified, stop: s.stop, products: s.products, ms_per_product: Math.round(c.solveMs / Math.max(s.products, 1)),
          kkt_residual: sig(s.residual), krylov_residual: sig(s.krylovResidual), gap: sig(s.gap), tolerance: s.tolerance, lambda: sig(s.lambda),
          on_boundary: s.onBoundary, phi: sig(c.ball.phi[0]), regret: sig(c.ball.regret[0]), radius: sig(c.ball.radius[0]),
          train_ms: Math.round(trainMs - c.solveMs), budget_ms: 60000,
        },
      });
      plugin.dispose();
      tf.dispose([data.x, data.y]);
    }
    if (bench.wants('regret.checkpoint-solve.autoencoder')) {
      // One checkpoint of the first two scopes (layer 3, the hidden neurons) after 40 rounds.
      const { plugin, trainer } = regretTrainer({ network: NONE, layers: { layers: [2] }, neurons: { layers: HIDDEN, perLayer: 50 } });
      await trainer.fit(x, y, { epochs: 1, batchSize: BATCH, seed: 1 });
      const ms = await bench.time(() => plugin.checkpoint(1, ROUNDS), { warmup: 1, iterations: 5 });
      const solveMs = (kind) => Math.round(Object.values(plugin.results.scopes).find((s) => s.kind === kind).checkpoints.at(-1).solveMs);
      bench.record('regret.checkpoint-solve.autoencoder', ms, { extra: { scopes: 'layer 3 (620 params) + 180 hidden neurons', layer_ms: solveMs('layer'), neurons_ms: solveMs('neurons') } });
      plugin.dispose();
    }
    tf.dispose([x, y]);
  }

  // Issue 15: one epoch of full MNIST with the paper's whole protocol: layer scope on every layer,
  // 50 neurons of every hidden layer (the input layer's included), every round; the network scope
  // every 100th round; a checkpoint (every solve) at the epoch end. Against the same epoch with no
  // plugin, measured in this process (same model, data and seed). Scopes the memory budget cannot
  // hold are skipped by the plugin and listed in `skipped`. `node bench/run.js paper-protocol`.
  if (bench.wants('regret.paper-protocol.autoencoder.epoch')) {
    const r = await mnistEpochAgainstPlain({ layers: { layers: 'all', every: 1 }, neurons: { layers: [0, 1, 2, 3, 4], perLayer: 50, every: 1 }, network: { every: 100 } });
    const { plugin } = r;
    bench.record('regret.paper-protocol.autoencoder.epoch', r.ms, {
      extra: {
        baseline_epoch_ms: Math.round(r.base), baseline_epochs_ms: r.baselines, ratio_to_plain_epoch: r.ratio, budget: 2,
        record_ms: Math.round(plugin.results.timing.recordMs), checkpoint_ms: Math.round(plugin.results.timing.checkpointMs),
        network_products: plugin.results.scopes.network?.checkpoints.at(-1)?.ball.solver[0].products,
        solve_ms_per_scope: Object.fromEntries(Object.entries(plugin.results.scopes).map(([k, s]) => [k, Math.round(s.checkpoints.at(-1)?.solveMs ?? -1)])),
        record_ms_per_scope: Object.fromEntries(Object.entries(plugin.results.timing.scopeRecordMs ?? {}).map(([k, v]) => [k, Math.round(v)])),
        skipped: r.warnings, samples: r.samples, batch: BATCH,
      },
    });
    plugin.dispose();
  }

  // Issue 15: the network scope's Hessian products with half the stored rounds on the network
  // products worker, against the same products on this thread alone, in alternation (20 products
  // each, the same v): 19 stored rounds of batch 64, about what a 20-epoch run stores at one round
  // in 1,000. `node bench/run.js network.products`.
  if (bench.wants('regret.network.products.autoencoder')) {
    await selectBackend('wasm');
    const R = 19;
    const data = mnistLike(BATCH * R, { seed: 5 });
    const { plugin, trainer } = regretTrainer({ layers: NONE, neurons: NONE, network: { every: 1 }, checkpoint: { everyEpochs: 2 } });
    await trainer.fit(data.x, data.y, { epochs: 1, batchSize: BATCH, seed: 1 });
    const scope = plugin.scopes[0];
    const reps = [...scope.store.read()].map(({ arrays }) => scope.replay(arrays));
    const source = { cached: true, rounds: () => reps, release: () => undefined };
    const P = scope.desc.params;
    const curvature = outputCurvature(trainer.loss, 0.5);
    const v = Float64Array.from({ length: P }, (_, i) => Math.sin(i));
    const problems = [false, true].map((offThread) => new NetworkProblem(trainer.anatomy, trainer.loss, curvature, source, P, offThread));
    const timed = async (p) => {
      const t0 = performance.now();
      for (let k = 0; k < 20; k++) await p.hessian(v);
      return (performance.now() - t0) / 20;
    };
    const r = await paired(() => timed(problems[0]), () => timed(problems[1]), { warmup: 1, iterations: 5 });
    bench.record('regret.network.products.autoencoder.one-thread', r.base, { extra: { stored_rounds: R, samples_per_round: BATCH, parameters: P } });
    bench.record('regret.network.products.autoencoder', r.cand, {
      baseline: 'regret.network.products.autoencoder.one-thread',
      extra: { ratio_paired: r.ratio, worker_rounds: problems[1].productsWorker()?.rounds ?? 0, stored_rounds: R },
    });
    for (const p of problems) p.dispose();
    for (const rep of reps) tf.dispose(rep.all);
    plugin.dispose();
    tf.dispose([data.x, data.y]);
  }

  // Issue 15: the input layer's 50 neurons every round over one whole epoch of MNIST (938 rounds,
  // checkpoint included), against the plain epoch before and after it: the steady state, which the
  // 40-round epochs of `…every-round` (fresh statistics, a worker start and a flush each) overstate.
  if (bench.wants('regret.neurons50-input.autoencoder.every-round.epoch')) {
    const r = await mnistEpochAgainstPlain({ network: NONE, layers: NONE, neurons: { layers: [0], perLayer: 50, every: 1 } });
    bench.record('regret.neurons50-input.autoencoder.every-round.epoch', r.ms, {
      extra: {
        baseline_epochs_ms: r.baselines, ratio_to_plain_epoch: r.ratio, budget: 1.5,
        record_ms: Math.round(r.plugin.results.timing.recordMs), checkpoint_ms: Math.round(r.plugin.results.timing.checkpointMs), samples: r.samples, batch: BATCH,
      },
    });
    r.plugin.dispose();
  }

  // Issue 15, the convnet: one epoch of the reduced convnet of results/ (16 filters, dense 64, the
  // first 4,096 MNIST images, batch 128) with the whole protocol and its defaults for cross-entropy
  // (stored rounds, every 10th round, 4 samples each; the network every 100th round), against the
  // same epoch without the plugin. `node bench/run.js paper-protocol.convnet`.
  if (bench.wants('regret.paper-protocol.convnet-reduced.epoch')) {
    await selectBackend('wasm');
    const { loadMnist } = await import('@taylorlens/core');
    const ds = loadMnist({ split: 'train', limit: 4096 });
    const cx = tf.tensor4d(ds.images, [ds.count, 28, 28, 1]);
    const cy = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(ds.labels), 'int32'), 10), 'float32'));
    const skipped = [];
    const epochOf = (plugin) => freshEpoch(() => paperConvnet(1, { filters: 16, hidden: 64 }), cx, cy, 128, plugin, skipped);
    const baseMs = await epochOf(null);
    const plugin = new RegretPlugin({
      trace: false, budget: { maxOverhead: 1e9, memoryMB: 8192, diskGB: 1e4 },
      layers: { layers: 'all' }, neurons: { layers: 'all', perLayer: 50 }, network: { every: 100 },
    });
    plugin.retain = true;
    const ms = await epochOf(plugin);
    bench.record('regret.paper-protocol.convnet-reduced.epoch', ms, {
      extra: {
        baseline_epoch_ms: Math.round(baseMs), ratio_to_plain_epoch: Math.round((ms / baseMs) * 1000) / 1000,
        record_ms: Math.round(plugin.results.timing.recordMs), checkpoint_ms: Math.round(plugin.results.timing.checkpointMs),
        solve_ms_per_scope: Object.fromEntries(Object.entries(plugin.results.scopes).map(([k, r]) => [k, Math.round(r.checkpoints.at(-1)?.solveMs ?? -1)])),
        skipped, samples: ds.count, batch: 128,
      },
    });
    plugin.dispose();
    tf.dispose([cx, cy]);
  }

  // Issue 13: a whole model beyond chains. The ResNet-style block on CIFAR-shaped input (batch 32,
  // cross-entropy, Adam): the layer scope of its second conv (3×3, 16 → 16: 2,320 parameters, with
  // BN and the residual add between it and the output) recorded every round with the stored-round
  // default sub-batch, against the plain Trainer. `node bench/run.js resnet` runs it with the core
  // suite's core.trainer.resnet / core.raw-loop.resnet.
  if (bench.wants('regret.resnet.layer')) {
    await selectBackend('wasm');
    const RB = 32;
    const RR = 20;
    const data = cifarLike(RB * RR);
    const plain = new Trainer(resnetBlock(1));
    // Scoped layers: conv, BN, conv, BN, shortcut conv, dense (BatchNormalization's γ/β are scoped too): [2] is the second conv.
    const { plugin, trainer } = regretTrainer({ network: NONE, neurons: NONE, layers: { layers: [2], every: 1 } }, resnetBlock(1));
    const r = await paired(() => epochMs(plain, data.x, data.y, RB, null), () => epochMs(trainer, data.x, data.y, RB, plugin), { warmup: 2, iterations: 11 });
    const baseline = 'core.trainer.resnet';
    if (!bench.results[baseline]) {
      // The core suite records it in turn with the raw loop; when it did not run, the paired plain epochs stand in.
      bench.record(baseline, r.base, { extra: { batch: RB, recorded_by: 'bench/suites/regret.js (the plain Trainer paired with regret.resnet.layer)' } });
    }
    const scope = plugin.scopes[0];
    bench.record('regret.resnet.layer', r.cand, {
      baseline,
      extra: {
        batch: RB, budget: 1.5, ratio_paired: r.ratio, baseline_paired_ms: Math.round(r.base * 1000) / 1000,
        scope: `layer ${scope.desc.layer} (conv 3×3, 16 → 16, ${scope.desc.params} parameters), every round, stored rounds`,
        sub_batch: scope.desc.subBatch, representation: scope.desc.representation,
        bytes_per_recorded_round: plugin.results.cost.scopes.reduce((t, c) => t + c.bytesPerRecordedRound, 0),
      },
    });
    plugin.dispose();
    tf.dispose([data.x, data.y]);
  }

  // The paper's convnet on MNIST-shaped data: cross-entropy, neuron scope of the three conv layers
  // (50 filters each), every 10th round, the default sub-batch of 4 samples per recorded round.
  if (bench.wants('regret.convnet')) {
    await selectBackend('wasm');
    // Batch 32 keeps the suite to minutes on 2 cores; REGRET_CONVNET_BATCH=128 REGRET_CONVNET_ROUNDS=10 for the paper's batch.
    const CB = Number(process.env.REGRET_CONVNET_BATCH ?? 32);
    const CR = Number(process.env.REGRET_CONVNET_ROUNDS ?? 20);
    const data = mnistLike(CB * CR, { flat: false, classes: 10 });
    const plain = new Trainer(paperConvnet(1));
    const { plugin, trainer } = regretTrainer({ network: NONE, layers: NONE, neurons: { layers: [0, 1, 2], perLayer: 50, every: 10 } }, paperConvnet(1));
    const r = await paired(() => epochMs(plain, data.x, data.y, CB, null), () => epochMs(trainer, data.x, data.y, CB, plugin), { warmup: 1, iterations: 3 });
    bench.record('regret.convnet.baseline', r.base, { extra: { batch: CB, model: 'paper convnet 28×28×1, 3 × conv 5×5×64 + max-pool, dense 192, 10' } });
    const bytes = plugin.results.cost.scopes.reduce((s, c) => s + c.bytesPerRecordedRound, 0);
    const tenEpochs = 10 * Math.ceil(60000 / 128); // rounds of a 10-epoch MNIST run at the paper's batch 128
    bench.record('regret.convnet.neurons50', r.cand, {
      baseline: 'regret.convnet.baseline',
      extra: { batch: CB, every: 10, sub_batch: 4, ratio_paired: r.ratio, bytes_per_recorded_round: bytes, projected_GB_10_epochs_mnist: Math.round((bytes * Math.ceil(tenEpochs / 10) / 2 ** 30) * 100) / 100 },
    });
    // The last timed epoch's own checkpoint: a cold start (scopes are fresh in every fit).
    const recorded = plugin.results.scopes[Object.keys(plugin.results.scopes)[0]].checkpoints.at(-1).recordedRounds;
    const solve = plugin.results.timing.checkpointMs;
    const iterations = Object.values(plugin.results.scopes).map((s) => Math.max(...s.checkpoints.at(-1).ball.solver.map((v) => v.iterations)));
    bench.record('regret.convnet.checkpoint-solve', solve, {
      extra: { recorded_rounds: recorded, samples_per_round: 4, ms_per_recorded_round: Math.round(solve / recorded), max_iterations_per_layer: iterations, scopes: '3 conv layers × 50 neurons, projected L-BFGS, cold start' },
    });
    plugin.dispose();
    tf.dispose([data.x, data.y]);
  }
}
