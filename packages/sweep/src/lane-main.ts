/**
 * The process of a lane (lane.ts starts it with the CLI entry as its argument): it loads the CLI
 * once, then runs what its launcher sends, one at a time — `taylorlens run <config>` or
 * `run --resume <runDir>`, through the CLI's own `main`, the same code as a run on its own — with
 * the run's output appended to the run's log, and answers each with the exit code.
 * Messages: → `{ ready: true }` once loaded; ← `{ args, log }`; → `{ exitCode }`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  cwd: string;
  signals?: boolean;
}
export interface LaneRequest { args: string[]; log: string }
export type LaneReply = { ready: true } | { exitCode: number };

let busy = false;
// The launcher gone (it ended, or was killed: guard.ts then interrupts a run): leave once idle.
// Registered before the CLI loads, so a launcher that lets go of a lane still booting is seen.
process.on('disconnect', () => { if (!busy) process.exit(0); });
// Between runs a signal ends the lane, as it ends the CLI outside a run; during a run the runner's handler decides.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { if (process.listenerCount(sig) === 1) process.exit(130); });
}
// Stray prints (tfjs, a plugin) go to the launcher through pipes; once it is gone they must not crash a run that is finishing.
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});

// The CLI's `main` lives beside its entry (main.js imports it from program.js).
const cli = process.argv[2];
if (!cli) throw new Error('lane: expected the taylorlens CLI entry (main.js) as the first argument');
const { main } = await import(pathToFileURL(path.join(path.dirname(cli), 'program.js')).href) as { main(argv: string[], io: CliIo): Promise<number> };

process.on('message', (m: LaneRequest) => void runOne(m));
if (!process.connected) process.exit(0);
process.send!({ ready: true } satisfies LaneReply);

async function runOne(m: LaneRequest): Promise<void> {
  busy = true;
  const fd = fs.openSync(m.log, 'a');
  const write = (s: string) => { fs.writeSync(fd, s); return true; };
  let exitCode: number;
  try {
    exitCode = await main(m.args, { stdout: { write, isTTY: false }, stderr: { write }, cwd: process.cwd(), signals: true });
  } finally {
    fs.closeSync(fd);
    busy = false;
  }
  if (!process.connected) process.exit(exitCode);
  process.send!({ exitCode } satisfies LaneReply);
}
