import { describe, expect, it } from 'vitest';
import { JobWorker } from '../src/threads/job-worker.js';
import { HostSummer } from '../src/quadratic/host-summer.js';
import { sparseKernelMemory, sparseLayout } from '../src/quadratic/sparse-kernel.js';

// Doubles x; answers an error for x < 0; crashes the thread (an uncaught throw) for x = 13.
const SOURCE = `
const { parentPort } = require('node:worker_threads');
let factor = 0;
parentPort.on('message', (m) => {
  if (m.factor !== undefined) { factor = m.factor; return; }
  if (m.x === 13) throw new Error('crash');
  if (m.x < 0) parentPort.postMessage({ id: m.id, error: 'negative' });
  else parentPort.postMessage({ id: m.id, result: m.x * factor });
});`;

describe('a job worker thread', () => {
  it('answers jobs in order, rejects the one that reports an error, and after a crash rejects what was pending and starts afresh', async () => {
    const w = new JobWorker<number>('test worker', SOURCE, () => ({ factor: 2 }));
    try {
      const answers = await Promise.allSettled([w.run({ x: 1 }), w.run({ x: -1 }), w.run({ x: 3 })]);
      expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message))).toEqual([2, 'regret: test worker: negative', 6]);
      expect(w.pending).toBe(0);
      const crashed = await Promise.allSettled([w.run({ x: 13 }), w.run({ x: 4 })]);
      expect(crashed.map((a) => a.status)).toEqual(['rejected', 'rejected']);
      expect(((crashed[0] as PromiseRejectedResult).reason as Error).message).toMatch(/test worker failed: crash/);
      expect(await w.run({ x: 5 })).toBe(10); // a fresh thread, set up again
    } finally {
      w.dispose();
    }
  });

  it('a statistics job that fails (bad rows) fails every later add and the settle: the sums are not silently short', async () => {
    const K = 1, q = 4;
    const layout = sparseLayout(K, q);
    const memory = sparseKernelMemory(layout)!;
    const summer = new HostSummer(memory, layout, true);
    try {
      // start[] points far past the rows: the job's check throws on the worker.
      const bad = { S: 1, idx: Int32Array.from([0]), val: Float64Array.from([1]), start: Int32Array.from([0, 2 ** 28]), n: Float32Array.from([1]) };
      await summer.add(bad);
      await expect(summer.settle()).rejects.toThrow(/statistics worker/);
      const good = { S: 1, idx: Int32Array.from([0]), val: Float64Array.from([1]), start: Int32Array.from([0, 1]), n: Float32Array.from([1]) };
      await expect(summer.add(good)!).rejects.toThrow(/statistics worker/);
    } finally {
      summer.dispose();
    }
  });
});
