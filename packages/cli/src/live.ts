/** The live view from the command line: `taylorlens watch <runDir>` and `taylorlens run … --serve`. */
import { serveRun, type LiveServer, type Trainer } from '@taylorlens/core';
import type { CliIo } from './io.js';

/** Resolves on the first SIGINT/SIGTERM (while listening, the CLI's exit-at-once handler stands aside). */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** `watch`: serve until Ctrl-C. */
export async function watchRun(dir: string, io: CliIo, port: number): Promise<void> {
  const server = await serveRun(dir, { port, cwd: io.cwd, onProblem: (m) => io.stderr.write(`warning: ${m}\n`) });
  io.stdout.write(`live view: ${server.url} (Ctrl-C to stop)\n`);
  const sig = await untilSignal();
  await server.close();
  io.stdout.write(`live view stopped (${sig})\n`);
}

/**
 * `run --serve`: the server starts once the run folder exists and stops when the run ends, after
 * pushing the final report to open pages (`taylorlens watch <runDir>` serves it afterwards).
 */
export function serveDuringRun(io: CliIo, port: number): { onTrainer: (t: Trainer, dir: string) => void; finish: () => Promise<void> } {
  let started: Promise<LiveServer | null> = Promise.resolve(null);
  return {
    onTrainer: (_t, dir) => {
      started = serveRun(dir, { port, cwd: io.cwd, onProblem: (m) => io.stderr.write(`warning: ${m}\n`) }).then((s) => {
        io.stdout.write(`live view: ${s.url} (until the run ends)\n`);
        return s;
      }, (e: Error) => {
        io.stderr.write(`warning: live view not started: ${e.message}\n`);
        return null;
      });
    },
    finish: async () => {
      const s = await started;
      if (!s) return;
      await s.refresh(true);
      await s.close(`the run ended; this is its final report (also in report.html); \`taylorlens watch\` serves it again`);
    },
  };
}
