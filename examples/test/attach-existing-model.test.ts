// The attach-existing-model example at a tiny scale: model.fit with the activation callback, then
// the same model in the Trainer with the regret plugin; nothing written to the working folder.
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { main } from '../attach-existing-model/index.js';

describe('examples/attach-existing-model', () => {
  it('trains with model.fit + activation callback, then in the Trainer with regret, and prints what it found', async () => {
    const tmpBefore = new Set(fs.readdirSync(os.tmpdir()));
    const cwdBefore = fs.readdirSync(process.cwd());
    const lines: string[] = [];
    const t0 = Date.now();
    const r = await main({ limit: 256, epochs: 2, log: (l) => lines.push(l) });
    const seconds = (Date.now() - t0) / 1000;

    expect(r.history.loss).toHaveLength(2);
    expect(r.activation.novelty).toHaveLength(3); // snapshot 0 (before training) and one per epoch
    expect(r.activation.novelty[0].normalized).toBeNull();
    expect(r.activation.novelty[1].normalized).toBeGreaterThan(0);
    expect(r.activation.switches.perPoint).toHaveLength(256); // every image is a probe when there are fewer than 500
    expect(r.summary).toMatchObject({ status: 'completed', epochsCompleted: 2, rounds: 8 });
    expect(Object.keys(r.regret.scopes)).toHaveLength(2); // the 32→16 layer and 8 of its neurons
    for (const s of Object.values(r.regret.scopes)) {
      expect(s.checkpoints).toHaveLength(2);
      expect(Number.isFinite(s.checkpoints[1].summary.mean)).toBe(true);
    }
    expect(Object.values(r.regret.scopes).map((s) => s.problems).sort()).toEqual([1, 8]);

    expect(lines[0]).toMatch(/^model\.fit: loss \d\.\d{3} → \d\.\d{3}$/);
    expect(lines.join('\n')).toMatch(/activation novelty per epoch/);
    expect(lines.join('\n')).toMatch(/^Trainer: loss /m);
    expect(lines.filter((l) => /regret \/ √N/.test(l))).toHaveLength(2);
    // Results stay in memory: no run folder, and the regret plugin's temporary folder is gone.
    expect(fs.readdirSync(process.cwd())).toEqual(cwdBefore);
    expect(fs.readdirSync(os.tmpdir()).filter((f) => !tmpBefore.has(f) && f.startsWith('taylorlens-regret-'))).toEqual([]);
    console.log(`attach-existing-model, 256 images × 2 epochs twice: ${seconds.toFixed(1)} s\n${lines.join('\n')}`);
  });
});
