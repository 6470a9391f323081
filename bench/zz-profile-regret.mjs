import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { cifarLike, resnetBlock } from './lib/models.js';
await selectBackend(process.env.BE ?? 'wasm');
const RB = 32, RR = 4;
const data = cifarLike(RB * RR);
const plain = new Trainer(resnetBlock(1));
const plugin = new RegretPlugin({ trace: false, budget: { maxOverhead: 1e9, memoryMB: 4096, diskGB: 1e4 }, network: { enabled: false }, neurons: { enabled: false }, layers: { layers: [1], every: 1 }, checkpoint: { everyEpochs: 1000 } });
const reg = new Trainer(resnetBlock(1), { plugins: [plugin] });
// Time each hook tap of the regret trainer.
const hookMs = {};
for (const [name, hook] of Object.entries(reg.hooks)) {
  for (const t of hook.taps ?? []) {
    const fn = t.fn;
    if (typeof fn !== 'function') continue;
    t.fn = function (...args) {
      const t0 = performance.now();
      const r = fn.apply(this, args);
      if (r && typeof r.then === 'function') return r.then((v) => { hookMs[`${name}:${t.name}`] = (hookMs[`${name}:${t.name}`] ?? 0) + performance.now() - t0; return v; });
      hookMs[`${name}:${t.name}`] = (hookMs[`${name}:${t.name}`] ?? 0) + performance.now() - t0;
      return r;
    };
  }
}
const ep = (t) => () => t.fit(data.x, data.y, { epochs: 1, batchSize: RB, seed: 1 });
for (let i = 0; i < 2; i++) { await ep(plain)(); await ep(reg)(); }
for (const k of Object.keys(hookMs)) hookMs[k] = 0;
const summarize = (p) => { const by = {}; for (const k of p.kernels) { by[k.name] ??= { n: 0, ms: 0 }; by[k.name].n++; by[k.name].ms += k.kernelTimeMs; } return by; };
const pp = summarize(await tf.profile(ep(plain)));
const pr = summarize(await tf.profile(ep(reg)));
console.log('hook ms per round (profiled epoch):', Object.fromEntries(Object.entries(hookMs).map(([k, v]) => [k, +(v / RR).toFixed(1)])));
const names = [...new Set([...Object.keys(pp), ...Object.keys(pr)])].sort((a, b) => ((pr[b]?.ms ?? 0) - (pp[b]?.ms ?? 0)) - ((pr[a]?.ms ?? 0) - (pp[a]?.ms ?? 0)));
let a = 0, b = 0;
for (const n of names) {
  const x = pp[n] ?? { n: 0, ms: 0 }, y = pr[n] ?? { n: 0, ms: 0 };
  a += x.ms; b += y.ms;
  if (Math.abs(y.ms - x.ms) > 0.5 * RR || y.n !== x.n) console.log(n.padEnd(36), String(x.n / RR).padStart(6), (x.ms / RR).toFixed(1).padStart(8), String(y.n / RR).padStart(6), (y.ms / RR).toFixed(1).padStart(8));
}
console.log('kernel ms per round: plain', (a / RR).toFixed(1), 'regret', (b / RR).toFixed(1));
for (const k of Object.keys(hookMs)) hookMs[k] = 0;
const t = async (f) => { const ts = []; for (let i = 0; i < 5; i++) { const t0 = performance.now(); await f(); ts.push(performance.now() - t0); } ts.sort((p, q) => p - q); return ts[2] / RR; };
console.log('wall ms/round plain', (await t(ep(plain))).toFixed(1), 'regret', (await t(ep(reg))).toFixed(1), 'plain', (await t(ep(plain))).toFixed(1), 'regret', (await t(ep(reg))).toFixed(1));
console.log('hook ms per round (timed epochs):', Object.fromEntries(Object.entries(hookMs).map(([k, v]) => [k, +(v / (RR * 10)).toFixed(1)])));
{
  const p = await tf.profile(ep(reg));
  const rows = p.kernels.filter((k) => ['BatchMatMul', 'Transpose', 'Tile', 'Conv2D', 'Conv2DBackpropInput', 'Sum', 'Multiply'].includes(k.name) && k.kernelTimeMs > 0.3).map((k) => `${k.name}${JSON.stringify(k.inputShapes)}→${JSON.stringify(k.outputShapes)} ${k.kernelTimeMs.toFixed(1)}`);
  console.log(rows.slice(0, 40).join('\n'));
}
