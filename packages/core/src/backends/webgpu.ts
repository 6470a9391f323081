import * as tf from '@tensorflow/tfjs-core';

/**
 * The `webgpu` backend in Node: @tensorflow/tfjs-backend-webgpu on Dawn's Node bindings (the
 * `webgpu` npm package), both optional dependencies. We request the adapter and device ourselves
 * (tfjs's own factory asks only for a core-feature-level adapter of the platform's default Dawn
 * backend, which does not exist where only OpenGL(ES) does) and register a factory that wraps them.
 * See docs/webgpu.md.
 */

/** Auto-selection uses webgpu only for models at least this heavy (FLOPs per training step). */
export const WEBGPU_MIN_FLOPS_PER_STEP = 1e9;

export interface WebgpuOptions {
  /**
   * Dawn backend: 'vulkan', 'opengl', 'opengles', 'metal', 'd3d12', ... Default: the environment's
   * TAYLORLENS_DAWN_BACKEND, else the platform's default and then (Linux) opengles, opengl.
   */
  dawnBackend?: string;
  /** Extra Dawn options for `create()`, e.g. 'enable-dawn-features=...'. Default: TAYLORLENS_DAWN_OPTIONS split on ';'. */
  dawnOptions?: string[];
  powerPreference?: 'high-performance' | 'low-power';
}

export interface WebgpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn backend that gave the adapter ('default' = the platform's choice). */
  dawnBackend: string;
  featureLevel: 'core' | 'compatibility';
  /** A CPU rasterizer (llvmpipe, lavapipe, SwiftShader): fine for tests, slower than wasm for training. */
  software: boolean;
}

export interface WebgpuStatus {
  available: boolean;
  adapter?: WebgpuAdapterInfo;
  /** Why no adapter was found (when `available` is false). */
  reason?: string;
  /** Every Dawn backend and feature level tried, and what came of it. */
  tried: { dawnBackend: string; featureLevel: string; result: string }[];
  /** Auto-selection threshold in FLOPs per training step. */
  minFlopsPerStep: number;
}

// Minimal structural types for the parts of WebGPU we touch (keeps @webgpu/types out of our build).
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  features: { has(name: string): boolean };
  limits: Record<string, unknown>;
  requestDevice(desc?: { requiredFeatures?: string[]; requiredLimits?: Record<string, number> }): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  lost: Promise<{ reason: string; message: string }>;
  addEventListener?(type: string, fn: (e: { error?: { message?: string } }) => void): void;
  destroy(): void;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string; featureLevel?: string }): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}

interface Found {
  gpu: GpuLike;
  adapter: GpuAdapterLike;
  info: WebgpuAdapterInfo;
}

let cached: { key: string; status: WebgpuStatus; found: Found | null } | null = null;
let registeredKey: string | null = null;

function envOptions(opts: WebgpuOptions): { backend?: string; extra: string[]; power: 'high-performance' | 'low-power' } {
  const backend = opts.dawnBackend ?? (process.env.TAYLORLENS_DAWN_BACKEND || undefined);
  const extra = opts.dawnOptions ?? (process.env.TAYLORLENS_DAWN_OPTIONS ?? '').split(';').map((s) => s.trim()).filter(Boolean);
  return { backend, extra, power: opts.powerPreference ?? 'high-performance' };
}

/** The auto-selection threshold, overridable with TAYLORLENS_WEBGPU_MIN_FLOPS. */
export function webgpuMinFlopsPerStep(): number {
  const v = Number(process.env.TAYLORLENS_WEBGPU_MIN_FLOPS);
  return Number.isFinite(v) && v > 0 ? v : WEBGPU_MIN_FLOPS_PER_STEP;
}

async function loadDawn(): Promise<DawnModule> {
  const name = 'webgpu'; // a variable, so TypeScript does not pull in @webgpu/types' globals
  const mod = (await import(name)) as Partial<DawnModule> & { default?: DawnModule };
  const dawn = mod.create ? (mod as DawnModule) : mod.default;
  if (!dawn?.create) throw new Error('the webgpu package has no create()');
  return dawn;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader/i;

function describe(adapter: GpuAdapterLike, dawnBackend: string, featureLevel: 'core' | 'compatibility'): WebgpuAdapterInfo {
  const i = adapter.info ?? {};
  const s = (k: string) => (typeof i[k] === 'string' ? (i[k] as string) : '');
  const text = `${s('vendor')} ${s('architecture')} ${s('device')} ${s('description')}`;
  return {
    vendor: s('vendor'), architecture: s('architecture'), device: s('device'), description: s('description'),
    dawnBackend, featureLevel, software: SOFTWARE.test(text) || i.isFallbackAdapter === true,
  };
}

/**
 * Finds an adapter: the requested Dawn backend, or the platform default then OpenGL ES and
 * OpenGL on Linux. A GL adapter exists only at the compatibility feature level, so each
 * backend is asked for core first and compatibility second. Cached per options.
 */
async function findAdapter(opts: WebgpuOptions = {}): Promise<{ status: WebgpuStatus; found: Found | null }> {
  const { backend, extra, power } = envOptions(opts);
  const key = JSON.stringify([backend, extra, power]);
  if (cached?.key === key) return cached;
  const tried: WebgpuStatus['tried'] = [];
  const minFlopsPerStep = webgpuMinFlopsPerStep();
  const done = (status: WebgpuStatus, found: Found | null) => {
    cached = { key, status, found };
    return cached;
  };
  let dawn: DawnModule;
  try {
    dawn = await loadDawn();
  } catch (e) {
    // Opt-in: a peer no install brings by itself (132 MB), so say how to get it.
    const reason = `the optional package "webgpu" (Dawn for Node) is not loadable: ${(e as Error).message.split('\n')[0]}; install it with \`npm i webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu\``;
    return done({ available: false, reason, tried, minFlopsPerStep }, null);
  }
  // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode, ... as globals.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const candidates = backend ? [backend] : process.platform === 'linux' ? ['default', 'opengles', 'opengl'] : ['default'];
  for (const b of candidates) {
    if ((b === 'opengl' || b === 'opengles') && !process.env.EGL_PLATFORM && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
      // Mesa's EGL needs a platform without a display server; it reads this when Dawn initialises EGL.
      process.env.EGL_PLATFORM = 'surfaceless';
    }
    let gpu: GpuLike;
    try {
      gpu = dawn.create(b === 'default' ? extra : [...extra, `backend=${b}`]);
    } catch (e) {
      tried.push({ dawnBackend: b, featureLevel: '-', result: `create failed: ${(e as Error).message.split('\n')[0]}` });
      continue;
    }
    for (const featureLevel of ['core', 'compatibility'] as const) {
      let adapter: GpuAdapterLike | null = null;
      try {
        adapter = await gpu.requestAdapter({ powerPreference: power, ...(featureLevel === 'compatibility' ? { featureLevel } : {}) });
      } catch (e) {
        tried.push({ dawnBackend: b, featureLevel, result: `requestAdapter threw: ${(e as Error).message.split('\n')[0]}` });
        continue;
      }
      if (!adapter) { tried.push({ dawnBackend: b, featureLevel, result: 'no adapter' }); continue; }
      const info = describe(adapter, b, featureLevel);
      tried.push({ dawnBackend: b, featureLevel, result: `adapter: ${info.description || info.device || info.vendor}` });
      return done({ available: true, adapter: info, tried, minFlopsPerStep }, { gpu, adapter, info });
    }
  }
  const reason = `no WebGPU adapter (tried ${tried.map((t) => `${t.dawnBackend}/${t.featureLevel}: ${t.result}`).join('; ')})` +
    (process.platform === 'linux' ? '; without a GPU install Mesa (.ci/install-webgpu-deps.sh) for the software OpenGL adapter' : '');
  return done({ available: false, reason, tried, minFlopsPerStep }, null);
}

/** What `taylorlens doctor` reports: the adapter webgpu would use, or why there is none. Starts no backend. */
export async function probeWebgpu(opts: WebgpuOptions = {}): Promise<WebgpuStatus> {
  return (await findAdapter(opts)).status;
}

async function requestDevice(adapter: GpuAdapterLike): Promise<GpuDeviceLike> {
  const features = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  // Ask for everything the adapter offers: a compatibility-level device otherwise gets the low
  // compatibility defaults (e.g. 4 storage buffers per stage), below what some tfjs shaders bind.
  const all: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = adapter.limits[k];
    if (typeof v === 'number') all[k] = v;
  }
  try {
    return await adapter.requestDevice({ requiredFeatures: features, requiredLimits: all });
  } catch {
    // A Dawn that lists a limit it will not take back: fall back to tfjs's own choice of limits.
    const pick = ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
      'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];
    return adapter.requestDevice({ requiredFeatures: features, requiredLimits: Object.fromEntries(pick.filter((k) => k in all).map((k) => [k, all[k]])) });
  }
}

type Backend = tf.KernelBackend & {
  readSync(dataId: object): tf.backend_util.BackendValues;
  tensorMap: { get(dataId: object): { values?: tf.backend_util.BackendValues | null } | undefined };
};

/**
 * Registers tfjs's `webgpu` backend on a Dawn device we requested. Does not activate it (use
 * `tf.setBackend('webgpu')` or `selectBackend('webgpu')`). Throws with the reason if there is no adapter.
 */
export async function registerWebgpuBackend(opts: WebgpuOptions = {}): Promise<WebgpuAdapterInfo> {
  const { status, found } = await findAdapter(opts);
  if (!found) throw new Error(status.reason);
  const key = cached!.key;
  if (registeredKey === key && tf.findBackendFactory('webgpu')) return found.info;
  const name = '@tensorflow/tfjs-backend-webgpu';
  let mod: { WebGPUBackend?: new (device: unknown, info?: unknown) => Backend; default?: { WebGPUBackend?: new (device: unknown, info?: unknown) => Backend } };
  try {
    // Importing it registers its kernels (and its own factory only when navigator.gpu exists, see below).
    mod = await import(name);
  } catch (e) {
    throw new Error(`the optional package ${name} is not loadable: ${(e as Error).message.split('\n')[0]}; install it with \`npm i ${name}\``);
  }
  const WebGPUBackend = mod.WebGPUBackend ?? mod.default?.WebGPUBackend;
  if (!WebGPUBackend) throw new Error(`${name} exports no WebGPUBackend`);
  const device = await requestDevice(found.adapter);
  device.lost.then((l) => { if (l.reason !== 'destroyed') console.warn(`taylorlens: WebGPU device lost (${l.reason}): ${l.message}`); });
  device.addEventListener?.('uncapturederror', (e) => console.warn(`taylorlens: WebGPU error: ${e.error?.message ?? e}`));
  exposeNavigatorGpu(found.gpu);
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  // Priority 0: below cpu, so tfjs never falls into webgpu on its own; we always set it explicitly.
  tf.registerBackend('webgpu', () => guardSyncReads(new WebGPUBackend(device, found.adapter.info)), 0);
  registeredKey = key;
  return found.info;
}

/** Code that checks `navigator.gpu` (tfjs's own factory, user code) sees the same instance. */
function exposeNavigatorGpu(gpu: GpuLike): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator) {
    if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
}

/**
 * tfjs-backend-webgpu reads synchronously through OffscreenCanvas, which Node lacks; the stock
 * error is "OffscreenCanvas is not defined". Name the cause instead. Values already on the host
 * (uploaded, or read once with `await data()`) are still returned.
 */
function guardSyncReads(backend: Backend): Backend {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return backend;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const d = backend.tensorMap.get(dataId);
    if (d?.values != null) return readSync(dataId);
    throw new Error('webgpu in Node cannot read a tensor synchronously (dataSync/arraySync, or a tensor moved to another ' +
      'backend while it lives on the GPU): use `await tensor.data()`');
  };
  return backend;
}

/**
 * Rough FLOPs of one training step (forward + backward ≈ 3 × forward) for a chain model of
 * conv2d and dense layers: the `modelFlopsPerStep` hint for `selectBackend`.
 */
export function trainingFlopsPerStep(model: { layers: { getClassName(): string; outputShape: unknown; getWeights(): tf.Tensor[] }[] }, batchSize: number): number {
  let forward = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const kernel = layer.getWeights()[0];
    if (!kernel) continue;
    const out = (Array.isArray(layer.outputShape) && !Array.isArray(layer.outputShape[0]) ? layer.outputShape : []) as (number | null)[];
    const outCells = out.slice(1, -1).reduce<number>((a, s) => a * (s ?? 1), 1);
    if (cls === 'Conv2D' || cls === 'Conv1D' || cls === 'Conv3D' || cls === 'Dense') {
      forward += 2 * outCells * kernel.size; // one multiply-add per kernel weight per output cell
    } else if (cls === 'DepthwiseConv2D' || cls === 'SeparableConv2D') {
      forward += 2 * outCells * layer.getWeights().filter((w) => w.rank === 4).reduce((a, w) => a + w.size, 0);
    }
  }
  return 3 * forward * batchSize;
}
