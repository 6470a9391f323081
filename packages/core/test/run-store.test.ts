// Run folders: run.json, metrics.jsonl, checkpoints, plugin folders; an interrupted run resumed
// in-process ends bit for bit like the same run left alone; a diverging run keeps its rows.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, memoryIo } from '@taylorlens/cli';
import { validateConfig } from '../src/run/config.js';
import type { RunConfig } from '../src/run/config-types.js';
import { resumeRun, startRun, type RunReporter } from '../src/run/runner.js';
import { tracePlan } from '../src/run/store.js';
import type { Trainer } from '../src/trainer.js';
import {
  finalWeights, onlyRun, readJson, readRows, tempProject, tinyConfig, writeConfig, type Project,
} from './fixtures/project.js';

let project: Project;
beforeAll(() => { project = tempProject('taylorlens-run-'); });
afterAll(() => project.cleanup());

const quiet = (): RunReporter & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, info: (l) => lines.push(l), warn: (l) => lines.push(l) };
};

async function run(cfg: RunConfig, onTrainer?: (t: Trainer) => void) {
  const resolved = await validateConfig(cfg, { source: 'test', baseDir: project.dir, cwd: project.dir });
  return startRun(resolved, { cwd: project.dir, reporter: quiet(), backend: 'wasm', onTrainer });
}

const withEcho = (name: string, extra: Record<string, unknown> = {}) =>
  tinyConfig({ name, plugins: [{ name: 'echo', options: { every: 1 } }], output: { dir: `runs-${name}` }, ...extra }) as RunConfig;

describe('run folder', () => {
  it('holds run.json, tagged metrics rows, a checkpoint, final weights, plugin results and the report', async () => {
    const io = memoryIo(project.dir);
    const code = await main(['--backend', 'wasm', 'run', writeConfig(project.dir, withEcho('store'))], io);
    expect(code, io.err()).toBe(0);
    const dir = onlyRun(path.join(project.dir, 'runs-store'));
    expect(io.out()).toContain(`run folder: ${dir}`);
    expect(io.out()).toContain(`report: ${path.join(dir, 'report.html')}`);
    expect(io.out()).toMatch(/epoch 1\/2: loss [\d.]+, echo_rounds 8/);

    const run = readJson(path.join(dir, 'run.json'));
    expect(run).toMatchObject({
      format: 'taylorlens-run/1', name: 'store', status: 'completed', seed: 7, backend: { name: 'wasm' },
      plugins: [{ name: 'echo', package: '@taylorlens/plugin-echo', version: '0.0.1' }],
      optimizer: { name: 'adam', provider: expect.stringMatching(/^(tfjs|@taylorlens\/plugin-optimizers)$/) }, checkpoint: { epoch: 2, round: 16 },
      summary: { epochsCompleted: 2, rounds: 16, trainerStatus: 'completed' },
    });
    expect(run.config).toEqual(withEcho('store'));
    expect(run.versions['@tensorflow/tfjs-core']).toBe('4.22.0');
    expect(run.versions.node).toBe(process.version);
    expect(run.timings.trainMs).toBeGreaterThan(0);
    expect(run.sessions).toHaveLength(1);

    const rows = readRows(dir);
    expect(rows.filter((r) => r.kind === 'round').map((r) => r.round)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(rows.filter((r) => r.kind === 'epoch').map((r) => r.epoch)).toEqual([1, 2]);
    expect(rows.every((r) => Object.keys(r)[0] === 'kind')).toBe(true);
    expect(rows.find((r) => r.kind === 'round' && r.round === 16)?.echo_rounds).toBe(16);

    expect(readJson(path.join(dir, 'echo', 'counts.json'))).toEqual({ epoch: 2, rounds: 16 });
    const latest = readJson(path.join(dir, 'checkpoint', 'latest.json'));
    expect(latest).toEqual({ epoch: 2, round: 16, dir: 'checkpoint/epoch-000002' });
    const state = readJson(path.join(dir, latest.dir, 'state.json'));
    expect(state.trainer.plugins).toEqual({ echo: { rounds: 16 } });
    if (run.optimizer.provider === 'tfjs') {
      expect(state.optimizer.className).toBe('Adam');
      // tfjs's Adam keeps its running β powers outside getWeights(): the checkpoint saves them too.
      expect(state.optimizer.extra.map((e: { key: string }) => e.key).sort()).toEqual(['accBeta1', 'accBeta2']);
    } else {
      expect(state.optimizer.className).toBe('taylorlens.Adam');
    }
    expect(fs.readdirSync(path.join(dir, 'checkpoint'))).toEqual(['epoch-000002', 'latest.json']);
    expect([...finalWeights(dir).keys()]).toEqual(['00.npy', '01.npy', '02.npy', '03.npy']);
    expect(readJson(path.join(dir, 'weights', 'index.json')).weights[0]).toEqual({ file: '00.npy', layer: 'dense_0', name: 'kernel', shape: [784, 16] });

    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('Training loss per round');
    expect(html).toContain('Echo plugin');
    expect(html).toContain('echo counted 16 rounds');
    // No temp files left behind by atomic writes.
    const all = fs.readdirSync(dir, { recursive: true }) as string[];
    expect(all.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('an interrupted run, resumed, ends with the same weights, rows and plugin state as one left alone', async () => {
    const cfg = withEcho('resume', { epochs: 3, batchSize: 16 }); // 16 rounds per epoch, 48 in all
    cfg.output.trace = { every: 7 };
    const alone = await run(cfg);
    expect(alone.status).toBe('completed');

    const cut = await run(cfg, (t) => {
      t.events.on('round', (row) => { if (row.round === 23) t.stop('test interrupt', 'interrupted'); });
    });
    expect(cut.status).toBe('interrupted');
    expect(cut.exitCode).toBe(130);
    expect(readJson(path.join(cut.dir, 'run.json'))).toMatchObject({ status: 'interrupted', reason: 'test interrupt', checkpoint: { epoch: 1, round: 16 } });
    const before = readRows(cut.dir);
    expect(before.filter((r) => r.kind === 'round').map((r) => r.round)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    // Round 22 was traced after the checkpoint: resume must drop it and trace it again.
    expect(Object.keys(readJson(path.join(cut.dir, 'trace', 'index.json')).rounds)).toEqual(['1', '8', '15', '22']);

    // A crash can also leave a torn last line; resume must cope.
    fs.appendFileSync(path.join(cut.dir, 'metrics.jsonl'), '{"kind":"round","rou');
    const reporter = quiet();
    const resumed = await resumeRun(cut.dir, { cwd: project.dir, reporter });
    expect(resumed.status).toBe('completed');
    expect(reporter.lines.join('\n')).toContain('from epoch 1 (round 16); dropped 7 metrics row(s)');

    expect(finalWeights(resumed.dir)).toEqual(finalWeights(alone.dir));
    expect(readRows(resumed.dir)).toEqual(readRows(alone.dir));
    expect(readJson(path.join(resumed.dir, 'echo', 'counts.json'))).toEqual({ epoch: 3, rounds: 48 });
    // The trace, cut back to the checkpoint and redone, matches too (rounds 1, 8, …, 43).
    const traceOf = (d: string) => readJson(path.join(d, 'trace', 'index.json')).rounds;
    expect(Object.keys(traceOf(resumed.dir))).toEqual(['1', '8', '15', '22', '29', '36', '43']);
    expect(traceOf(resumed.dir)).toEqual(traceOf(alone.dir));
    expect(fs.readFileSync(path.join(resumed.dir, 'trace', 'round-000022', 'w00.npy')))
      .toEqual(fs.readFileSync(path.join(alone.dir, 'trace', 'round-000022', 'w00.npy')));
    const runJson = readJson(path.join(resumed.dir, 'run.json'));
    expect(runJson.status).toBe('completed');
    expect(runJson.sessions.map((s: { status: string; fromRound: number }) => [s.status, s.fromRound])).toEqual([['interrupted', 0], ['completed', 16]]);

    // A finished run cannot be resumed.
    const io = memoryIo(project.dir);
    expect(await main(['run', '--resume', resumed.dir], io)).toBe(2);
    expect(io.err()).toContain('already completed');
  });

  it('resuming a run stopped before its first epoch ended starts over from the initial checkpoint', async () => {
    const cfg = withEcho('early');
    const alone = await run(cfg);
    // Everything a run allocates (data, model, optimizer state, captures) is released at its end.
    const tensors = tf.memory().numTensors;
    await run(cfg);
    expect(tf.memory().numTensors).toBe(tensors);
    const cut = await run(cfg, (t) => { t.events.on('round', (row) => { if (row.round === 3) t.stop('early', 'interrupted'); }); });
    expect(readJson(path.join(cut.dir, 'checkpoint', 'latest.json')).epoch).toBe(0);
    const resumed = await resumeRun(cut.dir, { cwd: project.dir, reporter: quiet() });
    expect(resumed.status).toBe('completed');
    expect(finalWeights(resumed.dir)).toEqual(finalWeights(alone.dir));
    expect(readRows(resumed.dir)).toEqual(readRows(alone.dir));
  });

  it('a loss that goes to NaN/∞ ends the run as diverged, keeping every row before it', async () => {
    const cfg = tinyConfig({ name: 'diverge', optimizer: { name: 'sgd', options: { learningRate: 1e6 } }, output: { dir: 'runs-diverge' } });
    const io = memoryIo(project.dir);
    const code = await main(['--backend', 'wasm', 'run', writeConfig(project.dir, cfg, 'diverge.json')], io);
    expect(code).toBe(1);
    const dir = onlyRun(path.join(project.dir, 'runs-diverge'));
    const run = readJson(path.join(dir, 'run.json'));
    expect(run.status).toBe('diverged');
    expect(run.reason).toMatch(/loss became (NaN|Infinity|-Infinity) at round (\d+)/);
    const bad = Number(/at round (\d+)/.exec(run.reason)![1]);
    expect(bad).toBeGreaterThan(1);
    const rounds = readRows(dir).filter((r) => r.kind === 'round');
    expect(rounds.map((r) => r.round)).toEqual(Array.from({ length: bad - 1 }, (_, i) => i + 1));
    expect(rounds.every((r) => typeof r.loss === 'number' && Number.isFinite(r.loss))).toBe(true);
    expect(io.out()).toContain('status: diverged');
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
    const resume = memoryIo(project.dir);
    expect(await main(['run', '--resume', dir], resume)).toBe(2);
    expect(resume.err()).toContain('diverged');
  });
});

describe('tracePlan', () => {
  const picked = (spec: Parameters<typeof tracePlan>[0], upTo = 40) => Array.from({ length: upTo }, (_, i) => i + 1).filter(tracePlan(spec));
  it('selects every n-th round from round 1, listed rounds, and caps the count', () => {
    expect(picked({})).toHaveLength(40);
    expect(picked({ every: 10 })).toEqual([1, 11, 21, 31]);
    expect(picked({ rounds: [5, 2, 30] })).toEqual([2, 5, 30]);
    expect(picked({ every: 10, rounds: [5, 11], maxRounds: 4 })).toEqual([1, 5, 11, 21]);
    expect(picked({ maxRounds: 3 })).toEqual([1, 2, 3]);
  });
});
