import type { RunStatus } from './hooks.js';

/** Throw from any hook to end training cleanly; `afterCancel` and `afterRun` still run. */
export class StopTraining extends Error {
  constructor(readonly reason: string, readonly status: RunStatus = 'stopped') {
    super(reason);
    this.name = 'StopTraining';
  }
}
