import * as tf from '@tensorflow/tfjs-core';
import { hostView, workerBackend, type WorkerBackend } from '@taylorlens/core';
import { JobWorker, MAX_IN_FLIGHT } from '../threads/job-worker.js';
import { JOB_LOOP, tfjsWorkerPrelude } from '../threads/tfjs-worker.js';
import { addBlockSymmetric, addUnpackedKron, outerRowsWith, packedIndex, type BlockLayout } from './packed.js';
import type { HostAccumulatorFactory, PartialSums } from './statistics.js';

function source(b: WorkerBackend): string {
  return `${tfjsWorkerPrelude(b)}
const packedIndex = ${packedIndex.toString()};
const addUnpackedKron = ${addUnpackedKron.toString()};
const addBlockSymmetric = ${addBlockSymmetric.toString()};
const outerRowsWith = ${outerRowsWith.toString()};
// A buffer's A as denseLayerReducer and denseNeuronReducer form it.
function reduceA(s, m) {
  return tf.tidy(() => {
    const X = tf.tensor2d(m.X, m.xs);
    const W = tf.tensor2d(m.W, m.ws);
    if (s.kind === 'layer') return tf.matMul(tf.transpose(outerRowsWith(tf, X, s.layout.parts)), W);
    if (m.ws[1] === 1) return tf.reshape(tf.matMul(tf.transpose(tf.mul(X, W)), X), [1, -1]);
    return tf.matMul(tf.transpose(W), outerRowsWith(tf, X, s.layout.parts));
  });
}
const sums = new Map();
function handle(m) {
  const s = sums.get(m.acc);
  switch (m.op) {
    case 'open': sums.set(m.acc, { kind: m.kind, A: m.A, layout: m.layout, width: m.width, dev: null }); return null;
    case 'add': {
      const r = reduceA(s, m);
      if (s.dev) { const sum = tf.add(s.dev, r); tf.dispose([s.dev, r]); s.dev = sum; } else s.dev = r;
      return null;
    }
    case 'move': {
      if (!s.dev) return null;
      if (s.kind === 'layer') addUnpackedKron(s.dev.dataSync(), s.layout, s.width, s.A);
      else addBlockSymmetric(s.dev.dataSync(), s.width, s.layout, s.A);
      const zero = tf.zerosLike(s.dev);
      s.dev.dispose();
      s.dev = zero;
      return null;
    }
    case 'partial': return s.dev ? { data: s.dev.dataSync().slice(), shape: s.dev.shape } : null;
    case 'setPartial': if (s.dev) s.dev.dispose(); s.dev = m.partial ? tf.tensor(m.partial.data, m.partial.shape) : null; return null;
    case 'close': if (s && s.dev) s.dev.dispose(); sums.delete(m.acc); return null;
    case 'tensors': return tf.memory().numTensors;
  }
  throw new Error('unknown job ' + m.op);
}${JOB_LOOP}`;
}

/** The thread all such sums share (one tfjs instance), started with the first and stopped with the last. */
let shared: { thread: JobWorker<PartialSums | number | null>; backend: string; users: number } | null = null;
let nextId = 0;

/** Which statistics: a dense layer scope (p units), or K neurons (or unit blocks) of one dense layer. */
export type OffThreadReduce = { kind: 'layer'; layout: BlockLayout; p: number } | { kind: 'neurons'; layout: BlockLayout; K: number };

/**
 * The `A` of a dense layer's statistics summed on a worker thread (the second core) with the
 * backend's own kernels — the same float32 matmul of the block-layout outer products with the
 * packed Grams (denseLayerReducer) or the neurons' weights (denseNeuronReducer), the same float32
 * running sum, moved into the float64 totals at the same rounds — so the same bits as on this
 * thread, while training goes on. Null (the device path) unless the active backend can run on a
 * worker (wasm, cpu).
 */
export function sumsOffThread(reduce: OffThreadReduce): HostAccumulatorFactory {
  const width = reduce.kind === 'layer' ? reduce.p : reduce.K;
  const problems = reduce.kind === 'layer' ? 1 : reduce.K;
  return {
    create: (length) => {
      const backend = workerBackend();
      if (!backend) return null;
      if (shared && shared.backend !== backend.name) return null; // one backend per thread
      shared ??= { thread: new JobWorker<PartialSums | number | null>('statistics sums worker', source(backend), () => ({ init: true })), backend: backend.name, users: 0 };
      const own = shared;
      own.users++;
      const acc = nextId++;
      const A = new Float64Array(new SharedArrayBuffer(8 * length));
      let failure: Error | null = null;
      const raise = () => { if (failure) throw failure; };
      const post = (job: Record<string, unknown>, transfer: ArrayBuffer[] = []) => own.thread.run({ acc, ...job }, transfer);
      const track = (job: Promise<unknown>) => { job.catch((e: Error) => { failure ??= e; }); };
      const drain = async () => {
        await own.thread.idle();
        raise();
      };
      track(post({ op: 'open', kind: reduce.kind, A, layout: reduce.layout, width }));
      let disposed = false;
      const inFlight: Promise<void>[] = [];
      return {
        A,
        extraBytes: 0,
        take: (rounds) => {
          if (failure) return Promise.reject(failure);
          // x̃ and the packed Grams (a layer) or the neurons' weights κn.
          const X = concatData(rounds, 0);
          const W = concatData(rounds, 1);
          const job = post({ op: 'add', X: X.data, xs: X.shape, W: W.data, ws: W.shape }, [X.data.buffer as ArrayBuffer, W.data.buffer as ArrayBuffer]);
          track(job);
          // This accumulator's buffers in flight (the thread serves several).
          inFlight.push(job.then(() => undefined, () => undefined).finally(() => { inFlight.shift(); }));
          return inFlight.length > MAX_IN_FLIGHT ? inFlight[0].then(raise) : Promise.resolve();
        },
        moveSums: () => track(post({ op: 'move' })),
        addUpper: () => Promise.reject(new Error('statistics sums worker: the device never forms A beside it')),
        settle: drain,
        partial: {
          read: async () => {
            await drain();
            return (await post({ op: 'partial' })) as PartialSums | null;
          },
          write: (partial) => track(post({ op: 'setPartial', partial })),
        },
        matrix: (k) => A.subarray((k * length) / problems, ((k + 1) * length) / problems),
        shared: () => null,
        writeTotals: () => undefined,
        restore: () => undefined,
        dispose: () => {
          if (disposed) return;
          disposed = true;
          track(post({ op: 'close' }));
          if (--own.users === 0) {
            // Later accumulators start a thread of their own; this one stops once its jobs are done.
            if (shared === own) shared = null;
            void drain().catch(() => undefined).finally(() => own.thread.dispose());
          }
        },
      };
    },
  };
}

/** Tensors the statistics sums worker's tfjs holds (one running sum per open statistics object), or null without a thread. */
export async function sumsWorkerTensors(): Promise<number | null> {
  return shared ? (await shared.thread.run({ op: 'tensors', acc: -1 })) as number : null;
}

/** Piece `j` of the buffered rounds read back and stacked along the samples `[S, n]`. */
function concatData(rounds: readonly tf.Tensor[][], j: number): { data: Float32Array; shape: [number, number] } {
  const n = rounds[0][j].shape[1]!;
  const S = rounds.reduce((s, r) => s + r[j].shape[0], 0);
  const data = new Float32Array(S * n);
  let at = 0;
  for (const r of rounds) {
    const d = hostView(r[j]) ?? (r[j].dataSync() as Float32Array); // copied into data at once
    data.set(d, at);
    at += d.length;
  }
  return { data, shape: [S, n] };
}
