export { batchTensors, isDatasetLike, knownSize } from './dataset.js';
export type { BatchIterator, DatasetLike, XYBatch } from './dataset.js';
export { batchTaker, epochOrder, takeBatch, tensorBatches, type BatchTaker } from './tensor-batches.js';
export type { IndexedBatch, TensorBatchesOptions } from './tensor-batches.js';
export { isSampleSource, streamSamples, tensorSamples } from './samples.js';
export type { SampleSource } from './samples.js';
