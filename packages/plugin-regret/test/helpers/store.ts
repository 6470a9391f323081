import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunStoreLike } from '@taylorlens/core';

/** A run folder in the OS temp dir, tracing the first `traceRounds` rounds. */
export function tempStore(traceRounds = 0): RunStoreLike & { cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regret-test-'));
  const traceDir = traceRounds > 0 ? path.join(dir, 'trace') : null;
  if (traceDir) fs.mkdirSync(traceDir);
  return {
    dir,
    traceDir,
    pluginDir(name: string) { const d = path.join(dir, name); fs.mkdirSync(d, { recursive: true }); return d; },
    traces: (round: number) => round <= traceRounds,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
