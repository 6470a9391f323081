// Fault injection for CLI child processes (node --import <this file>): on the n-th file opened or
// created at a path containing TAYLORLENS_FAULT_PATH, send this process TAYLORLENS_FAULT_SIGNAL
// (SIGTERM by default) — in the middle of whatever is being written, as `kill` from outside would.
// Test-only: the CLI knows nothing of it.
import fs from 'node:fs';

const match = process.env.TAYLORLENS_FAULT_PATH;
const nth = Number(process.env.TAYLORLENS_FAULT_NTH ?? '1');
const signal = process.env.TAYLORLENS_FAULT_SIGNAL ?? 'SIGTERM';
let seen = 0;

const original = fs.openSync;
fs.openSync = function (...args) {
  const p = args[0];
  if (match && typeof p === 'string' && p.includes(match) && ++seen === nth) process.kill(process.pid, signal);
  return original.apply(this, args);
};
