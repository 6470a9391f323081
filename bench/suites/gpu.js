// GPU benchmarks (issue 8): one training step of the paper's convnet at full width (32×32×3,
// 64 filters, dense 192, batch 128) on wasm and on webgpu, and the same step with neuron-scope
// regret. Runs only when a WebGPU adapter is present; otherwise prints a note and records nothing.
//
//   TAYLORLENS_GPU_BENCH_SIZE=tiny   8 filters, dense 16, batch 16: for checking the path on the
//                                    software adapter (bench/gpu/run.sh --size tiny), not for timing.
//   TAYLORLENS_GPU_BENCH_ALLOW_SOFTWARE=1   time on a software adapter (llvmpipe) anyway.
import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend, trainingFlopsPerStep, webgpuStatus } from '@taylorlens/core';
import { paperConvnet } from '../lib/models.js';

const SIZES = {
  full: { filters: 64, hidden: 192, batch: 128, wasm: { warmup: 1, iterations: 2 }, webgpu: { warmup: 2, iterations: 10 } },
  tiny: { filters: 8, hidden: 16, batch: 16, wasm: { warmup: 1, iterations: 2 }, webgpu: { warmup: 1, iterations: 2 } },
};
const INPUT = [32, 32, 3];

/** Random CIFAR-shaped batch (the timing does not depend on the values). */
function batch(n) {
  return tf.tidy(() => ({
    x: tf.randomUniform([n, ...INPUT], 0, 1, 'float32', 3),
    y: tf.cast(tf.oneHot(tf.randomUniform([n], 0, 10, 'int32', 4), 10), 'float32'),
  }));
}

/** Median ms of one trainer step (fit over exactly one batch) on `backend`, with `plugins` from `makePlugins()`. */
async function stepTime(bench, backend, size, timing, makePlugins = () => []) {
  await selectBackend(backend);
  const model = paperConvnet(1, { input: INPUT, filters: size.filters, hidden: size.hidden });
  const trainer = new Trainer(model, { plugins: makePlugins() });
  const { x, y } = batch(size.batch);
  try {
    return await bench.time(() => trainer.fit(x, y, { epochs: 1, batchSize: size.batch, shuffle: false }), timing);
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

/** The conv layers among the model's Dense/Conv2D layers, as plugin-regret numbers them. */
const CONV_LAYERS = [0, 1, 2];

/**
 * Neuron-scope regret on 50 filters per conv layer, every round. @taylorlens/plugin-regret is
 * written alongside this suite: while it does not export RegretPlugin (or rejects these options)
 * the entry is skipped with a note. TAYLORLENS_REGRET_OPTIONS (JSON) overrides the options.
 */
async function regretFactory() {
  let mod;
  try {
    mod = await import('@taylorlens/plugin-regret');
  } catch (e) {
    return { why: `@taylorlens/plugin-regret not loadable (${e.message.split('\n')[0]})` };
  }
  const RegretPlugin = mod.RegretPlugin;
  if (typeof RegretPlugin !== 'function') return { why: '@taylorlens/plugin-regret does not export RegretPlugin yet' };
  const options = process.env.TAYLORLENS_REGRET_OPTIONS
    ? JSON.parse(process.env.TAYLORLENS_REGRET_OPTIONS)
    : {
      network: { enabled: false },
      layers: { enabled: false },
      neurons: { enabled: true, layers: CONV_LAYERS, perLayer: 50, every: 1 },
      // The bench measures the cost; the plugin's guard against slow scopes would refuse it.
      budget: { maxOverhead: 1000 },
    };
  try {
    new RegretPlugin(options); // options are checked against the plugin's schema here
  } catch (e) {
    return { why: `RegretPlugin rejected ${JSON.stringify(options)}: ${e.message.split('\n')[0]} (set TAYLORLENS_REGRET_OPTIONS)` };
  }
  return { make: () => [new RegretPlugin(options)], options };
}

export async function run(bench) {
  if (!['gpu.convnet-paper.wasm', 'gpu.convnet-paper.webgpu', 'gpu.regret-neurons50.convnet-paper.webgpu'].some((n) => bench.wants(n))) return;
  const status = await webgpuStatus();
  if (!status.available) {
    console.log(`gpu suite skipped: ${status.reason}`);
    return;
  }
  const a = status.adapter;
  const sizeName = process.env.TAYLORLENS_GPU_BENCH_SIZE ?? 'full';
  const size = SIZES[sizeName];
  if (!size) throw new Error(`TAYLORLENS_GPU_BENCH_SIZE must be one of ${Object.keys(SIZES).join(', ')}, got ${sizeName}`);
  if (a.software && sizeName === 'full' && !process.env.TAYLORLENS_GPU_BENCH_ALLOW_SOFTWARE) {
    console.log(`gpu suite skipped: the adapter is a software rasterizer (${a.description || a.device}); ` +
      'set TAYLORLENS_GPU_BENCH_SIZE=tiny to check the path, or TAYLORLENS_GPU_BENCH_ALLOW_SOFTWARE=1 to time it anyway');
    return;
  }
  console.log(`gpu suite: adapter ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ')} ` +
    `(Dawn ${a.dawnBackend}, ${a.featureLevel}${a.software ? ', SOFTWARE' : ''}), size ${sizeName}`);
  const probe = paperConvnet(1, { input: INPUT, filters: size.filters, hidden: size.hidden });
  const flops = trainingFlopsPerStep(probe, size.batch);
  probe.dispose();
  const extra = {
    size: sizeName, batch: size.batch, filters: size.filters, input: INPUT.join('x'), flops_per_step: flops,
    adapter: a.description || a.device, dawn_backend: a.dawnBackend, software_adapter: a.software,
  };

  // The baseline is always measured: the webgpu ratios are taken against it in this run.
  // A software adapter takes seconds per full-width step: two timed steps are enough.
  const gpuTiming = a.software ? { warmup: 1, iterations: 2 } : size.webgpu;
  bench.record('gpu.convnet-paper.wasm', await stepTime(bench, 'wasm', size, size.wasm), { extra });
  const wantsRegret = bench.wants('gpu.regret-neurons50.convnet-paper.webgpu');
  if (bench.wants('gpu.convnet-paper.webgpu') || wantsRegret) { // the regret entry's baseline
    bench.record('gpu.convnet-paper.webgpu', await stepTime(bench, 'webgpu', size, gpuTiming),
      { baseline: 'gpu.convnet-paper.wasm', extra });
  }
  if (wantsRegret) {
    const regret = await regretFactory();
    if (!regret.make) {
      console.log(`gpu.regret-neurons50.convnet-paper.webgpu skipped: ${regret.why}`);
    } else {
      bench.record('gpu.regret-neurons50.convnet-paper.webgpu', await stepTime(bench, 'webgpu', size, gpuTiming, regret.make),
        { baseline: 'gpu.convnet-paper.webgpu', extra: { ...extra, regret: regret.options } });
    }
  }
  await selectBackend('wasm');
}
