// The three examples of taylorlens inside the user's own training (hand-written loop,
// model.fitDataset, model.fit and the drop-in fit), at a tiny scale.
import { describe, expect, it } from 'vitest';
import { main as loop } from '../hand-written-loop/index.js';
import { main as fitDataset } from '../fit-dataset/index.js';
import { main as modelFit } from '../model-fit/index.js';

type Regret = { scopes: Record<string, { checkpoints: { summary: { mean: number } }[] }> };

/** Two scopes (the 32→16 layer and 8 of its neurons), a finite checkpoint per epoch; a novelty per epoch. */
function expectResults(regret: Regret, activation: { novelty: unknown[] }, epochs: number): void {
  expect(Object.keys(regret.scopes)).toHaveLength(2);
  for (const s of Object.values(regret.scopes)) {
    expect(s.checkpoints).toHaveLength(epochs);
    expect(s.checkpoints.every((c) => Number.isFinite(c.summary.mean))).toBe(true);
  }
  expect(activation.novelty).toHaveLength(epochs + 1);
}

describe('examples: taylorlens inside your own training', () => {
  it('hand-written-loop: momentum with tf.variableGrads, instrumented round by round', async () => {
    const lines: string[] = [];
    const r = await loop({ limit: 256, epochs: 2, log: (l) => lines.push(l) });
    expect(r.summary).toMatchObject({ status: 'completed', rounds: 8, epochsCompleted: 2 });
    expectResults(r.regret, r.activation, 2);
    expect(lines[0]).toMatch(/^hand-written loop: 8 rounds, loss ℓ_n \d\.\d{3} → \d\.\d{3}$/);
  });

  it('fit-dataset: model.fitDataset over the wrapped dataset', async () => {
    const lines: string[] = [];
    const r = await fitDataset({ limit: 256, epochs: 2, log: (l) => lines.push(l) });
    expect(r.history.loss).toHaveLength(2);
    expectResults(r.regret, r.activation, 2);
    expect(lines.join('\n')).toMatch(/regret \/ √N per epoch/);
  });

  it('model-fit: model.fit without shuffling, and the drop-in fit with a seed', async () => {
    const lines: string[] = [];
    const r = await modelFit({ limit: 256, epochs: 2, log: (l) => lines.push(l) });
    expect(r.plain.val_loss).toHaveLength(2);
    expect(r.shuffled.val_loss).toHaveLength(2);
    r.regret.forEach((g, i) => expectResults(g, r.activation[i], 2));
    expect(lines.filter((l) => /regret \/ √N/.test(l))).toHaveLength(4);
  });
});
