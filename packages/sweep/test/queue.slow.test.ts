// A sweep on a real BullMQ queue: redis-server on 127.0.0.1 (a free port, no persistence), three
// worker processes, 9 tiny runs. One worker is killed with SIGKILL mid-run: its run is taken over
// by another worker once the lock lapses and resumed from its last checkpoint (2 attempts); all 9
// complete, bit-identical to the same configs run one by one. A diverging run fails its job once;
// a worker that cannot see a job's sweep folder refuses it (exit 2) and leaves the job for others.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempProject, tinyConfig, type Project } from '../../core/test/fixtures/project.js';
import { buildAll, cli, expectSameRun, REPO_ROOT, runDirOf, runOneByOne, runStatus, startCli, until } from './helpers.js';

/** redis-server, installed by .ci/install-redis.sh when missing (as the Chromium tier does); null where that cannot be done. */
function findRedis(): string | null {
  const which = () => spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim() || null;
  if (which()) return which();
  try {
    execFileSync('sh', [path.join(REPO_ROOT, '.ci', 'install-redis.sh')], { stdio: 'pipe' });
  } catch (e) {
    console.warn(`queue tests skipped: redis-server is not installed and .ci/install-redis.sh failed: ${String((e as { stderr?: Buffer }).stderr ?? e).slice(0, 300)}`);
    return null;
  }
  return which();
}
const REDIS = findRedis();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

let project: Project;
let redis: ChildProcess | null = null;
let url = '';
const workers: ReturnType<typeof startCli>[] = [];

beforeAll(async () => {
  if (!REDIS) return;
  buildAll();
  project = tempProject('taylorlens-sweep-queue-');
  const port = await freePort();
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens: retried below
    try {
      await probe.connect();
      expect(await probe.ping()).toBe('PONG');
      await probe.quit();
      break;
    } catch (e) {
      probe.disconnect();
      if (i > 100) throw new Error(`redis-server on ${url} did not answer: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
afterAll(() => {
  for (const w of workers) w.child.kill('SIGKILL');
  redis?.kill('SIGTERM');
  project?.cleanup();
});

const QUEUE = 'sweep-test';
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe.skipIf(!REDIS)('taylorlens sweep --queue and taylorlens worker (BullMQ on redis-server)', () => {
  it('9 runs, 3 workers, one killed mid-run: all complete bit-identical, the killed run resumed on a second attempt', async () => {
    fs.writeFileSync(path.join(project.dir, 'nine.json'), JSON.stringify({
      name: 'nine',
      base: tinyConfig({ backend: 'cpu', epochs: 8 }),
      axes: [{ name: 'lr', path: '/optimizer/options/learningRate', values: [0.001, 0.003, 0.01] }],
      seeds: [1, 2, 3],
    }));
    const sweepDir = path.join(project.dir, 'sweeps', 'nine');
    const queued = await cli(project.dir, ['sweep', 'nine.json', '--queue', url, '--queue-name', QUEUE]);
    expect(queued.code, queued.out).toBe(0);
    expect(queued.out).toContain('9 run(s) enqueued');
    const ids = JSON.parse(fs.readFileSync(path.join(sweepDir, 'sweep.json'), 'utf8')).runs.map((r: { id: string }) => r.id) as string[];
    expect(ids).toHaveLength(9);

    for (let i = 0; i < 3; i++) workers.push(startCli(project.dir, ['worker', '--queue', url, '--queue-name', QUEUE, '--concurrency', '1', '--stall-ms', '3000']));
    const pids = workers.map((w) => w.child.pid!);

    // Mid-run: a run past its first checkpoint, still training, held by one of our workers.
    let killed = '';
    let killedPid = 0;
    await until('a run past its first checkpoint', () => {
      for (const id of ids) {
        if (runStatus(sweepDir, id) !== 'running') continue;
        const run = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, id), 'run.json'), 'utf8'));
        const attempts = JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8'));
        const pid = Number(attempts.at(-1).worker.split(':').at(-1));
        if ((run.checkpoint?.epoch ?? 0) >= 1 && pids.includes(pid)) {
          [killed, killedPid] = [id, pid];
          return true;
        }
      }
      return false;
    });
    process.kill(killedPid, 'SIGKILL');
    const checkpointAtKill = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, killed), 'run.json'), 'utf8')).checkpoint.epoch as number;

    await until('all 9 runs to complete', () => ids.every((id) => runStatus(sweepDir, id) === 'completed'), 400_000, 200);
    const attempts = JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', killed, 'attempts.json'), 'utf8'));
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ attempt: 1, action: 'start', worker: expect.stringMatching(new RegExp(`:${killedPid}$`)) });
    expect(attempts[0].endedAt).toBeUndefined(); // its worker died with it
    expect(attempts[1]).toMatchObject({ attempt: 2, action: 'resume', exitCode: 0, status: 'completed' });
    expect(attempts[1].worker).not.toBe(attempts[0].worker);
    const run = JSON.parse(fs.readFileSync(path.join(runDirOf(sweepDir, killed), 'run.json'), 'utf8'));
    expect(run.sessions).toHaveLength(2);
    expect(run.sessions[1].fromEpoch).toBeGreaterThanOrEqual(checkpointAtKill);
    for (const id of ids.filter((x) => x !== killed)) {
      expect(JSON.parse(fs.readFileSync(path.join(sweepDir, 'runs', id, 'attempts.json'), 'utf8')), id).toHaveLength(1);
    }

    // The queue's own record agrees: every job completed, the killed one started twice.
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE, { connection });
    try {
      // The worker marks a job completed just after its run's run.json says so.
      for (const end = Date.now() + 30_000; (await queue.getJobCounts('completed')).completed < 9 && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
      const jobs = await queue.getJobs(['completed']);
      expect(jobs.map((j) => j.name).sort()).toEqual([...ids].sort());
      for (const j of jobs) expect(j.attemptsStarted, j.name).toBe(j.name === killed ? 2 : 1);

      const status = await cli(project.dir, ['sweep-status', sweepDir, '--json']);
      expect(status.code, status.out).toBe(0);
      const row = JSON.parse(status.out).rows.find((r: { id: string }) => r.id === killed);
      expect(row).toMatchObject({ state: 'completed', attempts: 2, progress: '8/8', worker: attempts[1].worker });

      const alone = await runOneByOne(project.dir, sweepDir, ids);
      for (const id of ids) expectSameRun(runDirOf(sweepDir, id), alone.get(id)!, id);

      // Stop the live workers (SIGTERM: exit 130), then hand a job naming a folder this machine cannot see to a fresh worker.
      for (const w of workers.filter((x) => alive(x.child.pid!))) {
        w.child.kill('SIGTERM');
        expect((await w.done).code).toBe(130);
      }
      // A run that fails on its own account (here: diverges) fails its job once, not retried.
      fs.writeFileSync(path.join(project.dir, 'div.json'), JSON.stringify({
        name: 'div', base: tinyConfig({ backend: 'cpu', epochs: 1, optimizer: { name: 'sgd', options: { learningRate: 1e30 } } }),
      }));
      expect((await cli(project.dir, ['sweep', 'div.json', '--queue', url, '--queue-name', QUEUE])).code).toBe(0);
      const lone = startCli(project.dir, ['worker', '--queue', url, '--queue-name', QUEUE, '--concurrency', '1', '--stall-ms', '3000']);
      workers.push(lone);
      for (const end = Date.now() + 120_000; (await queue.getJobCounts('failed')).failed < 1 && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
      const [failed] = await queue.getJobs(['failed']);
      expect(failed.name).toBe('000-s7');
      expect(failed.attemptsStarted).toBe(1);
      expect(failed.failedReason).toContain('start → diverged (exit 1)');
      lone.child.kill('SIGTERM');
      expect((await lone.done).code).toBe(130);

      await queue.add('elsewhere', { sweepDir: path.join(project.dir, 'not-mounted-here'), id: '000-x-s1', token: 'abc' }, { jobId: 'elsewhere', attempts: 1 });
      const stray = await cli(project.dir, ['worker', '--queue', url, '--queue-name', QUEUE, '--concurrency', '1']);
      expect(stray.code, stray.out).toBe(2);
      expect(stray.out).toContain(`the sweep folder ${path.join(project.dir, 'not-mounted-here')} is not the shared one on this machine`);
      const job = await queue.getJob('elsewhere');
      expect(await job!.getState()).toBe('delayed'); // left for a worker that sees the folder
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
