/**
 * A lane of a local sweep: one long-lived child process (lane-main.ts) that runs the sweep's runs
 * one after another with the CLI's own code, so Node, tfjs, the CLI and the backend start once per
 * lane instead of once per run (≈ 1.5–2 s of every small run). Runs in one process stay
 * bit-identical to runs alone: the core names every layer and seeds every draw itself
 * (local.slow.test.ts compares final weights and metrics byte for byte).
 * A lane that dies (a crash, a second Ctrl-C) costs its current run only: the next run gets a
 * fresh process. Like a run's own process, a lane has its own process group (a Ctrl-C at the
 * terminal reaches the launcher, which forwards one SIGINT) and the guard (guard.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LaneReply, LaneRequest } from './lane-main.js';

// Compiled files, from src/ (tests) as from dist/.
const GUARD = fileURLToPath(new URL('../dist/guard.js', import.meta.url));
const LANE_MAIN = fileURLToPath(new URL('../dist/lane-main.js', import.meta.url));

export class Lane {
  private child: ChildProcess | null = null;
  private ready: Promise<unknown> = Promise.resolve();
  /** Resolves with the exit status once the process has exited and its output pipes are drained. */
  private gone: Promise<{ code: number | null; signal: NodeJS.Signals | null }> = Promise.resolve({ code: null, signal: null });
  /** The log of the run in progress: the lane's own stdout and stderr (stray prints, a crash's stack) go there. */
  private log: number | null = null;

  /** @param cli the taylorlens CLI entry (main.js); @param cwd the folder runs run in. */
  constructor(private readonly cli: string, private readonly cwd: string) {}

  /** Start the process if none is alive (it loads while the caller goes on). */
  start(): this {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this;
    const child = spawn(process.execPath, ['--import', GUARD, LANE_MAIN, this.cli], {
      cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true,
    });
    const forward = (d: Buffer) => { if (this.log !== null) fs.writeSync(this.log, d); else process.stderr.write(d); };
    child.stdout!.on('data', forward);
    child.stderr!.on('data', forward);
    child.on('error', () => {}); // a failed spawn also exits
    // Not the child's 'close' event: it never comes once the launcher has disconnected.
    const drained = (s: NodeJS.ReadableStream) => new Promise((resolve) => s.once('close', resolve));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.gone = Promise.all([exited, drained(child.stdout!), drained(child.stderr!)]).then(([status]) => {
      if (this.child === child) this.child = null;
      return status;
    });
    // The first message says the CLI has loaded.
    this.ready = new Promise((resolve) => child.once('message', resolve));
    this.child = child;
    return this;
  }

  /** Run the CLI with `args` (output appended to `logFile`): its exit code (128 when killed by a signal) and the lane's pid. */
  async run(args: string[], logFile: string): Promise<{ exitCode: number | null; pid?: number }> {
    const child = this.start().child!;
    const { ready, gone } = this;
    this.log = fs.openSync(logFile, 'a');
    try {
      const exitCode = await new Promise<number | null>((resolve) => {
        const answered = (m: LaneReply) => { if ('exitCode' in m) { child.off('message', answered); resolve(m.exitCode); } };
        child.on('message', answered);
        // Gone without an answer (a crash, a second signal): its exit status, once its output is in the log.
        void gone.then(({ code, signal }) => { child.off('message', answered); resolve(code ?? (signal ? 128 : null)); });
        void ready.then(() => { if (child.connected) child.send({ args, log: logFile } satisfies LaneRequest); });
      });
      return { exitCode, pid: child.pid };
    } finally {
      fs.closeSync(this.log);
      this.log = null;
    }
  }

  /** Forward a stop (SIGINT): a run in progress ends at a round boundary, an idle lane exits. */
  interrupt(): void {
    this.child?.kill('SIGINT');
  }

  /** No more runs: the process exits once its run (if any) has ended; resolves when it has. */
  close(): Promise<void> {
    if (this.child?.connected) this.child.disconnect();
    return this.gone.then(() => {});
  }
}
