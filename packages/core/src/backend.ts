import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' Node bundle registers all of them
// (the union package @tensorflow/tfjs would too, but we depend only on the parts we use).
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerKernelFixes } from './kernels/index.js';

const require = createRequire(import.meta.url);

/** Backends in the order we prefer them; optional ones are used only when installed and usable. */
export const BACKEND_ORDER = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendChoice {
  /** tfjs backend name now active. */
  name: string;
  /** Package that provided it. */
  source: string;
  /** Why the backends before it were passed over. */
  skipped: { backend: string; reason: string }[];
}

let wasmPathsSet = false;
function prepareWasm(): void {
  if (wasmPathsSet) return;
  const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
  setWasmPaths(dir);
  wasmPathsSet = true;
}

async function tryImport(pkg: string): Promise<string | null> {
  try {
    await import(pkg);
    return null;
  } catch (e) {
    return `${pkg} not loadable: ${(e as Error).message.split('\n')[0]}`;
  }
}

/**
 * Pick and activate a backend. With `prefer`, that backend is required (error if unavailable);
 * otherwise tfjs-node-gpu, tfjs-node, wasm, cpu are tried in order. Registers our kernel fixes.
 */
export async function selectBackend(prefer?: string): Promise<BackendChoice> {
  // PROD skips tfjs's debug checks and its console banner about tfjs-node.
  tf.env().set('PROD', true);
  const skipped: BackendChoice['skipped'] = [];
  const attempt = async (name: string): Promise<boolean> => {
    if (name === 'wasm') prepareWasm();
    if (name === 'tensorflow-gpu' || name === 'tensorflow') {
      const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      const why = await tryImport(pkg);
      if (why) { skipped.push({ backend: name, reason: why }); return false; }
      name = 'tensorflow';
    }
    if (name === 'webgpu') {
      skipped.push({ backend: 'webgpu', reason: 'not requested (webgpu is used only with an explicit --backend webgpu)' });
      return false;
    }
    try {
      const ok = await tf.setBackend(name);
      if (!ok) { skipped.push({ backend: name, reason: 'initialisation failed' }); return false; }
      await tf.ready();
      return true;
    } catch (e) {
      skipped.push({ backend: name, reason: (e as Error).message });
      return false;
    }
  };
  const order = prefer ? [prefer] : (BACKEND_ORDER as readonly string[]);
  for (const name of order) {
    if (await attempt(name)) {
      registerKernelFixes();
      return { name: tf.getBackend(), source: sourceOf(tf.getBackend()), skipped };
    }
  }
  throw new Error(`no usable backend${prefer ? ` for --backend ${prefer}` : ''}: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
}

function sourceOf(name: string): string {
  switch (name) {
    case 'tensorflow': return '@tensorflow/tfjs-node(-gpu)';
    case 'wasm': return '@tensorflow/tfjs-backend-wasm';
    case 'webgpu': return '@tensorflow/tfjs-backend-webgpu';
    default: return '@tensorflow/tfjs-backend-cpu';
  }
}
