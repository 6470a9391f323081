import mittModule, { type Emitter } from 'mitt';

// mitt ships ESM at runtime but CommonJS-style typings; take the factory from either shape.
const mitt = ((mittModule as unknown as { default?: unknown }).default ?? mittModule) as <E extends Record<string, unknown>>() => Emitter<E>;

/** One row of `metrics.jsonl`: plain numbers, never tensors. */
export type MetricsRow = Record<string, number | string | null>;

export interface ProgressEvent { epoch: number; epochs: number; batch: number; batches: number; round: number; loss: number }
export interface WarningEvent { source: string; message: string }

/**
 * Events observers outside the loop can listen to. Plugins add their own, namespaced by
 * plugin name (e.g. `regret:checkpoint`); the core names none of them.
 */
export type TrainerEvents = {
  /** After every round: the round's row (loss and whatever plugins recorded). */
  round: MetricsRow;
  /** After every epoch: the epoch's row. */
  epoch: MetricsRow;
  progress: ProgressEvent;
  warning: WarningEvent;
  [event: string]: unknown;
};

export type EventBus = Emitter<TrainerEvents>;

export function createEventBus(): EventBus {
  return mitt<TrainerEvents>();
}
