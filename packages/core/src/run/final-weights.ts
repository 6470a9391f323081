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
import { modelWeights } from './model-weights.js';

const LEFTOVER = new RegExp(`^${WEIGHTS_DIR}\\.(partial|old)-[0-9a-f]+$`);

/** `trainable: false` only on state training does not step (BatchNormalization's moving statistics, a frozen layer's weights). */
export interface WeightEntry { file: string; layer: string; name: string; shape: number[]; trainable?: false }

/** weights/NN.npy (float32, tfjs layouts) and weights/index.json naming each (every weight of the model, model-weights.ts), replaced as a set. */
export async function writeFinalWeights(runDir: RunDir, trainer: Trainer): Promise<void> {
  for (const e of fs.readdirSync(runDir.dir)) if (LEFTOVER.test(e)) fs.rmSync(runDir.path(e), { recursive: true, force: true });
  const token = randomBytes(4).toString('hex');
  const partial = runDir.path(`${WEIGHTS_DIR}.partial-${token}`);
  fs.mkdirSync(partial);
  const entries: WeightEntry[] = [];
  for (const [i, w] of modelWeights(trainer.anatomy).entries()) {
    const file = `${String(i).padStart(2, '0')}.npy`;
    writeFileSynced(path.join(partial, file), encodeNpy({ dtype: 'float32', shape: w.value.shape, data: await w.value.data() as Float32Array }), { exclusive: true });
    entries.push({ file, layer: w.layer, name: w.name, shape: w.shape, ...(w.trainable ? {} : { trainable: false as const }) });
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
