/**
 * `taylorlens doctor`: what this machine would train on and what could go wrong there —
 * the backend picked, versions, kernels each backend lacks for training, our kernel fixes,
 * CUDA libraries tfjs-node-gpu loads, WebGPU status, installed plugins.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  KERNEL_FIXES, loadInstalledPlugins, missingKernels, modelAnatomy, packageJsonOf, preflight, resolvePackage,
  runtimeVersions, selectBackend, softmaxCrossEntropy,
} from '@taylorlens/core';
import type { CliIo } from './io.js';

/** The kernels a small dense + conv + max-pool net with softmax cross-entropy runs to train (found on cpu). */
export async function trainingKernels(): Promise<string[]> {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 4, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  model.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  try {
    const ran = await preflight(modelAnatomy(model, { lossAbsorbs: softmaxCrossEntropy.absorbs }), softmaxCrossEntropy);
    // tf.profile also lists op scopes (e.g. fusedMatMul__op); keep what is a kernel where it ran.
    const on = tf.getBackend();
    return ran.filter((k) => tf.getKernel(k, on) !== undefined);
  } finally {
    model.dispose();
  }
}

/** CUDA (and libtensorflow) libraries the tfjs-node-gpu native binding links, from `ldd`. */
export function cudaLibraries(cwd: string): string {
  const entry = resolvePackage('@tensorflow/tfjs-node-gpu', cwd);
  if (!entry) return 'not installed';
  const dir = packageJsonOf(entry, '@tensorflow/tfjs-node-gpu')?.dir ?? path.dirname(entry);
  const bindings = findFiles(path.join(dir, 'lib'), (f) => f.endsWith('.node'));
  if (bindings.length === 0) return `installed at ${dir}, but no native binding (*.node) under lib/: was its install script run?`;
  const lines: string[] = [];
  for (const b of bindings) {
    let out: string;
    try {
      out = execFileSync('ldd', [b], { encoding: 'utf8', timeout: 10_000 });
    } catch (e) {
      lines.push(`${b}: ldd failed: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const libs = out.split('\n').map((l) => l.trim()).filter((l) => /cuda|cudnn|cublas|cufft|curand|cusolver|cusparse|nvrtc|tensorflow/i.test(l));
    lines.push(`${b}:`, ...(libs.length ? libs.map((l) => `  ${l}`) : ['  (links no CUDA library)']));
  }
  return lines.join('\n');
}

function findFiles(dir: string, keep: (f: string) => boolean, depth = 4): string[] {
  if (depth < 0 || !fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findFiles(p, keep, depth - 1));
    else if (keep(e.name)) out.push(p);
  }
  return out;
}

/**
 * Whether WebGPU could be used: both packages installed, and an adapter found by the same probe
 * the backend uses (every Dawn backend, core then compatibility feature level). It runs in a
 * child process: Dawn starts native threads and prints driver noise we must not inherit.
 */
export async function webgpuStatus(cwd: string): Promise<string> {
  const backend = resolvePackage('@tensorflow/tfjs-backend-webgpu', cwd);
  const dawn = resolvePackage('webgpu', cwd);
  if (!backend || !dawn) {
    const missing = [!backend && '@tensorflow/tfjs-backend-webgpu', !dawn && 'webgpu'].filter(Boolean).join(' and ');
    return `not installed (${missing} missing; install both to try --backend webgpu)`;
  }
  const core = pathToFileURL(createRequire(import.meta.url).resolve('@taylorlens/core')).href;
  const probe = `const { webgpuStatus } = await import(${JSON.stringify(core)});
    console.log(JSON.stringify(await webgpuStatus())); process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 30_000 });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const status = JSON.parse(last) as { available: boolean; reason?: string; adapter?: Record<string, unknown>; minFlopsPerStep: number };
    if (!status.available) return `installed, but no adapter: ${status.reason ?? 'unknown reason'}`;
    const a = status.adapter ?? {};
    const what = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ');
    return `installed; adapter ${what || '(unnamed)'}${a.software ? ' (software: never picked automatically)' : ''}; ` +
      `picked automatically only for models of at least ${status.minFlopsPerStep.toExponential(0)} FLOPs per training step ` +
      '(smaller nets are dispatch-bound and run faster on wasm)';
  } catch {
    const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.status}`;
    return `installed, but the probe failed: ${why}`;
  }
}

export async function doctor(io: CliIo, backend?: string): Promise<number> {
  const say = (s = '') => io.stdout.write(s + '\n');
  let code = 0;
  say('taylorlens doctor');
  say();
  say('versions:');
  for (const [k, v] of Object.entries(runtimeVersions(io.cwd))) say(`  ${k}: ${v ?? 'not installed'}`);
  say();
  try {
    const choice = await selectBackend(backend);
    say(`backend${backend ? ` (--backend ${backend})` : ' that would be picked'}: ${choice.name} (from ${choice.source})`);
    for (const s of choice.skipped) say(`  passed over ${s.backend}: ${s.reason}`);
  } catch (e) {
    code = 1;
    say(`backend: none usable: ${(e as Error).message}`);
  }
  say();
  try {
    await selectBackend('cpu');
    const kernels = await trainingKernels();
    const backends = Object.keys(tf.engine().registryFactory).sort();
    say(`kernels to train a dense + conv2d + max-pool net with softmax cross-entropy (${kernels.length}, found on cpu):`);
    say(`  ${kernels.join(', ')}`);
    say('missing per registered backend (after our fixes):');
    for (const [b, missing] of Object.entries(missingKernels(kernels, backends))) say(`  ${b}: ${missing.length ? missing.join(', ') : 'none'}`);
  } catch (e) {
    code = 1;
    say(`kernel check failed: ${(e as Error).message}`);
  }
  say('kernel fixes taylorlens registers:');
  for (const f of KERNEL_FIXES) say(`  ${f.backend}/${f.kernel}: ${f.why}`);
  say();
  say('tfjs-node-gpu CUDA libraries:');
  say(cudaLibraries(io.cwd).split('\n').map((l) => `  ${l}`).join('\n'));
  say(`webgpu: ${await webgpuStatus(io.cwd)}`);
  say();
  const plugins = await loadInstalledPlugins(io.cwd);
  say(`plugins (${plugins.modules.length} usable):`);
  for (const m of plugins.modules) {
    const offers = [m.module.create && 'trainer plugin', m.module.optimizers && `optimizers ${Object.keys(m.module.optimizers).join(', ')}`].filter(Boolean).join('; ');
    say(`  ${m.name}: ${m.packageName} ${m.version ?? ''} (${offers || 'nothing to switch on'})`);
  }
  for (const s of plugins.skipped) say(`  ${s.name}: skipped: ${s.reason}`);
  return code;
}
