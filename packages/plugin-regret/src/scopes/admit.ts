import type { ModelAnatomy } from '@taylorlens/core';
import type { RegretOptions } from '../options.js';
import { estimateCost, HOST_MACS_PER_MS, stepMacs } from './cost.js';
import type { ScopeCost, ScopeDescription } from './scope.js';

export interface AdmittedCost extends ScopeCost {
  /** Extra multiply-adds per round ÷ a training step's. */
  overhead: number;
  msPerRound: number;
  memoryMB: number;
  diskMB: number;
  /** Rough seconds for the last checkpoint's solve. */
  lastSolveSeconds: number;
}

export interface CostReport {
  /** Multiply-adds of one training step (estimate) and the throughput measured before the run. */
  stepMacs: number;
  macsPerMs: number;
  scopes: AdmittedCost[];
  skipped: { key: string; reason: string }[];
  totalOverhead: number;
}

/**
 * The budget check of `beforeRun`: scopes in order of cost (cheapest first, so a default
 * selection keeps as many as fit), each charged against `budget.memoryMB`, `budget.diskGB` and
 * `budget.maxOverhead`. A scope the user named that does not fit throws, naming the scope and
 * the options to change; one from a default ('all') selection is skipped and reported.
 */
export function admitScopes(anatomy: ModelAnatomy, candidates: readonly (ScopeDescription & { explicit: boolean })[], o: RegretOptions,
  batchSize: number, rounds: number, macsPerMs: number): { chosen: ScopeDescription[]; cost: CostReport; memoryBytes: number } {
  const step = stepMacs(anatomy, batchSize);
  const skipped: CostReport['skipped'] = [];
  const accepted: AdmittedCost[] = [];
  const chosen: ScopeDescription[] = [];
  let memory = 0;
  let disk = 0;
  let overhead = 0;
  const costed = candidates.map((d) => ({ d, c: estimateCost(anatomy, d, batchSize, rounds, o.solver.maxIterations) }))
    .sort((a, b) => a.c.macsPerRound - b.c.macsPerRound);
  for (const { d, c } of costed) {
    const ratio = c.macsPerRound / step;
    const key = optionKey(d.kind);
    const problems: string[] = [];
    if (memory + c.memoryBytes > o.budget.memoryMB * 2 ** 20) {
      problems.push(`needs ${(c.memoryBytes / 2 ** 20).toFixed(1)} MB of statistics (budget.memoryMB = ${o.budget.memoryMB}, ${(memory / 2 ** 20).toFixed(1)} MB taken): `
        + `choose fewer or smaller ${d.kind === 'neurons' ? 'neurons (neurons.perLayer, neurons.layers)' : 'layers (layers.layers)'} or raise budget.memoryMB`);
    }
    if (disk + c.diskBytes > o.budget.diskGB * 2 ** 30) {
      problems.push(`would store ${(c.diskBytes / 2 ** 30).toFixed(2)} GB over ${rounds} rounds (budget.diskGB = ${o.budget.diskGB}): `
        + `record less often (${key}.every, ${key}.reservoir), fewer samples per round (${key}.subBatch) or raise budget.diskGB`);
    }
    if (overhead + ratio > o.budget.maxOverhead) {
      problems.push(`costs about ${ratio.toFixed(2)}× a training step per round (budget.maxOverhead = ${o.budget.maxOverhead}, ${overhead.toFixed(2)} taken): `
        + `record less often (${key}.every), ${d.kind === 'network' ? '' : `fewer ${key} (${key}.layers${d.kind === 'neurons' ? ', neurons.perLayer' : ''}), `}or raise budget.maxOverhead`);
    }
    if (problems.length > 0) {
      const reason = problems.join('; ');
      if (d.explicit) throw new Error(`regret: scope "${d.key}" ${reason}`);
      skipped.push({ key: d.key, reason });
      continue;
    }
    memory += c.memoryBytes;
    disk += c.diskBytes;
    overhead += ratio;
    const { explicit: _explicit, ...desc } = d;
    chosen.push(desc);
    accepted.push({
      ...c, overhead: ratio, msPerRound: c.macsPerRound / macsPerMs, memoryMB: c.memoryBytes / 2 ** 20, diskMB: c.diskBytes / 2 ** 20,
      lastSolveSeconds: c.solveMacs / (c.solveOnHost ? HOST_MACS_PER_MS : macsPerMs) / 1000,
    });
  }
  const order = new Map(candidates.map((d, i) => [d.key, i]));
  chosen.sort((a, b) => order.get(a.key)! - order.get(b.key)!);
  return { chosen, cost: { stepMacs: step, macsPerMs, scopes: accepted, skipped, totalOverhead: overhead }, memoryBytes: memory };
}

/** The options object a scope kind is configured in ('layer' scopes live under `layers`). */
function optionKey(kind: ScopeDescription['kind']): 'network' | 'layers' | 'neurons' {
  return kind === 'layer' ? 'layers' : kind;
}
