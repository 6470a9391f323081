/**
 * The assembled bytes of `kernels.wat` (its source; the test assembles it with wabt and compares:
 * on a change to the .wat, paste the bytes the test prints). WebAssembly runs these loops 2–3.4×
 * faster than the same JavaScript (bench/suites/regret.js, the issue 15 closing note) with the same
 * float64 operations in the same order: the same bits.
 */
export const KERNELS_WASM = 'AGFzbQEAAAABFQJgCH9/f39/f39/AGAGf39/f39/AAISAQNlbnYGbWVtb3J5AgMBgIAEAwQDAAEBBykDDWFkZFNwYXJzZVJvd3MAAAlzeW12TG93ZXIAAQlzeXIyTG93ZXIAAgqcBgOKAgIKfwJ8IAJBA3QhECAQIAJsIRECQANAIAggAU8NASAAIAggEWxqIQ1BACEJAkADQCAJIANPDQEgByAJIAFsIAhqQQJ0aioCALshEiASRAAAAAAAAAAAYgRAIAYgCUECdGooAgAhCiAGIAlBAnRqKAIEIQwCQANAIAogDE8NASASIAUgCkEDdGorAwCiIRMgDSAEIApBAnRqKAIAIBBsaiEOIAohCwJAA0AgCyAMTw0BIA4gBCALQQJ0aigCAEEDdGohDyAPIA8rAwAgEyAFIAtBA3RqKwMAoqA5AwAgC0EBaiELDAALCyAKQQFqIQoMAAsLCyAJQQFqIQkMAAsLIAhBAWohCAwACwsLnQIEA38DfAF/A3sCQANAIAYgA08NASAAIAIgBmogAWwgAmpBA3RqIQggBCAGQQN0aisDACEJIAn9FCENIAggBkEDdGorAwAgCaIhCkEAIQcCQANAIAdBAmogBksNASAIIAdBA3Rq/QAEACEOIA4gBCAHQQN0av0ABAD98gEhDyAKIA/9IQCgIA/9IQGgIQogBSAHQQN0aiEMIAwgDP0ABAAgDiAN/fIB/fAB/QsEACAHQQJqIQcMAAsLIAcgBkkEQCAIIAdBA3RqKwMAIQsgCiALIAQgB0EDdGorAwCioCEKIAUgB0EDdGohDCAMIAwrAwAgCyAJoqA5AwALIAUgBkEDdGohDCAMIAwrAwAgCqA5AwAgBkEBaiEGDAALCwvuAQQDfwJ8AX8CewJAA0AgBiADTw0BIAAgAiAGaiABbCACakEDdGohCCAEIAZBA3RqKwMAIQkgBSAGQQN0aisDACEKIAn9FCEMIAr9FCENQQAhBwJAA0AgB0EBaiAGSw0BIAggB0EDdGohCyALIAv9AAQAIAwgBSAHQQN0av0ABAD98gEgDSAEIAdBA3Rq/QAEAP3yAf3wAf3xAf0LBAAgB0ECaiEHDAALCyAHIAZNBEAgCCAHQQN0aiELIAsgCysDACAJIAUgB0EDdGorAwCiIAogBCAHQQN0aisDAKKgoTkDAAsgBkEBaiEGDAALCws=';

/** The kernels' exports; pointers are byte offsets into their memory. */
export interface Kernels {
  addSparseRows(A: number, K: number, q: number, S: number, idx: number, val: number, start: number, n: number): void;
  symvLower(A: number, n: number, off: number, m: number, v: number, p: number): void;
  syr2Lower(A: number, n: number, off: number, m: number, v: number, p: number): void;
}

let compiled: WebAssembly.Module | null = null;

/** The compiled module (it can be posted to a worker thread). */
export function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
  return compiled;
}

export const WASM_PAGE = 65536;
/** wasm32's limit: 65,536 pages of 64 KiB. */
export const MAX_PAGES = 65536;

/** Shared memory (it grows without moving) of at least `bytes`; null beyond a 32-bit memory. */
export function kernelMemory(bytes: number): WebAssembly.Memory | null {
  const pages = Math.ceil(bytes / WASM_PAGE) + 1;
  if (pages >= MAX_PAGES) return null;
  return new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
}

/** The kernels on `memory`. */
export function kernels(memory: WebAssembly.Memory): Kernels {
  return new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as Kernels;
}
