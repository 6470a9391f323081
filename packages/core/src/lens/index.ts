export { instrument, Lens } from './lens.js';
export type { InstrumentOptions, TrainingPlan } from './lens.js';
export { LensCallback, shuffleError } from './callback.js';
export type { BatchSource, TakenBatch } from './callback.js';
export type { WrappedDataset } from './batch-queue.js';
export { fit, fitWith } from './fit.js';
export type { DropInFitArgs, SeededFitArgs } from './fit.js';
export { UsersOwnStep } from './users-own-step.js';
