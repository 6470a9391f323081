/** Versions of what a run depends on, recorded in run.json and printed by `doctor`. */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { packageJsonOf, resolvePackage } from './plugins.js';

export const TFJS_PACKAGES = [
  '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-webgpu',
] as const;

const coreRequire = createRequire(import.meta.url);

/** The core's own package.json version (it sits two levels above src/run and dist/run). */
export function coreVersion(): string {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Installed version of `pkg` as the core (or the project in `cwd`) would load it, or null. */
export function packageVersion(pkg: string, cwd = process.cwd()): string | null {
  try {
    return (coreRequire(`${pkg}/package.json`) as { version?: string }).version ?? null;
  } catch { /* exports may hide package.json: find it from the entry */ }
  const entry = resolvePackage(pkg, cwd);
  return entry ? packageJsonOf(entry, pkg)?.version ?? null : null;
}

export function runtimeVersions(cwd = process.cwd()): Record<string, string | null> {
  const out: Record<string, string | null> = { node: process.version, '@taylorlens/core': coreVersion() };
  for (const p of TFJS_PACKAGES) out[p] = packageVersion(p, cwd);
  return out;
}
