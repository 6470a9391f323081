/**
 * The activation plugin's checks before any work (the core calls `preflight` before a run folder
 * exists), by the same code that would otherwise fail inside the run: the unit selection (a
 * layer named in `layers` that the model lacks; a model with only smooth activations is no
 * problem, it records nothing and says why), the probe indices against the training set, `outDir`
 * against the run folder.
 */
import { runFolderPath, type ModelAnatomy, type PluginProblem, type RunPlan } from '@taylorlens/core';
import type { ResolvedOptions } from './options.js';
import { probeIndices } from './probe.js';
import { selectUnits } from './units.js';

const message = (e: unknown) => (e as Error).message.replace(/^activation: /, '');

export function preflightActivation(o: ResolvedOptions, anatomy: ModelAnatomy, plan: RunPlan): PluginProblem[] {
  const problems: PluginProblem[] = [];
  try {
    selectUnits(anatomy, { layers: o.layers, choices: o.choices, maxUnitsPerLayer: o.maxUnitsPerLayer, seed: o.seed + 1 });
  } catch (e) {
    problems.push({ option: '/layers', message: message(e) });
  }
  if (o.probeIndices) {
    try {
      probeIndices(plan.samples, { probeSize: o.probeSize, probeIndices: o.probeIndices, seed: o.seed });
    } catch (e) {
      const at = o.probeIndices.findIndex((i) => i >= plan.samples);
      problems.push({ option: at >= 0 ? `/probeIndices/${at}` : '/probeIndices', message: `${message(e)}; expected indices below ${plan.samples}` });
    }
  }
  if (o.outDir !== undefined && plan.runFolder) {
    try {
      runFolderPath(plan.runFolder, o.outDir, 'outDir');
    } catch (e) {
      problems.push({ option: '/outDir', message: message(e).replace(/^outDir: /, '') });
    }
  }
  return problems;
}
