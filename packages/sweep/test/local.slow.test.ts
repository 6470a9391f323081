// A local sweep of 6 tiny runs with --parallel 2, stopped (SIGINT) once the first run has finished
// and started again: finished runs are skipped, the interrupted one resumes from its checkpoint,
// and every run's final weights and metrics equal the same config run alone with the CLI, bit for bit
// (the sweep runs them in 2 lanes: processes that each run several runs one after another).
// Also: a crash (everything SIGKILLed) resumes the same way; diverged runs are not retried.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempProject, tinyConfig, type Project } from '../../core/test/fixtures/project.js';
import { buildAll, cli, expectSameRun, runDirOf, runOneByOne, runStatus, startCli, until } from './helpers.js';

let project: Project;
beforeAll(() => {
  buildAll();
  project = tempProject('taylorlens-sweep-local-');
});
afterAll(() => project?.cleanup());

describe('taylorlens sweep --parallel 2', () => {
  it('stopped after the first run finishes and started again: every run bit-identical to runs one by one', async () => {
    // Lanes start 000 (16 epochs, ~150 ms each here) and 001 (2 epochs): 001 finishes while 000 is past its first checkpoints
    // with some 13 epochs to go (with 6, CI once saw 000 complete before the SIGINT reached it).
    fs.writeFileSync(path.join(project.dir, 'six.json'), JSON.stringify({
      name: 'six',
      base: tinyConfig({ backend: 'cpu' }),
      axes: [
        { name: 'lr', path: '/optimizer/options/learningRate', values: [0.001, 0.003, 0.01] },
        { name: 'epochs', path: '/epochs', values: [16, 2] },
      ],
      seeds: [3],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'six');
    const ids = ['000-0.001-16-s3', '001-0.001-2-s3', '002-0.003-16-s3', '003-0.003-2-s3', '004-0.01-16-s3', '005-0.01-2-s3'];

    // Run 000's checkpoint epoch (0 until its first epoch ends, or while its folder is being made).
    const checkpointEpoch = (id: string): number => {
      for (const e of fs.existsSync(path.join(sweepDir, 'runs', id)) ? fs.readdirSync(path.join(sweepDir, 'runs', id), { withFileTypes: true }) : []) {
        const f = path.join(sweepDir, 'runs', id, e.name, 'run.json');
        try { if (e.isDirectory() && fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8')).checkpoint?.epoch ?? 0; } catch { /* being replaced */ }
      }
      return 0;
    };
    const first = startCli(project.dir, ['sweep', 'six.json', '--parallel', '2']);
    // Both: a run done, and 000 past its first checkpoint (its lane may start late on a busy machine:
    // a fresh-clone test:slow once saw 001 finish before 000 had ended an epoch).
    await until('a first run to complete and run 000 to checkpoint', () => fs.existsSync(path.join(sweepDir, 'sweep.json'))
      && ids.some((id) => runStatus(sweepDir, id) === 'completed') && checkpointEpoch(ids[0]) >= 1);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code, stopped.out).toBe(130);
    const after = ids.map((id) => runStatus(sweepDir, id));
    expect(after.filter((s) => s === 'completed').length).toBeGreaterThanOrEqual(1);
    expect(after.filter((s) => s === 'completed').length).toBeLessThan(6);
    expect(runStatus(sweepDir, ids[0])).toBe('interrupted');
    const ckpt = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, ids[0]), 'run.json'), 'utf8')).checkpoint;
    expect(ckpt.epoch).toBeGreaterThanOrEqual(1);

    const again = await cli(project.dir, ['sweep', 'six.json', '--parallel', '2']);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('6 of 6 runs completed');
    for (const [i, id] of ids.entries()) {
      const attempts = JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8'));
      if (after[i] === 'completed') expect(again.out, id).toContain(`${id}: already completed`);
      if (i === 0) expect(attempts.map((a: { action: string }) => a.action)).toEqual(['start', 'resume']);
      expect(runStatus(sweepDir, id)).toBe('completed');
    }
    // The runs of a lane share its process (one CLI start per lane, not per run): what `again` ran, on 2 lanes.
    const ranAgain = ids.filter((_, i) => after[i] !== 'completed');
    const pids = ranAgain.map((id) => JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8')).at(-1).pid);
    expect(pids.every((p) => Number.isInteger(p) && p !== first.child.pid), String(pids)).toBe(true);
    expect(ranAgain.length).toBeGreaterThan(2);
    expect(new Set(pids).size, String(pids)).toBeLessThanOrEqual(2);
    const sessions = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, ids[0]), 'run.json'), 'utf8')).sessions;
    expect(sessions.map((s: { fromEpoch: number }) => s.fromEpoch)).toEqual([0, ckpt.epoch]);

    const status = await cli(project.dir, ['sweep-status', sweepDir]);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain('6 runs: 6 completed');
    expect(status.out).toMatch(/000-0\.001-16-s3\s+0\.001\s+16\s+3\s+completed\s+16\/16\s+\S+\s+2/);

    const alone = await runOneByOne(project.dir, sweepDir, ids);
    for (const id of ids) expectSameRun(runDirOf(sweepDir, id), alone.get(id)!, id);

    const cmp = await cli(project.dir, ['sweep-compare', sweepDir, '--out', 'cmp']);
    expect(cmp.code, cmp.out).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(project.dir, 'cmp', 'sweep-summary.json'), 'utf8'));
    expect(summary.axes).toEqual(['lr', 'epochs']);
    expect(summary.groups).toHaveLength(6);
    const g = summary.groups.find((x: { axes: Record<string, string> }) => x.axes.lr === '0.01' && x.axes.epochs === '16');
    const rows = fs.readFileSync(path.join(alone.get('004-0.01-16-s3')!, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(g.metrics['train loss']).toEqual({ mean: rows.filter((r) => r.kind === 'epoch').at(-1).loss, std: null, n: 1 });
    expect(fs.existsSync(path.join(project.dir, 'cmp', 'report.html'))).toBe(true);
  });

  it('a crash (the sweep and its runs SIGKILLed, run.json left "running", run.lock stale): started again, the runs resume bit-identical', async () => {
    fs.writeFileSync(path.join(project.dir, 'crash.json'), JSON.stringify({
      name: 'crash', base: tinyConfig({ backend: 'cpu', epochs: 16 }),
      axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.002, 0.02] }],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'crash');
    const ids = ['000-0.002-s7', '001-0.02-s7'];
    const past = (id: string) => {
      if (runStatus(sweepDir, id) !== 'running') return false;
      return (JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, id), 'run.json'), 'utf8')).checkpoint?.epoch ?? 0) >= 1;
    };
    const first = startCli(project.dir, ['sweep', 'crash.json', '--parallel', '2']);
    await until('both runs past a checkpoint', () => fs.existsSync(path.join(sweepDir, 'sweep.json')) && ids.every(past));
    const lockPids = ids.map((id) => JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, id), 'run.lock'), 'utf8')).pid as number);
    first.child.kill('SIGKILL');
    for (const pid of lockPids) process.kill(pid, 'SIGKILL');
    await first.done;
    await until('the runs to be gone', () => lockPids.every((pid) => { try { process.kill(pid, 0); return false; } catch { return true; } }));
    for (const id of ids) {
      expect(runStatus(sweepDir, id)).toBe('running'); // as the crash left it
      expect(fs.existsSync(path.join(runDirOf(sweepDir, id), 'run.lock'))).toBe(true);
    }
    const status = await cli(project.dir, ['sweep-status', sweepDir, '--json']);
    expect(JSON.parse(status.out).rows.map((r: { state: string }) => r.state)).toEqual(['interrupted', 'interrupted']);

    const again = await cli(project.dir, ['sweep', 'crash.json', '--parallel', '2']);
    expect(again.code, again.out).toBe(0);
    for (const id of ids) expect(again.out).toContain(`${id}: resume → completed`);
    const alone = await runOneByOne(project.dir, sweepDir, ids);
    for (const id of ids) expectSameRun(runDirOf(sweepDir, id), alone.get(id)!, id);
  });

  it('a lane killed mid-run costs that run only: the next runs get a fresh lane; started again, the killed run resumes bit-identical', async () => {
    fs.writeFileSync(path.join(project.dir, 'lanekill.json'), JSON.stringify({
      name: 'lanekill', base: tinyConfig({ backend: 'cpu', epochs: 16 }),
      axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.0015, 0.004, 0.008] }],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'lanekill');
    const ids = ['000-0.0015-s7', '001-0.004-s7', '002-0.008-s7'];
    const pidOf = (id: string) => JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8')).at(-1).pid as number;
    const first = startCli(project.dir, ['sweep', 'lanekill.json', '--parallel', '1']);
    await until('the first run past a checkpoint', () => fs.existsSync(path.join(sweepDir, 'sweep.json')) && runStatus(sweepDir, ids[0]) === 'running'
      && (JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, ids[0]), 'run.json'), 'utf8')).checkpoint?.epoch ?? 0) >= 1);
    const lanePid = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, ids[0]), 'run.lock'), 'utf8')).pid as number;
    expect(lanePid).not.toBe(first.child.pid);
    process.kill(lanePid, 'SIGKILL');
    const r = await first.done;
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(`${ids[0]}: start → interrupted (exit 128)`);
    for (const id of ids.slice(1)) expect(r.out).toContain(`${id}: start → completed`);
    expect(pidOf(ids[0])).toBe(lanePid);
    expect(pidOf(ids[1])).not.toBe(lanePid);
    expect(pidOf(ids[2])).toBe(pidOf(ids[1]));

    const again = await cli(project.dir, ['sweep', 'lanekill.json', '--parallel', '1']);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`${ids[0]}: resume → completed`);
    const alone = await runOneByOne(project.dir, sweepDir, ids);
    for (const id of ids) expectSameRun(runDirOf(sweepDir, id), alone.get(id)!, id);
  });

  it('one lane switching backends run after run (cpu, wasm, cpu): each run bit-identical to the same config alone', async () => {
    fs.writeFileSync(path.join(project.dir, 'backends.json'), JSON.stringify({
      name: 'backends', base: tinyConfig({ epochs: 2 }),
      axes: [{ name: 'backend', path: '/backend', values: ['cpu', 'wasm', 'cpu'], labels: ['cpu', 'wasm', 'cpu-again'] }],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'backends');
    const ids = ['000-cpu-s7', '001-wasm-s7', '002-cpu-again-s7'];
    const r = await cli(project.dir, ['sweep', 'backends.json', '--parallel', '1']);
    expect(r.code, r.out).toBe(0);
    const pids = ids.map((id) => JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8')).at(-1).pid);
    expect(new Set(pids).size, String(pids)).toBe(1);
    const alone = await runOneByOne(project.dir, sweepDir, ids);
    for (const id of ids) expectSameRun(runDirOf(sweepDir, id), alone.get(id)!, id);
  });

  it('a run that diverges is not retried; a run the CLI refuses says why', async () => {
    fs.writeFileSync(path.join(project.dir, 'bad.json'), JSON.stringify({
      name: 'bad', base: tinyConfig({ backend: 'cpu', epochs: 1, optimizer: { name: 'sgd', options: { learningRate: 0.01 } } }),
      axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.01, 1e30] }],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'bad');
    const first = await cli(project.dir, ['sweep', 'bad.json', '--parallel', '2']);
    expect(first.code, first.out).toBe(1);
    expect(first.out).toContain('000-0.01-s7: start → completed');
    expect(first.out).toContain('001-1e30-s7: start → diverged (exit 1)');
    const again = await cli(project.dir, ['sweep', 'bad.json', '--parallel', '2']);
    expect(again.code, again.out).toBe(1);
    expect(again.out).toContain('001-1e30-s7: already diverged');
    expect(JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', '001-1e30-s7', 'attempts.json'), 'utf8'))).toHaveLength(1);

    // The regret plugin's budget is checked against the built model when the run starts: refused, nothing trained.
    fs.writeFileSync(path.join(project.dir, 'refused.json'), JSON.stringify({
      name: 'refused', base: tinyConfig({ backend: 'cpu', epochs: 1, plugins: [{ name: 'regret', options: { network: { enabled: false }, layers: { enabled: true, layers: ['dense_0'] }, budget: { maxOverhead: 1.01 } } }] }),
    }));
    const refused = await cli(project.dir, ['sweep', 'refused.json', '--parallel', '1']);
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toContain('000-s7: start → refused before any work (exit 2):');
    expect(refused.out).toContain('/plugins/0/options/budget');
    expect(fs.readdirSync(path.join(project.dir, 'sweeps', 'refused', 'runs', '000-s7')).sort()).toEqual(['attempts.json', 'config.json', 'log.txt']);
  });
});
