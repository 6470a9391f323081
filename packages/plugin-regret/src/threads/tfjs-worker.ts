import type { WorkerBackend } from '@taylorlens/core';

/**
 * The start of a worker source that runs its own tfjs on the training thread's backend (wasm or
 * cpu: core's `workerBackend`): the same kernels, so the same float32 results as on this thread.
 * Defines `parentPort`, `tf` and `ready` (a promise that resolves once the backend is up).
 */
export function tfjsWorkerPrelude(b: WorkerBackend): string {
  return `
const { parentPort } = require('node:worker_threads');
const tf = require(${JSON.stringify(b.core)});
const backend = require(${JSON.stringify(b.backend)});
${b.wasmDir ? `backend.setWasmPaths(${JSON.stringify(b.wasmDir)});` : ''}
tf.env().set('PROD', true);
const ready = tf.setBackend(${JSON.stringify(b.name)}).then(async (ok) => { if (!ok) throw new Error('backend ${b.name} did not start'); await tf.ready(); });`;
}

/**
 * The end of such a source: jobs `{ id, ... }` answered in order by `handle(job)` (a function the
 * source defines), after the backend is ready; `init` messages are ignored.
 */
export const JOB_LOOP = `
let queue = ready;
parentPort.on('message', (m) => {
  if (m.init) return;
  queue = queue.then(() => handle(m)).then((result) => parentPort.postMessage({ id: m.id, result }))
    .catch((e) => parentPort.postMessage({ id: m.id, error: String(e && e.message || e) }));
});`;
