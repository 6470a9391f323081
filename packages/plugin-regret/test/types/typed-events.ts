// Compiled by typed-events.test.ts (not run): the event bus is typed by name, core's events and
// the regret plugin's (module augmentation). Every `@ts-expect-error` line must be an error.
import { expectTypeOf } from 'vitest';
import type { MetricsRow, PhaseEvent, Trainer, WarningEvent } from '@taylorlens/core';
import type { CheckpointRecord, CostReport, RegretCheckpointEvent } from '@taylorlens/plugin-regret';

declare const trainer: Trainer;
const events = trainer.events;

// The regret plugin's events, declared by the plugin.
events.on('regret:checkpoint', (e) => {
  expectTypeOf(e).toEqualTypeOf<RegretCheckpointEvent>();
  expectTypeOf(e.scopes).toEqualTypeOf<Record<string, CheckpointRecord>>();
  const epoch: number = e.epoch;
  // @ts-expect-error: a checkpoint event has no field `scope`
  void e.scope;
  return epoch;
});
events.on('regret:cost', (e) => expectTypeOf(e).toEqualTypeOf<CostReport>());
events.emit('regret:checkpoint', { epoch: 1, round: 4, scopes: {} });
// @ts-expect-error: a wrong payload field (`scope` for `scopes`)
events.emit('regret:checkpoint', { epoch: 1, round: 4, scope: {} });
// @ts-expect-error: a field of the wrong type
events.emit('regret:checkpoint', { epoch: '1', round: 4, scopes: {} });

// Core's events.
events.on('phase', (e) => expectTypeOf(e).toEqualTypeOf<PhaseEvent>());
events.on('epoch', (e) => expectTypeOf(e).toEqualTypeOf<MetricsRow>());
events.on('warning', (e) => expectTypeOf(e).toEqualTypeOf<WarningEvent>());
events.emit('phase', { phase: 'regret: solving checkpoint', detail: 'scope 1/2 network', done: 0, total: 2 });
// @ts-expect-error: `done` is a number
events.emit('phase', { phase: 'regret: solving checkpoint', done: '0', total: 2 });
// @ts-expect-error: a wrong payload field (`message` for `phase`)
events.emit('phase', { message: 'solving', done: 0, total: 2 });
// @ts-expect-error: a progress event lacks its fields
events.emit('progress', { epoch: 1 });
// `<plugin>:progress`: any plugin's analysis progress, by pattern.
events.on('activation:progress', (e) => { const done: number = e.done; return done; });
// @ts-expect-error: `total` is missing
events.emit('activation:progress', { done: 1 });

// Names no one declared stay open, with unknown payloads.
events.on('someplugin:thing', (e) => {
  expectTypeOf(e).toEqualTypeOf<unknown>();
});
events.emit('someplugin:thing', { anything: true });
events.on('*', (type, e) => [type, e]);
