export type { Layer as DerivativesLayer, LayerDerivatives, NodeRound, NodeState, PushShape } from './types.js';
export { registerDerivatives, registeredLayerClasses, derivativesFor, type Resolution } from './registry.js';
export { clampedPush, SubBatchFactors, type ClampFactors, type PushOptions } from './push.js';
export { perDirection, timesPerSample } from './util.js';
export { paramMap, paramPatches, paramPositions, scopeInput, inputPush, kernelRows, rowsKernel, depthwisePatches, separableDepthwiseMap } from './params.js';
