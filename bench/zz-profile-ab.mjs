import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { cifarLike, resnetBlock } from './lib/models.js';
await selectBackend(process.env.BE ?? 'wasm');
const RB = 32, RR = 8;
const data = cifarLike(RB * RR);
const plugin = new RegretPlugin({ trace: false, budget: { maxOverhead: 1e9, memoryMB: 4096, diskGB: 1e4 }, network: { enabled: false }, neurons: { enabled: false }, layers: { layers: [1], every: 1, subBatch: Number(process.env.SB ?? 4) } });
const reg = new Trainer(resnetBlock(1), { plugins: [plugin] });
let on = false;
const byKernel = {};
let tapMs = 0, kernelMs = 0, n = 0;
for (const t of reg.hooks.afterBackward.taps) {
  const fn = t.fn;
  t.fn = async function (...args) {
    if (!on) return fn.apply(this, args);
    const t0 = performance.now();
    const p = await tf.profile(() => fn.apply(this, args));
    tapMs += performance.now() - t0; n++;
    for (const k of p.kernels) { const key = `${k.name} ${JSON.stringify(k.inputShapes)}`; byKernel[key] = (byKernel[key] ?? 0) + k.kernelTimeMs; kernelMs += k.kernelTimeMs; }
  };
}
const ep = () => reg.fit(data.x, data.y, { epochs: 1, batchSize: RB, seed: 1 });
await ep(); await ep();
on = true; await ep(); await ep();
console.log('afterBackward per round: wall', (tapMs / n).toFixed(1), 'ms, kernels', (kernelMs / n).toFixed(1), 'ms');
for (const [k, v] of Object.entries(byKernel).sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log((v / n).toFixed(2).padStart(8), k);
