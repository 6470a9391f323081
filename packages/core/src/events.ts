import mittModule, { type Emitter } from 'mitt';

// mitt ships ESM at runtime but CommonJS-style typings; take the factory from either shape.
const mitt = ((mittModule as unknown as { default?: unknown }).default ?? mittModule) as <E extends Record<string, unknown>>() => Emitter<E>;

/** One row of `metrics.jsonl`: plain numbers, never tensors. */
export type MetricsRow = Record<string, number | string | null>;

export interface ProgressEvent { epoch: number; epochs: number; batch: number; batches: number; round: number; loss: number }
export interface WarningEvent { source: string; message: string }

/**
 * A long piece of work outside the rounds, step by step (e.g. a plugin's checkpoint solve), so that
 * progress displays say what is running instead of an estimate that stopped moving.
 * `{ phase: 'regret: solving checkpoint', detail: 'scope 3/12 neurons:dense_2', done: 2, total: 12 }`.
 */
export interface PhaseEvent {
  /** What is running, in words; the same text for every step of one phase. */
  phase: string;
  /** The step now running, e.g. which scope. */
  detail?: string;
  /** Steps finished, of `total`; `done === total` ends the phase. */
  done: number;
  total: number;
}

/** `<plugin>:progress`: a plugin's long analysis, `done` of `total` (and what it is, if `label`). */
export interface AnalysisProgressEvent { done: number; total: number; label?: string }

/**
 * Events observers outside the loop can listen to, by name with their payload's type. Plugins add
 * their own, namespaced by plugin name (e.g. `regret:checkpoint`), by augmenting this interface:
 *
 * ```ts
 * declare module '@taylorlens/core' {
 *   interface TrainerEvents { 'myplugin:done': { rounds: number } }
 * }
 * ```
 *
 * after which `trainer.events.on('myplugin:done', (e) => e.rounds)` is typed, and emitting a
 * payload of another shape is a type error. Names no one declared still work, with `unknown`
 * payloads; the core names no plugin's events.
 */
export interface TrainerEvents {
  /** After every round: the round's row (loss and whatever plugins recorded). */
  round: MetricsRow;
  /** After every epoch: the epoch's row. */
  epoch: MetricsRow;
  progress: ProgressEvent;
  warning: WarningEvent;
  /** A long step outside the rounds (checkpoint solves), as it goes. */
  phase: PhaseEvent;
  [event: `${string}:progress`]: AnalysisProgressEvent;
  [event: string]: unknown;
  [event: symbol]: unknown;
}

export type EventBus = Emitter<TrainerEvents>;

export function createEventBus(): EventBus {
  return mitt<TrainerEvents>();
}
