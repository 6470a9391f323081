// Progress output without a terminal: one line per epoch plus at most one per ~10 s, and
// plugins' `<name>:progress` events for long analyses; with a terminal, a bar that never throws.
import { describe, expect, it } from 'vitest';
import { createEventBus } from '@taylorlens/core';
import { memoryIo } from '../src/io.js';
import { cliReporter, PLAIN_INTERVAL_MS } from '../src/progress.js';
import type { Trainer } from '@taylorlens/core';

function fakeTrainer() {
  return { events: createEventBus() } as unknown as Trainer;
}

describe('cliReporter', () => {
  it('prints plain lines when stdout is not a terminal: every epoch, and every ~10 s in between', () => {
    let clock = 0;
    const io = { ...memoryIo('/'), now: () => clock };
    const t = fakeTrainer();
    const stop = cliReporter(io).track!(t, { epochs: 2, batchesPerEpoch: 1000, fromEpoch: 0 });
    for (let b = 1; b <= 1000; b++) {
      clock += 100; // 100 ms per round: 100 s per epoch
      t.events.emit('progress', { epoch: 1, epochs: 2, batch: b, batches: 1000, round: b, loss: 0.5 });
    }
    t.events.emit('epoch', { epoch: 1, round: 1000, loss: 0.25, val_loss: 0.3 });
    t.events.emit('regret:progress', { done: 5, total: 10, label: 'regret analysis' });
    t.events.emit('regret:progress', { done: 10, total: 10, label: 'regret analysis' });
    stop();
    t.events.emit('epoch', { epoch: 2, round: 2000, loss: 0.2 });
    const lines = io.out().trim().split('\n');
    const progress = lines.filter((l) => l.startsWith('epoch 1/2 round'));
    expect(progress.length).toBeGreaterThanOrEqual(9);
    expect(progress.length).toBeLessThanOrEqual(10);
    expect(progress[0]).toBe('epoch 1/2 round 100/1000: loss 0.5000');
    expect(lines).toContain('epoch 1/2: loss 0.2500, val_loss 0.3000 (100.0 s)');
    expect(lines.at(-1)).toBe('regret analysis: 10/10');
    expect(lines.some((l) => l.startsWith('epoch 2/2'))).toBe(false); // stopped listening
    expect(PLAIN_INTERVAL_MS).toBe(10_000);
  });

  it('draws a bar on a terminal and ends it cleanly', () => {
    let written = '';
    const stream = {
      isTTY: true, columns: 100,
      write: (s: string) => { written += s; return true; },
      cursorTo: () => true, clearLine: () => true, moveCursor: () => true, on: () => stream, removeListener: () => stream,
    };
    const io = { stdout: stream, stderr: { write: () => true }, cwd: '/' };
    const t = fakeTrainer();
    const stop = cliReporter(io).track!(t, { epochs: 1, batchesPerEpoch: 4, fromEpoch: 0 });
    for (let b = 1; b <= 4; b++) t.events.emit('progress', { epoch: 1, epochs: 1, batch: b, batches: 4, round: b, loss: 0.1 });
    t.events.emit('epoch', { epoch: 1, round: 4, loss: 0.1 });
    t.events.emit('activation:progress', { done: 1, total: 2 });
    stop();
    expect(written).toContain('epoch 1/1: loss 0.1000');
  });
});
