// `phase` events (a checkpoint solve, step by step): the progress display names the phase and counts
// its steps instead of leaving the round bar and its estimate ("1s left") standing while it runs.
import { describe, expect, it } from 'vitest';
import { createEventBus, type PhaseEvent } from '@taylorlens/core';
import { memoryIo } from '../src/io.js';
import { cliReporter, PLAIN_INTERVAL_MS, phaseLine } from '../src/progress.js';
import type { Trainer } from '@taylorlens/core';

const fakeTrainer = () => ({ events: createEventBus() } as unknown as Trainer);
const PHASE = 'regret: solving checkpoint (epoch 1)';
const solve = (keys: string[]): PhaseEvent[] => [
  { phase: PHASE, detail: 'finishing the recorded rounds', done: 0, total: keys.length },
  ...keys.map((k, i) => ({ phase: PHASE, detail: `scope ${i + 1}/${keys.length} ${k}`, done: i, total: keys.length })),
  { phase: PHASE, detail: `${keys.length} scopes solved`, done: keys.length, total: keys.length },
];

/**
 * A terminal that keeps what is drawn on its current line, and every state of it: cli-progress
 * redraws a line by moving to column 1 (ESC[1G) or clearing it (ESC[2K); other escapes are dropped.
 */
function terminal() {
  let line = '';
  const frames: string[] = [];
  const stream = {
    isTTY: true, columns: 160,
    write: (s: string) => {
      for (const part of s.split(/(\n|\x1b\[[0-9;?]*[A-Za-z]|\x1b[78])/)) {
        if (part === '\n') { frames.push(line); line = ''; } else if (part === '\x1b[1G' || part === '\x1b[2K') line = '';
        else if (part && !part.startsWith('\x1b')) line += part;
      }
      frames.push(line);
      return true;
    },
    cursorTo: () => { line = ''; return true; }, clearLine: () => { line = ''; return true; },
    moveCursor: () => true, on: () => stream, removeListener: () => stream,
  };
  return { io: { stdout: stream, stderr: { write: () => true }, cwd: '/' }, frames, now: () => line };
}

describe('progress display: phases', () => {
  it('formats a phase step', () => {
    expect(phaseLine({ phase: PHASE, detail: 'scope 3/12 neurons:dense_2', done: 2, total: 12 })).toBe(`${PHASE} 2/12 · scope 3/12 neurons:dense_2`);
    expect(phaseLine({ phase: PHASE, done: 12, total: 12 }, 31.25)).toBe(`${PHASE} 12/12 (31.3 s)`);
  });

  it('on a terminal: the round bar goes, the phase and its step show, then the epoch line', () => {
    const t = terminal();
    const trainer = fakeTrainer();
    const stop = cliReporter(t.io).track!(trainer, { epochs: 1, batchesPerEpoch: 4, fromEpoch: 0 });
    for (let b = 1; b <= 4; b++) trainer.events.emit('progress', { epoch: 1, epochs: 1, batch: b, batches: 4, round: b, loss: 0.1 });
    expect(t.now()).toMatch(/epoch 1\/1 .* left/);
    const [first, ...rest] = solve(['layer:dense_1', 'neurons:dense_2', 'network']);
    trainer.events.emit('phase', first);
    // The round bar and its estimate are gone; the phase names itself.
    expect(t.now()).not.toContain('left');
    expect(t.now()).toMatch(new RegExp(`^${PHASE.replace(/[()]/g, '\\$&')} \\|.*\\| 0/3 · finishing the recorded rounds · \\d+s$`));
    // Steps within cli-progress's throttle (~200 ms) are drawn on the next frame, the last one when the phase ends.
    for (const e of rest) trainer.events.emit('phase', e);
    trainer.events.emit('epoch', { epoch: 1, round: 4, loss: 0.1 });
    stop();
    const drawn = t.frames.join('\n');
    expect(drawn).toMatch(/3\/3 · 3 scopes solved/);
    expect(t.frames.filter((f) => f.includes(PHASE)).every((f) => !f.includes('left'))).toBe(true);
    expect(drawn).toContain('epoch 1/1: loss 0.1000');
    expect(t.now()).toBe('');
  });

  it('a step of a long solve is drawn as it starts', async () => {
    const t = terminal();
    const trainer = fakeTrainer();
    const stop = cliReporter(t.io).track!(trainer, { epochs: 1, batchesPerEpoch: 4, fromEpoch: 0 });
    const events = solve(['layer:dense_1', 'neurons:dense_2']);
    trainer.events.emit('phase', events[0]);
    await new Promise((r) => setTimeout(r, 250)); // a solve takes longer than the bar's throttle
    trainer.events.emit('phase', events[2]);
    expect(t.now()).toMatch(/1\/2 · scope 2\/2 neurons:dense_2/);
    stop();
  });

  it('without a terminal: a line when the phase starts, one every ~10 s, one with its time at the end', () => {
    let clock = 0;
    const io = { ...memoryIo('/'), now: () => clock };
    const trainer = fakeTrainer();
    const stop = cliReporter(io).track!(trainer, { epochs: 1, batchesPerEpoch: 4, fromEpoch: 0 });
    const events = solve(Array.from({ length: 12 }, (_, i) => `neurons:dense_${i}`));
    for (const e of events) {
      trainer.events.emit('phase', e);
      clock += 3_000; // 3 s per step: 42 s in all
    }
    stop();
    const lines = io.out().trim().split('\n');
    expect(lines[0]).toBe(`${PHASE} 0/12 · finishing the recorded rounds`);
    expect(lines.at(-1)).toBe(`${PHASE} 12/12 · 12 scopes solved (39.0 s)`);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines.slice(1, -1).every((l) => /^regret: solving checkpoint \(epoch 1\) \d+\/12 · scope \d+\/12 neurons:dense_\d+$/.test(l))).toBe(true);
    expect(PLAIN_INTERVAL_MS).toBe(10_000);
  });
});
