/** Helpers of the resume tests: in-process sessions on one run folder, and comparing what two runs wrote. */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import {
  buildModel, readCheckpoint, restoreCheckpoint, RunDir, RunStore, saveCheckpoint, STAGE_REPORT, Trainer,
  type MetricsRow, type ModelSpec, type TaylorLoss,
} from '@taylorlens/core';
import { RegretPlugin, type RegretFile } from '@taylorlens/plugin-regret';
import { randomData } from '../../../core/test/helpers/models.js';

/** Wall-clock fields (solve and record times, measured throughput), which no two runs share. */
const CLOCK = /(Ms|Seconds)$|^ms[A-Z]/;

/** JSON without its wall-clock fields: what an interrupted-and-resumed run must reproduce bit for bit. */
export function comparable<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (CLOCK.test(k) ? undefined : v))) as T;
}

/** Every file under `dir` (relative path → sha256 of its bytes); {} when there is no such folder. */
export function filesUnder(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const rel of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const file = path.join(dir, rel);
    if (fs.statSync(file).isFile()) out[rel] = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  }
  return out;
}

export const readRegret = (runDir: string) => JSON.parse(fs.readFileSync(path.join(runDir, 'regret', 'regret.json'), 'utf8')) as RegretFile;

/**
 * Everything the regret plugin wrote into run folder `b` equals what it wrote into `a`: regret.json
 * (every checkpoint, every field but the wall-clock ones, in the file's own text), losses.npy, the
 * stored rounds spilled to disk, and the trace (rows, optima, centres, checkpoint records).
 */
export function expectSameRegret(b: string, a: string): void {
  const ra = readRegret(a);
  const rb = readRegret(b);
  expect(rb.firstRound).toBeUndefined();
  expect(rb.previousSessions).toBeUndefined();
  expect(comparable(rb)).toEqual(comparable(ra));
  expect(JSON.stringify(comparable(rb))).toBe(JSON.stringify(comparable(ra)));
  const bytes = (d: string, f: string) => fs.readFileSync(path.join(d, 'regret', f));
  expect(bytes(b, 'losses.npy').equals(bytes(a, 'losses.npy')), 'losses.npy differs').toBe(true);
  expect(filesUnder(path.join(b, 'regret', 'rounds'))).toEqual(filesUnder(path.join(a, 'regret', 'rounds')));
  const traced = (d: string) => filesUnder(path.join(d, 'trace', 'regret'));
  const records = (d: string) => Object.keys(traced(d)).filter((f) => f.endsWith('checkpoint.json'))
    .map((f) => [f, comparable(JSON.parse(fs.readFileSync(path.join(d, 'trace', 'regret', f), 'utf8')))]);
  const files = (d: string) => Object.entries(traced(d)).filter(([f]) => !f.endsWith('checkpoint.json'));
  expect(files(b)).toEqual(files(a));
  expect(records(b)).toEqual(records(a));
}

export interface Setup { name: string; model: ModelSpec; loss: TaylorLoss; options: object; epochs: number }

export const DENSE: ModelSpec = {
  input: [5], loss: 'mse',
  layers: [{ type: 'dense', units: 4, activation: 'relu' }, { type: 'dense', units: 3, activation: 'relu' }, { type: 'dense', units: 4 }],
};

export const CONV: ModelSpec = {
  input: [6, 6, 1], loss: 'softmaxCrossEntropy',
  layers: [
    { type: 'conv2d', filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }, { type: 'maxPooling2d', poolSize: 2 },
    { type: 'flatten' }, { type: 'dense', units: 3 },
  ],
};

/**
 * One in-process session on run folder `dir` (a new one under `root` when null), checkpointing at
 * every epoch end as the runner does; resumed from the folder's last checkpoint when `resume`,
 * stopped after round `stopAt` when given. 72 samples in batches of 6: 12 rounds per epoch.
 */
export async function session(s: Setup, root: string, dir: string | null, { stopAt, resume = false }: { stopAt?: number; resume?: boolean } = {}) {
  const runDir = dir ? RunDir.open(dir) : RunDir.create(root, s.name);
  const store = new RunStore(runDir, { every: 5 });
  // Named layers (as the CLI builds them): scope keys hold layer names, which must not depend on tfjs's counters.
  const model = buildModel(s.model, 3);
  const optimizer = tf.train.adam(0.02);
  const trainer = new Trainer(model, { loss: s.loss, optimizer, plugins: [new RegretPlugin(s.options)], store });
  const rows: MetricsRow[] = [];
  const warnings: string[] = [];
  trainer.events.on('epoch', (r) => rows.push({ ...r }));
  trainer.events.on('warning', (w) => warnings.push((w as { message: string }).message));
  if (stopAt) trainer.events.on('round', (r) => { if (r.round === stopAt) trainer.stop('cut', 'interrupted'); });
  trainer.hooks.afterEpoch.tapPromise({ name: 'test:checkpoint', stage: STAGE_REPORT + 10_000 }, async (ctx) => {
    await saveCheckpoint(runDir, trainer, trainer.state(), ctx.row);
  });
  const ckpt = resume ? readCheckpoint(runDir) : null;
  if (ckpt) await restoreCheckpoint(runDir, ckpt, trainer);
  const conv = s.model.loss !== 'mse';
  const { x, y } = randomData(72, s.model.input, conv ? 3 : 4, 5, conv);
  try {
    const summary = await trainer.fit(x, y, { epochs: s.epochs, batchSize: 6, seed: 4, resume: ckpt?.trainer });
    return { dir: runDir.dir, rows, warnings, summary };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  }
}

/** Uninterrupted, then cut at round 17 (inside epoch 2) and resumed from the epoch-1 checkpoint: the same regret. */
export async function expectResumeMatches(s: Setup, root: string): Promise<void> {
  const alone = await session(s, root, null);
  expect(alone.summary.status).toBe('completed');
  const cut = await session(s, root, null, { stopAt: 17 });
  expect(cut.summary.status).toBe('interrupted');
  const state = JSON.parse(fs.readFileSync(path.join(cut.dir, 'checkpoint', 'epoch-000001', 'state.json'), 'utf8'));
  expect(state.trainer.plugins.regret).toMatchObject({ format: 'taylorlens.regret-state/1', rounds: 12 });
  // The cut session solved once more at its end (round 17) and recorded past the checkpoint: all that must go.
  expect(readRegret(cut.dir).rounds).toBe(17);
  const resumed = await session(s, root, cut.dir, { resume: true });
  expect(resumed.summary.status).toBe('completed');
  expect(resumed.warnings.filter((w) => /resumed run|ignoring|holds no regret state/.test(w))).toEqual([]);
  expectSameRegret(resumed.dir, alone.dir);
  expect(resumed.rows).toEqual(alone.rows.slice(1));
}
