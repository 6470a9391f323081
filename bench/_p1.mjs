import * as tf from '@tensorflow/tfjs-core';
import { Trainer, selectBackend, loadMnist } from '@taylorlens/core';
import { RegretPlugin } from '@taylorlens/plugin-regret';
import { autoencoder } from './lib/models.js';
await selectBackend('wasm');
const ds = loadMnist({ split: 'train', limit: Number(process.env.LIMIT ?? 12800) });
const mx = tf.tensor2d(ds.images, [ds.count, 784]);
const NONE = { enabled: false };
const opts = JSON.parse(process.env.OPTS ?? '{"network":{"enabled":false},"layers":{"enabled":false},"neurons":{"layers":[0],"perLayer":50,"every":1}}');
const plugin = new RegretPlugin({ trace: false, budget: { maxOverhead: 1e9, memoryMB: 8192, diskGB: 1e4 }, ...opts });
plugin.retain = true;
const trainer = new Trainer(autoencoder(1), { plugins: [plugin] });
const t0 = performance.now();
await trainer.fit(mx, mx, { epochs: 1, batchSize: 64, seed: 1 });
const ms = performance.now() - t0;
console.log('ms/round', (ms / (ds.count / 64)).toFixed(1), 'record', plugin.results.timing.recordMs.toFixed(0), 'ckpt', plugin.results.timing.checkpointMs.toFixed(0), JSON.stringify(plugin.results.timing.scopeRecordMs));

for (const [k, s] of Object.entries(plugin.results.scopes)) { const c = s.checkpoints.at(-1); if (c) console.log(k, Math.round(c.solveMs), JSON.stringify(c.ball.solver[0])); }
plugin.dispose();
