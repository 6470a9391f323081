/**
 * Plugins checked against the model the config builds, before the run folder exists: what the
 * config alone cannot tell (a layer the model does not have, an index beyond the data, a budget
 * the run would exceed) is found here and refused with the config's other problems (exit 2),
 * instead of failing a run that has already written its folder.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelAnatomy } from '../anatomy.js';
import { resolveLoss } from '../losses.js';
import { OptionsError, type Plugin, type RunPlan } from '../plugin.js';
import { Trainer } from '../trainer.js';
import type { ResolvedConfig } from './config.js';
import { pointerJoin, type ConfigProblem } from './problems.js';

const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];

/** JSON pointer `/a/b` of a plugin option path given as `/a/b` or `a.b`. */
function optionPointer(base: string, option: string): string {
  if (!option) return base;
  if (option.startsWith('/')) return base + option;
  return pointerJoin(base, ...option.split('.'));
}

/**
 * The run as plugins' `preflight` sees it, from the config, the data's headers and where it
 * resumes; a streamed source gives its own numbers (`stream`: batches per epoch, and samples —
 * counted, or batches × batch size as an upper bound).
 */
export function runPlan(resolved: ResolvedConfig, model: LayersModel, initialEpoch: number, runFolder: string | null,
  stream?: { samples: number; batchesPerEpoch: number }): RunPlan {
  const cfg = resolved.config;
  if (!stream && !resolved.data) throw new Error('runPlan: a streamed source needs the stream\'s numbers (open it first)');
  const samples = stream ? stream.samples : resolved.data!.samples;
  const batchesPerEpoch = stream ? stream.batchesPerEpoch : Math.ceil(samples / cfg.batchSize);
  return {
    samples, batchSize: cfg.batchSize, batchesPerEpoch, epochs: cfg.epochs, initialEpoch,
    rounds: Math.max(cfg.epochs - initialEpoch, 0) * batchesPerEpoch, loss: resolveLoss(model, cfg.model.loss), runFolder,
  };
}

/**
 * Each configured plugin: created from its options, asked for its `preflight` problems, and — when
 * it has none — applied to a throwaway trainer, so that even a plugin without `preflight` fails
 * here and not inside a run. Returns the created plugins (unapplied) for the run, and every problem
 * with a JSON pointer into the config (`/plugins/<i>/options/…`).
 */
export async function checkPluginsAgainstModel(resolved: ResolvedConfig, model: LayersModel, optimizer: tf.Optimizer, plan: RunPlan):
  Promise<{ plugins: Plugin[]; problems: ConfigProblem[] }> {
  const anatomy = modelAnatomy(model, { lossAbsorbs: plan.loss.absorbs });
  const plugins: Plugin[] = [];
  const problems: ConfigProblem[] = [];
  for (const [i, p] of resolved.plugins.entries()) {
    const at = `/plugins/${i}`;
    const create = () => p.module.module.create!(p.options);
    let plugin: Plugin;
    try {
      plugin = create();
    } catch (e) {
      if (e instanceof OptionsError) problems.push(...e.problems.map((q) => ({ pointer: optionPointer(`${at}/options`, q.path), message: q.message })));
      else problems.push({ pointer: `${at}/options`, message: `${p.module.packageName} refused these options: ${firstLine(e)}` });
      continue;
    }
    plugins.push(plugin);
    let found: ConfigProblem[];
    try {
      found = ((await plugin.preflight?.(anatomy, plan)) ?? []).map((q) => ({ pointer: optionPointer(`${at}/options`, q.option), message: q.message }));
    } catch (e) {
      found = [{ pointer: `${at}/options`, message: `${p.module.packageName}: its preflight check failed: ${firstLine(e)}` }];
    }
    if (found.length === 0) {
      try {
        new Trainer(model, { loss: plan.loss, optimizer, plugins: [create()] });
      } catch (e) {
        found = [{ pointer: `${at}/options`, message: `${p.module.name} cannot run on this model: ${firstLine(e)}` }];
      }
    }
    problems.push(...found);
  }
  return { plugins, problems };
}
