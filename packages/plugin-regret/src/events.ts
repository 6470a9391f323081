/**
 * The regret plugin's events on `trainer.events`, added to core's typed event map, so that
 * `trainer.events.on('regret:checkpoint', (e) => e.scopes)` is typed. It also emits core's
 * `phase` events while a checkpoint solves, and `warning`s.
 */
import type { CheckpointRecord } from './plugin.js';
import type { CostReport } from './scopes/admit.js';

/** After every checkpoint: what each scope's solve gave (the records regret.json gains). */
export interface RegretCheckpointEvent {
  epoch: number;
  round: number;
  /** By scope key. */
  scopes: Record<string, CheckpointRecord>;
}

declare module '@taylorlens/core' {
  interface TrainerEvents {
    /** After every checkpoint (solve). */
    'regret:checkpoint': RegretCheckpointEvent;
    /** Before the run: the cost check, scopes admitted and skipped. */
    'regret:cost': CostReport;
  }
}
