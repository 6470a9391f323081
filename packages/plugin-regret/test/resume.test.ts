// Regret that survives a resume, in-process: the Trainer with the core's own checkpoint functions
// (as the runner uses them), cut mid-epoch and resumed from the last epoch checkpoint, ends with
// regret.json, losses.npy, epoch rows and trace identical to the uninterrupted run's — here with
// squared-error statistics buffered on the device at the checkpoint (no solve there). Stored rounds
// (reservoirs, spills) are checked at the store level here; the convnet under cross-entropy and the
// CLI end to end (SIGINT, SIGKILL during a checkpoint write) are in resume.slow.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meanSquaredError, selectBackend, softmaxCrossEntropy } from '@taylorlens/core';
import { MemoryBudget, RoundStore, type RoundArrays } from '../src/rounds/round-store.js';
import { CONV, DENSE, expectResumeMatches, filesUnder, readRegret, session, type Setup } from './helpers/resume.js';

let root: string;
beforeAll(async () => {
  await selectBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'regret-resume-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// Statistics for every layer and neuron scope, stored rounds for the network; no solve at epoch 1,
// so the checkpoint there holds device partial sums and buffered rounds (12 rounds: 10 reduced, 2 buffered).
const MSE: Setup = {
  name: 'mse', model: DENSE, loss: meanSquaredError, epochs: 2,
  options: { neurons: { perLayer: 2 }, network: { every: 2 }, checkpoint: { everyEpochs: 2 }, budget: { maxOverhead: 1e6 } },
};

// The network scope of a model it stores rather than replays (an overlapping max-pool: its choices
// kept as floats, each layer's input as recorded; rounds/replayable.ts), under cross-entropy.
const STORED: Setup = {
  name: 'stored', loss: softmaxCrossEntropy, epochs: 2,
  model: { ...CONV, layers: [CONV.layers[0], { type: 'maxPooling2d', poolSize: 2, strides: 1 }, ...CONV.layers.slice(2)] },
  options: { layers: { enabled: false }, neurons: { enabled: false }, network: { every: 2 }, budget: { maxOverhead: 1e6 } },
};

describe('regret state in checkpoints', () => {
  it('squared error: cut mid-epoch and resumed, everything the plugin writes equals the uninterrupted run\'s', async () => {
    await expectResumeMatches(MSE, root);
  });

  it('a network scope storing its rounds as recorded: cut mid-epoch and resumed, everything the plugin writes equals the uninterrupted run\'s', async () => {
    await expectResumeMatches(STORED, root);
  });

  it('a checkpoint without regret state (older run folders) falls back to fresh sums, with the warning', async () => {
    const cut = await session(MSE, root, null, { stopAt: 17 });
    // What a checkpoint written before regret state existed looks like.
    const file = path.join(cut.dir, 'checkpoint', 'epoch-000001', 'state.json');
    const state = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete state.trainer.plugins.regret;
    fs.writeFileSync(file, JSON.stringify(state));
    const resumed = await session(MSE, root, cut.dir, { resume: true });
    expect(resumed.summary.status).toBe('completed');
    expect(resumed.warnings.some((w) => /resumed run: regret accounting starts at the resumed round/.test(w))).toBe(true);
    const now = readRegret(resumed.dir);
    expect(now.firstRound).toBe(13);
    expect(now.previousSessions).toEqual([{ regret: 'regret.session-1.json', losses: 'losses.session-1.npy' }]);
    // From there on its checkpoints hold its (partial, from round 13) regret state again.
    const next = JSON.parse(fs.readFileSync(path.join(cut.dir, 'checkpoint', 'epoch-000002', 'state.json'), 'utf8'));
    expect(next.trainer.plugins.regret).toMatchObject({ rounds: 12 });
  });
});

describe('RoundStore checkpoints', () => {
  const round = (n: number): RoundArrays => ({
    a: { dtype: 'float32', shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => n + i / 8) },
    m: { dtype: 'uint8', shape: [2, 1], data: Uint8Array.of(n & 255, 7) },
  });
  const contents = (s: RoundStore) => [...s.read()].map((c) => ({ metas: c.metas, arrays: c.arrays }));

  it('memory and spilled chunks come back; chunks replaced or spilled after the checkpoint do not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regret-store-'));
    const spill = path.join(dir, 'rounds');
    const ckpt = path.join(dir, 'ckpt');
    // One round per chunk (reservoir layout), 2 rounds' worth of memory: older rounds spill.
    const budget = new MemoryBudget(2 * 30);
    const store = new RoundStore(spill, budget, 0, true);
    for (let n = 1; n <= 4; n++) store.add(round(n), { round: n, samples: 2, loss: n / 3 });
    expect(store.diskBytes).toBeGreaterThan(0);
    const saved = store.saveState(ckpt);
    const expected = contents(store);
    const onDisk = filesUnder(spill);
    // After the checkpoint: a reservoir replaces a spilled round (deleting its files) and more spill.
    store.replace(0, round(10), { round: 10, samples: 2, loss: 1 });
    for (let n = 5; n <= 7; n++) store.add(round(n), { round: n, samples: 2, loss: n });
    expect(filesUnder(spill)).not.toEqual(onDisk);

    const restored = new RoundStore(spill, new MemoryBudget(2 * 30), 0, true);
    restored.loadState(ckpt, JSON.parse(JSON.stringify(saved)));
    expect(contents(restored)).toEqual(expected);
    expect(filesUnder(spill)).toEqual(onDisk);
    expect(restored.memoryBytes).toBe(saved.chunks.filter((c) => c.memory).reduce((t, c) => t + c.bytes, 0));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
