// The clamped product lives in core (one home for the Taylor math); re-exported for the plugin's modules.
export { clampedPush, SubBatchFactors, type ClampFactors, type PushOptions } from '@taylorlens/core';
