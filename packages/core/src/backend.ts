import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' Node bundle registers all of them
// (the union package @tensorflow/tfjs would too, but we depend only on the parts we use).
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerKernelFixes } from './kernels/index.js';
import { probeWebgpu, registerWebgpuBackend, webgpuMinFlopsPerStep, type WebgpuOptions, type WebgpuStatus } from './backends/webgpu.js';

export { WEBGPU_MIN_FLOPS_PER_STEP, trainingFlopsPerStep, type WebgpuOptions, type WebgpuStatus, type WebgpuAdapterInfo } from './backends/webgpu.js';

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

export interface SelectOptions {
  /**
   * FLOPs of one training step of the model to be trained (see `trainingFlopsPerStep`). Auto-selection
   * considers webgpu only with this hint at or above `WEBGPU_MIN_FLOPS_PER_STEP`: small nets are
   * dispatch-bound and train faster on wasm.
   */
  modelFlopsPerStep?: number;
  /** Dawn adapter options for webgpu (else TAYLORLENS_DAWN_BACKEND / TAYLORLENS_DAWN_OPTIONS). */
  webgpu?: WebgpuOptions;
}

/**
 * Pick and activate a backend. With `prefer`, that backend is required (error if unavailable);
 * otherwise tfjs-node-gpu, tfjs-node, webgpu (only with a large enough `modelFlopsPerStep` and a
 * hardware adapter), wasm, cpu are tried in order. Registers our kernel fixes.
 */
export async function selectBackend(prefer?: string, opts: SelectOptions = {}): Promise<BackendChoice> {
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
      const why = prefer === 'webgpu' ? null : await webgpuAutoRefusal(opts);
      if (why) { skipped.push({ backend: 'webgpu', reason: why }); return false; }
      try {
        await registerWebgpuBackend(opts.webgpu);
      } catch (e) {
        skipped.push({ backend: 'webgpu', reason: (e as Error).message });
        return false;
      }
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

/** Why auto-selection passes webgpu over, or null to try it. */
async function webgpuAutoRefusal(opts: SelectOptions): Promise<string | null> {
  const min = webgpuMinFlopsPerStep();
  if (opts.modelFlopsPerStep === undefined) return `no model-size hint (webgpu is chosen automatically only for models of ≥ ${min.toExponential(0)} FLOPs per step; pass modelFlopsPerStep or --backend webgpu)`;
  if (opts.modelFlopsPerStep < min) return `model too small for webgpu (${opts.modelFlopsPerStep.toExponential(1)} < ${min.toExponential(0)} FLOPs per step: dispatch-bound, wasm is faster)`;
  const status = await probeWebgpu(opts.webgpu);
  if (!status.available) return status.reason ?? 'no adapter';
  if (status.adapter!.software) return `adapter is a software rasterizer (${status.adapter!.description || status.adapter!.device}), slower than wasm; use --backend webgpu to force it`;
  return null;
}

/**
 * For `taylorlens doctor`: the WebGPU adapter the webgpu backend would use (vendor, architecture,
 * description, Dawn backend, feature level) or why there is none, and the auto-selection threshold.
 */
export async function webgpuStatus(opts?: WebgpuOptions): Promise<WebgpuStatus> {
  return probeWebgpu(opts);
}

function sourceOf(name: string): string {
  switch (name) {
    case 'tensorflow': return '@tensorflow/tfjs-node(-gpu)';
    case 'wasm': return '@tensorflow/tfjs-backend-wasm';
    case 'webgpu': return '@tensorflow/tfjs-backend-webgpu';
    default: return '@tensorflow/tfjs-backend-cpu';
  }
}

/** What a worker thread requires to run a backend itself: module files (for `require`) and the wasm binaries' folder. */
export interface WorkerBackend {
  name: 'wasm' | 'cpu';
  /** tfjs-core as the backend module itself requires it (the same instance it registers into). */
  core: string;
  backend: string;
  /** Folder of the wasm backend's binaries (setWasmPaths), null for cpu. */
  wasmDir: string | null;
}

/**
 * How a worker thread can run the active backend with the same kernels (so the same bits): the
 * wasm and cpu backends load by module path; null for the others (native or GPU ones, whose
 * second instance would compete for the device).
 */
export function workerBackend(): WorkerBackend | null {
  const name = tf.getBackend();
  if (name !== 'wasm' && name !== 'cpu') return null;
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  const manifest = require.resolve(`${pkg}/package.json`);
  const backend = createRequire(manifest).resolve(pkg);
  const core = createRequire(backend).resolve('@tensorflow/tfjs-core');
  return { name, core, backend, wasmDir: name === 'wasm' ? path.join(path.dirname(manifest), 'dist') + path.sep : null };
}

/**
 * A float32 tensor's values without a copy where the backend keeps them in this process's memory:
 * a view of wasm's heap (valid until the next op, which may grow the heap) or the cpu backend's
 * own array; null elsewhere (read those with `data()`). Reading back with `dataSync` copies on
 * wasm, and each fresh array is page faults and garbage: hundreds of megabytes per network solve.
 */
export function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const backend = tf.backend() as tf.KernelBackend & { typedArrayFromHeap?(info: tf.TensorInfo): tf.backend_util.TypedArray };
  const name = tf.getBackend();
  if (name === 'wasm' && backend.typedArrayFromHeap) return backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
  if (name === 'cpu') return t.dataSync() as Float32Array; // the backend's own array
  return null;
}
