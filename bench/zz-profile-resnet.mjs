import * as tf from '@tensorflow/tfjs-core';
import { Trainer, SeededRandom, selectBackend } from '@taylorlens/core';
import { cifarLike, resnetBlock } from './lib/models.js';
await selectBackend(process.env.BE ?? 'wasm');
const RB = 32, RR = 4;
const data = cifarLike(RB * RR);
const raw = resnetBlock(1);
const rng = new SeededRandom(1);
async function rawEpoch() {
  const order = rng.permutation(data.x.shape[0]);
  const lossFn = raw.lossFunctions[0];
  for (let s = 0; s < data.x.shape[0]; s += RB) {
    const cost = tf.tidy(() => {
      const idx = tf.tensor1d(order.subarray(s, s + RB), 'int32');
      const xb = tf.gather(data.x, idx); const yb = tf.gather(data.y, idx);
      return raw.optimizer.minimize(() => tf.mean(lossFn(yb, raw.apply(xb, { training: true }))), true);
    });
    await cost.data(); cost.dispose();
  }
}
const trainer = new Trainer(resnetBlock(1));
const tr = () => trainer.fit(data.x, data.y, { epochs: 1, batchSize: RB, seed: 1 });
for (let i = 0; i < 2; i++) { await rawEpoch(); await tr(); }
const summarize = (p) => {
  const by = {};
  for (const k of p.kernels) { by[k.name] ??= { n: 0, ms: 0 }; by[k.name].n++; by[k.name].ms += k.kernelTimeMs; }
  return by;
};
const pr = summarize(await tf.profile(rawEpoch));
const pt = summarize(await tf.profile(tr));
const names = [...new Set([...Object.keys(pr), ...Object.keys(pt)])].sort((a, b) => ((pt[b]?.ms ?? 0) + (pr[b]?.ms ?? 0)) - ((pt[a]?.ms ?? 0) + (pr[a]?.ms ?? 0)));
let tr_ = 0, tt = 0;
for (const n of names) {
  const a = pr[n] ?? { n: 0, ms: 0 }, b = pt[n] ?? { n: 0, ms: 0 };
  tr_ += a.ms; tt += b.ms;
  console.log(n.padEnd(36), String(a.n / RR).padStart(6), a.ms.toFixed(1).padStart(9), String(b.n / RR).padStart(6), b.ms.toFixed(1).padStart(9));
}
console.log('total kernel ms per epoch of', RR, 'rounds: raw', tr_.toFixed(1), 'trainer', tt.toFixed(1));
const t = async (f) => { const ts = []; for (let i = 0; i < 7; i++) { const t0 = performance.now(); await f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); return ts[3] / RR; };
console.log('wall ms/round raw', (await t(rawEpoch)).toFixed(1), 'trainer', (await t(tr)).toFixed(1), 'raw', (await t(rawEpoch)).toFixed(1), 'trainer', (await t(tr)).toFixed(1));
for (const [name, f] of [['raw', rawEpoch], ['trainer', tr]]) {
  const p = await tf.profile(f);
  const rows = p.kernels.filter((k) => ['Sum', 'Tile', 'Conv2DBackpropInput', 'Mean'].includes(k.name)).slice(0, 40).map((k) => `${k.name}${JSON.stringify(k.inputShapes)}→${JSON.stringify(k.outputShapes)} ${k.kernelTimeMs.toFixed(1)}`);
  console.log(name, rows.slice(0, 30).join('\n  '));
}
