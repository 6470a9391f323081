import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunStoreLike } from '@taylorlens/core';

/** A temporary run folder with the RunStoreLike face the trainer hands to plugins. */
export function tempStore(prefix = 'taylorlens-activation-'): RunStoreLike & { remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    traceDir: null,
    traces: () => false,
    pluginDir(name: string) {
      const p = path.join(dir, name);
      fs.mkdirSync(p, { recursive: true });
      return p;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
