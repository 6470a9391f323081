export { encodeNpy, decodeNpy, readNpyHeader } from './npy.js';
export type { NpyArray, NpyData, NpyDtype, NpyInput, NpyLayout } from './npy.js';
export { fsyncDir, writeFileAtomic, writeFileSynced, writeJsonAtomic, writeNpyAtomic } from './atomic.js';
export { JsonlWriter, readJsonl } from './jsonl.js';
export type { JsonlWriterOptions, JsonlContents } from './jsonl.js';
export { RunDir, RUN_JSON, METRICS_JSONL, METRICS_CSV } from './run-dir.js';
