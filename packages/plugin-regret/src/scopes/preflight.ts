/**
 * The regret plugin's checks before any work (the core calls `preflight` before a run folder
 * exists), by the code `apply` and `beforeRun` would otherwise run inside the run: the layer
 * selections (resolveScopes) and the budget (admitScopes, where a scope the user named that does
 * not fit is refused).
 */
import type { ModelAnatomy, PluginProblem, RunPlan } from '@taylorlens/core';
import type { RegretOptions } from '../options.js';
import { squaredErrorScale } from '../quadratic/squared-error.js';
import { admitScopes } from './admit.js';
import { resolveScopes, selectLayers } from './resolve.js';

const message = (e: unknown) => (e as Error).message.replace(/^regret: /, '');

export async function preflightRegret(o: RegretOptions, anatomy: ModelAnatomy, plan: RunPlan): Promise<PluginProblem[]> {
  const problems: PluginProblem[] = [];
  // Each selection on its own, so every bad one is named at its option.
  for (const [on, sel, option] of [[o.layers.enabled, o.layers.layers, 'layers.layers'], [o.neurons.enabled, o.neurons.layers, 'neurons.layers']] as const) {
    if (!on) continue;
    try {
      selectLayers(anatomy, sel, option);
    } catch (e) {
      problems.push({ option: `/${option.replace('.', '/')}`, message: message(e) });
    }
  }
  if (problems.length > 0) return problems;
  const gamma = await squaredErrorScale(plan.loss, anatomy.outputSize);
  let candidates: ReturnType<typeof resolveScopes>;
  try {
    candidates = resolveScopes(anatomy, o, gamma);
  } catch (e) {
    const m = message(e);
    return [{ option: /neurons\.perLayer/.test(m) ? '/neurons/perLayer' : '', message: m }];
  }
  try {
    // The throughput only sizes time estimates; what is refused depends on memory, disk and overhead.
    admitScopes(anatomy, candidates, o, plan.batchSize, plan.rounds, 1);
  } catch (e) {
    return [{ option: '/budget', message: message(e) }];
  }
  return [];
}
