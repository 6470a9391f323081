// Fault injection for CLI child processes (node --import <this file>): on the n-th file opened,
// renamed onto or linked at a path containing TAYLORLENS_FAULT_PATH, send this process
// TAYLORLENS_FAULT_SIGNAL — SIGKILL at once, in the middle of whatever is being written; another
// signal (SIGINT) on the next event-loop turn, as a user's Ctrl-C would arrive. Test-only: the
// CLI itself knows nothing of it.
import fs from 'node:fs';

const match = process.env.TAYLORLENS_FAULT_PATH;
const nth = Number(process.env.TAYLORLENS_FAULT_NTH ?? '1');
const signal = process.env.TAYLORLENS_FAULT_SIGNAL ?? 'SIGKILL';
let seen = 0;

function hit(p) {
  if (!match || typeof p !== 'string' || !p.includes(match) || ++seen !== nth) return;
  if (signal === 'SIGKILL') process.kill(process.pid, 'SIGKILL');
  else setImmediate(() => process.kill(process.pid, signal));
}

const wrap = (name, pathArg) => {
  const original = fs[name];
  fs[name] = function (...args) {
    hit(args[pathArg]);
    return original.apply(this, args);
  };
};
wrap('openSync', 0);
wrap('renameSync', 1);
wrap('linkSync', 1);
