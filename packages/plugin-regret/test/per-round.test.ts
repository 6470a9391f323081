// The per-round reading of "Taylor optimum", Σ_n min_{V∈K_n} τ^n(V), against a direct minimisation of
// each round's brute-force Taylor loss over that round's ball (centre W_1, radius the farthest
// distance reached by round n); never negative; the hindsight numbers unchanged by asking for it.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { meanSquaredError, selectBackend, Trainer } from '@taylorlens/core';
import { RegretPlugin, taylorlensPlugin, type ScopeCheckpoint } from '@taylorlens/plugin-regret';
import { tempStore } from './helpers/store.js';
import { bruteMinimum } from './helpers/brute-optimum.js';
import { bruteRounds, trainKeepingRounds } from './helpers/optimum-check.js';
import { dataFor, disposeRounds, NETS, TIED_NETS, type NetCase } from './helpers/nets.js';

const BASE = { network: { enabled: false }, layers: { every: 1 }, neurons: { perLayer: 2, subBatch: null, every: 1 }, budget: { maxOverhead: 1e6 }, trace: false, solver: { gapTolerance: 1e-7, maxIterations: 300 } };

async function train(net: NetCase, options: object) {
  const { model, plugin, optimizer, trainer, kept, x, y } = await trainKeepingRounds(net, options);
  tf.dispose([x, y]);
  return { trainer, plugin, kept, done: () => { plugin.dispose(); disposeRounds(kept); model.dispose(); optimizer.dispose(); } };
}

describe('the per-round reading', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const net of [NETS[0], NETS[1], TIED_NETS[0]]) {
    it(`${net.name}: Σ_n min over K_n of τ^n equals direct per-round minimisations, each term ≥ 0, the hindsight reading unchanged`, async () => {
      const every = 2;
      const { trainer, plugin, kept, done } = await train(net, { ...BASE, readings: ['hindsight', 'perRound'], perRound: { every } });
      const plain = await train(net, BASE);
      const kind = net.loss === meanSquaredError ? 'mse' : 'ce';
      plugin.scopes.forEach((scope, i) => {
        const ckpt = plugin.results.scopes[scope.desc.key].checkpoints.at(-1)! as ScopeCheckpoint;
        const pr = ckpt.perRound!;
        expect(pr.reading).toBe('perRound');
        expect([pr.rounds, pr.recordedRounds]).toEqual([2, 4]);
        // Certified: trust-region residuals, or Frank–Wolfe gaps at float32's floor for stored rounds.
        expect(pr.worstCertificate, JSON.stringify(pr)).toBeLessThan(1e-6);
        // Asking for the per-round reading leaves the hindsight one bit-identical.
        const other = plain.plugin.results.scopes[plain.plugin.scopes[i].desc.key].checkpoints.at(-1)!; // same scope, another model instance's layer names
        expect(ckpt.ball.phi).toEqual(other.ball.phi);
        expect(ckpt.ball.regret).toEqual(other.ball.regret);
        const P = scope.desc.params;
        const centre = scope.centre()!.dataSync();
        const points = kept.map((r) => { const v = scope.readParams(r.before); const d = v.dataSync(); v.dispose(); return d; });
        for (let k = 0; k < Math.min(scope.desc.problems, 2); k++) {
          const c = Float64Array.from(centre.subarray(k * P, (k + 1) * P));
          let phi = 0;
          let loss = 0;
          kept.forEach((r, n) => {
            if (n % every !== 0) return;
            const radius = Math.max(...points.slice(0, n + 1).map((w) => Math.hypot(...Array.from({ length: P }, (_, i) => w[k * P + i] - c[i]))));
            const [one] = bruteRounds(trainer, scope, [r], k);
            phi += bruteMinimum([one], P, kind, c, radius).value;
            loss += r.loss;
          });
          const tol = 1e-5 * Math.max(1, Math.abs(phi));
          expect(Math.abs(pr.cumulativeLoss[k] - loss)).toBeLessThan(tol);
          expect(pr.phi[k]).toBeLessThanOrEqual(phi + tol); // never worse than the reference minimiser
          expect(phi - pr.phi[k]).toBeLessThan(tol); // and no better: it is the minimum
          expect(pr.regret[k]).toBeGreaterThanOrEqual(-tol); // W_n ∈ K_n
          expect(pr.normalized[k]).toBeCloseTo((pr.regret[k] * 2) / 2, 12); // 4 recorded, 2 solved: × 4/2 ÷ √4
        }
      });
      done();
      plain.done();
    });
  }

  it('the report plots both readings and says how the per-round solves did; metrics rows carry the per-round numbers', async () => {
    const store = tempStore(0);
    const net = NETS[0];
    const model = net.make();
    const optimizer = tf.train.sgd(0.5);
    const plugin = new RegretPlugin({ ...BASE, readings: ['hindsight', 'perRound'], perRound: { every: 1 } });
    const trainer = new Trainer(model, { loss: net.loss, optimizer, plugins: [plugin], store });
    const rows: Record<string, unknown>[] = [];
    trainer.events.on('epoch', (e) => { rows.push(e as Record<string, unknown>); });
    const { x, y } = dataFor(net, 12, 21);
    await trainer.fit(x, y, { epochs: 2, batchSize: 3, shuffle: false });
    const [section] = await taylorlensPlugin.reportSections!(store.dir);
    const fig = section.figures.find((f) => JSON.stringify(f.spec).includes('hindsight and per-round readings'));
    expect(fig).toBeDefined();
    const curves = new Set(((fig!.spec as { data: { values: { curve: string }[] } }).data.values).map((r) => r.curve));
    expect([...curves].some((c) => c.endsWith(': per round'))).toBe(true);
    expect([...curves].some((c) => c.endsWith(': hindsight'))).toBe(true);
    expect(section.notes!.some((n) => /per-round reading: 8 of 8 recorded rounds solved/.test(n))).toBe(true);
    const layerKey = Object.keys(rows[1]).find((k) => k.endsWith('.perRound.normalized'));
    expect(typeof rows[1][layerKey!]).toBe('number');
    expect(Object.keys(rows[1]).some((k) => k.endsWith('.perRound.mean'))).toBe(true);
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    store.cleanup();
  });

  it('the option is validated: readings must keep hindsight', () => {
    expect(() => new RegretPlugin({ readings: ['perRound'] })).toThrow(/readings/);
    expect(() => new RegretPlugin({ perRound: { every: 0 } })).toThrow(/perRound/);
  });
});
