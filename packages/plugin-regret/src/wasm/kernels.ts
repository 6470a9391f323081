/**
 * The assembled bytes of `kernels.wat` (its source; the test assembles it with wabt and compares:
 * on a change to the .wat, paste the bytes the test prints). WebAssembly runs these loops 2–3.4×
 * faster than the same JavaScript (bench/suites/regret.js, the issue 15 closing note) with the same
 * float64 operations in the same order: the same bits.
 */
export const KERNELS_WASM = 'AGFzbQEAAAABJwRgDH9/f39/f39/f39/fwBgBn9/f39/fwBgA39/fwF8YAR/fH9/AAISAQNlbnYGbWVtb3J5AgMBgIAEAwYFAAEBAgMHNgUNYWRkU3BhcnNlUm93cwAACXN5bXZMb3dlcgABCXN5cjJMb3dlcgACA2RvdAADBGF4cHkABArJCgWLBAMMfwF8AXsgAkEDdCEVIBUgA2whFiABIRICQANAIBIgAk8NASALIBJBA3RqRAAAAAAAAAAAOQMAIBJBAWohEgwACwsCQANAIAwgA08NASAAIAwgFmxqIRMgCCAMQQJ0aigCACENIAggDEECdGooAgQhDgJAA0AgDSAOTw0BIAkgDUECdGooAgAhDyAKIA1BAnRqKAIAIRAgBiAPQQJ0aigCBCERIAcgDyABbEECdGohFyAFIBBBA3RqKwMAIRhBACESAkADQCASIAFPDQEgCyASQQN0aiAXIBJBAnRqKgIAuyAYojkDACASQQFqIRIMAAsLAkADQCAQIBFPDQEgEyAEIBBBAnRqKAIAIBVsaiEUIAUgEEEDdGorAwD9FCEZQQAhEgJAA0AgEiAVTw0BIBQgEmogFCASav0ABAAgCyASav0ABAAgGf3yAf3wAf0LBAAgFCASaiAUIBJq/QAEECALIBJq/QAEECAZ/fIB/fAB/QsEECAUIBJqIBQgEmr9AAQgIAsgEmr9AAQgIBn98gH98AH9CwQgIBQgEmogFCASav0ABDAgCyASav0ABDAgGf3yAf3wAf0LBDAgFCASaiAUIBJq/QAEQCALIBJq/QAEQCAZ/fIB/fAB/QsEQCASQdAAaiESDAALCyAQQQFqIRAMAAsLIA1BAWohDQwACwsgDEEBaiEMDAALCwudAgQDfwN8AX8DewJAA0AgBiADTw0BIAAgAiAGaiABbCACakEDdGohCCAEIAZBA3RqKwMAIQkgCf0UIQ0gCCAGQQN0aisDACAJoiEKQQAhBwJAA0AgB0ECaiAGSw0BIAggB0EDdGr9AAQAIQ4gDiAEIAdBA3Rq/QAEAP3yASEPIAogD/0hAKAgD/0hAaAhCiAFIAdBA3RqIQwgDCAM/QAEACAOIA398gH98AH9CwQAIAdBAmohBwwACwsgByAGSQRAIAggB0EDdGorAwAhCyAKIAsgBCAHQQN0aisDAKKgIQogBSAHQQN0aiEMIAwgDCsDACALIAmioDkDAAsgBSAGQQN0aiEMIAwgDCsDACAKoDkDACAGQQFqIQYMAAsLC+4BBAN/AnwBfwJ7AkADQCAGIANPDQEgACACIAZqIAFsIAJqQQN0aiEIIAQgBkEDdGorAwAhCSAFIAZBA3RqKwMAIQogCf0UIQwgCv0UIQ1BACEHAkADQCAHQQFqIAZLDQEgCCAHQQN0aiELIAsgC/0ABAAgDCAFIAdBA3Rq/QAEAP3yASANIAQgB0EDdGr9AAQA/fIB/fAB/fEB/QsEACAHQQJqIQcMAAsLIAcgBk0EQCAIIAdBA3RqIQsgCyALKwMAIAkgBSAHQQN0aisDAKIgCiAEIAdBA3RqKwMAoqChOQMACyAGQQFqIQYMAAsLC60BBAF/AnsBfAF/AkADQCADQQRqIAJLDQEgA0EDdCEHIAQgACAHav0ABAAgASAHav0ABAD98gH98AEhBCAFIAAgB2r9AAQQIAEgB2r9AAQQ/fIB/fABIQUgA0EEaiEDDAALCyAEIAX98AEhBCAE/SEAIAT9IQGgIQYCQANAIAMgAk8NASADQQN0IQcgBiAAIAdqKwMAIAEgB2orAwCioCEGIANBAWohAwwACwsgBgt8AwF/AXsBfyAB/RQhBQJAA0AgBEECaiADSw0BIAAgBEEDdGohBiAGIAb9AAQAIAUgAiAEQQN0av0ABAD98gH98AH9CwQAIARBAmohBAwACwsgBCADSQRAIAAgBEEDdGohBiAGIAYrAwAgASACIARBA3RqKwMAoqA5AwALCw==';

/** The kernels' exports; pointers are byte offsets into their memory. */
export interface Kernels {
  addSparseRows(sums: number, K: number, Kp: number, q: number, idx: number, val: number, start: number, n: number, colStart: number, colS: number, colE: number, wv: number): void;
  symvLower(A: number, n: number, off: number, m: number, v: number, p: number): void;
  syr2Lower(A: number, n: number, off: number, m: number, v: number, p: number): void;
  dot(x: number, y: number, n: number): number;
  axpy(y: number, a: number, x: number, n: number): void;
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

/**
 * Shared memory (it grows without moving) of at least `bytes`, able to grow to `maxBytes`; null
 * beyond a 32-bit memory. A shared memory reserves its maximum's address space up front, so
 * callers that know their bound pass it.
 */
export function kernelMemory(bytes: number, maxBytes = MAX_PAGES * WASM_PAGE): WebAssembly.Memory | null {
  const pages = Math.ceil(bytes / WASM_PAGE) + 1;
  if (pages >= MAX_PAGES) return null;
  const maximum = Math.min(MAX_PAGES, Math.max(pages, Math.ceil(maxBytes / WASM_PAGE) + 1));
  return new WebAssembly.Memory({ initial: pages, maximum, shared: true });
}

/** The kernels on `memory`. */
export function kernels(memory: WebAssembly.Memory): Kernels {
  return new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as Kernels;
}
