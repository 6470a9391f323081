/**
 * The run's final weights, written as one set: every `NN.npy` and `index.json` go into a fresh
 * `weights.partial-<token>/` folder, which is then renamed to `weights/` (an earlier session's
 * `weights/` is moved aside first and removed after). A reader, or a process killed half-way,
 * sees the previous set or the new one, never a mix; leftovers of a killed writer are removed
 * the next time a run folder's weights are written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RunDir } from '../store/run-dir.js';
import { encodeNpy } from '../store/npy.js';
import { fsyncDir, writeFileSynced } from '../store/atomic.js';
import type { Trainer } from '../trainer.js';
import { WEIGHTS_DIR } from './store.js';

const LEFTOVER = new RegExp(`^${WEIGHTS_DIR}\\.(partial|old)-[0-9a-f]+$`);

export interface WeightEntry { file: string; layer: string; name: string; shape: number[] }

/** weights/NN.npy (float32, tfjs layouts) and weights/index.json naming each, replaced as a set. */
export async function writeFinalWeights(runDir: RunDir, trainer: Trainer): Promise<void> {
  for (const e of fs.readdirSync(runDir.dir)) if (LEFTOVER.test(e)) fs.rmSync(runDir.path(e), { recursive: true, force: true });
  const token = randomBytes(4).toString('hex');
  const partial = runDir.path(`${WEIGHTS_DIR}.partial-${token}`);
  fs.mkdirSync(partial);
  const entries: WeightEntry[] = [];
  let i = 0;
  for (const p of trainer.anatomy.layers) {
    for (const [name, v] of [[p.kernelName, p.kernel], [p.biasName, p.bias]] as const) {
      if (!v) continue;
      const file = `${String(i++).padStart(2, '0')}.npy`;
      writeFileSynced(path.join(partial, file), encodeNpy({ dtype: 'float32', shape: v.shape, data: await v.data() as Float32Array }), { exclusive: true });
      entries.push({ file, layer: p.name, name, shape: [...v.shape] });
    }
  }
  writeFileSynced(path.join(partial, 'index.json'), Buffer.from(JSON.stringify({ dtype: 'float32', order: 'C', weights: entries }, null, 2) + '\n'), { exclusive: true });
  fsyncDir(partial);
  const target = runDir.path(WEIGHTS_DIR);
  const old = runDir.path(`${WEIGHTS_DIR}.old-${token}`);
  const hadOld = fs.existsSync(target);
  if (hadOld) fs.renameSync(target, old);
  fs.renameSync(partial, target);
  fsyncDir(runDir.dir);
  if (hadOld) fs.rmSync(old, { recursive: true, force: true });
}
