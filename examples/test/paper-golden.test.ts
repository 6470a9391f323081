// The paper's two experiments at a tiny scale, on the cpu backend (plain JavaScript arithmetic:
// the same bits on every x86 machine), against numbers committed in fixtures/paper-golden.json.
// A refactor must leave them bit-identical: every regret number of every scope and checkpoint,
// ℓ_n, and the activation configurations. A change that is meant to move them (an exactness fix)
// regenerates the fixture with TAYLORLENS_UPDATE_GOLDEN=1 and says so in its commit.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as autoencoder } from '../autoencoder-mnist/run.js';
import { main as convnet } from '../convnet/run.js';
import { readJson } from './helpers/report.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'paper-golden.json');
const update = process.env.TAYLORLENS_UPDATE_GOLDEN === '1';
const outs: string[] = [];
afterAll(() => { for (const o of outs) fs.rmSync(o, { recursive: true, force: true }); });

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Every number a reader of the run folder would quote, exactly as written (JSON keeps float64 bits). */
function fingerprint(runDir: string) {
  const regret = readJson(path.join(runDir, 'regret', 'regret.json'));
  const scopes = Object.fromEntries(Object.entries(regret.scopes as Record<string, { checkpoints: Record<string, any>[] }>).map(([key, s]) => [
    key, s.checkpoints.map((c) => ({
      round: c.round, recordedRounds: c.recordedRounds, cumulativeLoss: c.cumulativeLoss,
      ball: { phi: c.ball.phi, regret: c.ball.regret, radius: c.ball.radius },
      unconstrained: c.unconstrained ? { phi: c.unconstrained.phi, regret: c.unconstrained.regret, rank: c.unconstrained.rank } : null,
    })),
  ]));
  const activation = readJson(path.join(runDir, 'activation', 'activation.json'));
  return {
    losses: sha256(path.join(runDir, 'regret', 'losses.npy')),
    configurations: sha256(path.join(runDir, 'activation', 'configurations.npy')),
    // The exploration measures, as published (the units they are over must not change either).
    measures: { novelty: activation.novelty, switches: activation.switches, singularValues: activation.singularValues },
    scopes,
  };
}

async function run(name: string, main: typeof autoencoder, args: string[]) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `taylorlens-golden-${name}-`));
  outs.push(out);
  const logged: string[] = [];
  const result = (await main([...args, '--optimizers', 'adam', '--out', out, '--backend', 'cpu'], { log: (l) => logged.push(l), warn: (l) => logged.push(l) }))!;
  expect(result.runs.map((r) => r.status), logged.join('\n')).toEqual(['completed']);
  return fingerprint(result.runs[0].dir);
}

describe("the paper's experiments give bit-identical regret and activation results", () => {
  it('autoencoder (MNIST, 128 images, 2 epochs, Adam) and convnet (4 filters, 256 images, 2 epochs, Adam), every regret scope on', async () => {
    const now = {
      autoencoder: await run('ae', autoencoder, ['--epochs', '2', '--limit', '128', '--neurons', '3']),
      convnet: await run('convnet', convnet, ['--filters', '4', '--hidden', '16', '--epochs', '2', '--limit', '256', '--neurons', '3']),
    };
    if (update) {
      fs.mkdirSync(path.dirname(FIXTURE), { recursive: true });
      fs.writeFileSync(FIXTURE, `${JSON.stringify(now, null, 1)}\n`);
    }
    expect(fs.existsSync(FIXTURE), `${FIXTURE} is missing: run this test once with TAYLORLENS_UPDATE_GOLDEN=1`).toBe(true);
    const golden = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
    // Since 3 December 2026 the autoencoder's template records every layer scope the budget holds
    // (the paper's protocol), not only dense_2 as when the fixture was made: those scopes are new;
    // every scope the fixture holds must be there, bit for bit.
    const added = Object.keys(now.autoencoder.scopes).filter((k) => !(k in golden.autoencoder.scopes));
    expect(added.sort()).toEqual(['layer:dense_1', 'layer:dense_3', 'layer:dense_4', 'layer:dense_5']);
    for (const k of added) delete (now.autoencoder.scopes as Record<string, unknown>)[k];
    expect(now).toEqual(golden);
  });
});
