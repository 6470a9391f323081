#!/usr/bin/env node
// Entry point of the `taylorlens` binary: run one command, then exit with its code.
import { processIo } from './io.js';
import { main } from './program.js';

// Outside a run (validating, loading data, after the run folder is complete) a signal ends the
// process with 130 and nothing half-done; during a run the runner's own handler decides.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (process.listenerCount(sig) === 1) process.exit(130);
  });
}

const code = await main(process.argv.slice(2), processIo());
// Exit explicitly (once stdout has drained): a backend may keep handles open that would hold the process.
process.stdout.write('', () => process.exit(code));
