/**
 * The network scope's Hessian products, split across the two cores: a worker thread running its
 * own tfjs on the training backend (wasm, cpu) takes the first stored rounds, this thread the rest.
 * The worker runs the text of the same functions (`denseForwardWith`, `squaredErrorFormGradient`,
 * `denseBackwardWith`), so every round's float32 product has the same bits, and it sums its
 * rounds into a float64 vector from zero in round order, exactly the prefix of this thread's sum:
 * continuing that sum with the later rounds in order gives the same float64 result as one thread.
 * Used for squared error on dense chains with the rounds kept on the device during a solve (the
 * case whose products the checkpoint of the paper's autoencoder spends its time in).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { workerBackend } from '@taylorlens/core';
import { squaredErrorFormGradient } from '../convex/output-curvature.js';
import { JobWorker } from '../threads/job-worker.js';
import { JOB_LOOP, tfjsWorkerPrelude } from '../threads/tfjs-worker.js';
import { denseBackwardWith, denseForwardWith, splitHostVector, type DenseChainPlan, type DenseRound } from './dense-chain.js';

type Matrix = { data: Float32Array; shape: [number, number] };

function source(prelude: string): string {
  return `${prelude}
const denseForwardWith = ${denseForwardWith.toString()};
const denseBackwardWith = ${denseBackwardWith.toString()};
const squaredErrorFormGradient = ${squaredErrorFormGradient.toString()};
const splitHostVector = ${splitHostVector.toString()};
let problem = null;
const t2 = (m) => (m ? tf.tensor2d(m.data, m.shape) : null);
function close() {
  if (!problem) return;
  for (const r of problem.rounds) tf.dispose([...r.inputs, ...r.kernels, ...r.inputsT, ...r.kernelsT, ...r.masks.filter(Boolean)]);
  problem = null;
}
function handle(m) {
  switch (m.op) {
    case 'rounds': {
      close();
      const rounds = m.rounds.map((r) => {
        const inputs = r.inputs.map(t2);
        const kernels = r.kernels.map(t2);
        return { inputs, kernels, inputsT: inputs.map((t) => tf.transpose(t)), kernelsT: kernels.map((t) => tf.transpose(t)), masks: r.masks.map(t2) };
      });
      problem = { plan: m.plan, gamma: m.gamma, shapes: m.shapes, rounds };
      return null;
    }
    case 'product': {
      const { plan, gamma, shapes, rounds } = problem;
      const P = m.v.length;
      const parts = splitHostVector(tf, shapes, m.v);
      const grad = new Float64Array(P);
      try {
        for (const r of rounds) {
          const g = tf.tidy(() => {
            const w = squaredErrorFormGradient(tf, gamma, denseForwardWith(tf, plan, r, parts));
            return denseBackwardWith(tf, plan, r, w);
          });
          try {
            // In place: wasm's heap (before the next op) or cpu's own array; dataSync would copy.
            const backend = tf.backend();
            const gv = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(g) : g.dataSync();
            for (let k = 0; k < P; k++) grad[k] += gv[k];
          } finally {
            g.dispose();
          }
        }
      } finally {
        tf.dispose(parts);
      }
      return grad;
    }
    case 'close': close(); return null;
    case 'tensors': return tf.memory().numTensors;
  }
  throw new Error('unknown job ' + m.op);
}${JOB_LOOP}`;
}

/** The worker's half of a solve's Hessian products (see the file comment); null where no worker can run. */
export class NetworkProductsWorker {
  private constructor(private readonly thread: JobWorker<Float64Array | number | null>, readonly rounds: number) {}

  /**
   * Hand `rounds` (a dense chain's, the solve's first ones) to a fresh worker; `variables` the
   * parameters' shapes in order. Null unless the active backend runs on a worker thread.
   */
  static start(plan: DenseChainPlan, gamma: number, variables: readonly number[][], rounds: readonly DenseRound[]): NetworkProductsWorker | null {
    const backend = workerBackend();
    if (!backend || rounds.length === 0) return null;
    const thread = new JobWorker<Float64Array | number | null>('network products worker', source(tfjsWorkerPrelude(backend)), () => ({ init: true }));
    const matrix = (t: tf.Tensor | null): Matrix | null => (t ? { data: t.dataSync() as Float32Array, shape: t.shape as [number, number] } : null);
    const job = {
      op: 'rounds', plan, gamma,
      shapes: variables,
      rounds: rounds.map((r) => ({ inputs: r.inputs.map(matrix), kernels: r.kernels.map(matrix), masks: r.masks.map(matrix) })),
    };
    const worker = new NetworkProductsWorker(thread, rounds.length);
    worker.failure = thread.run(job).then(() => null, (e: Error) => e);
    return worker;
  }

  /** The first job's failure, if any (reported with the next product). */
  private failure: Promise<Error | null> = Promise.resolve(null);

  /** `Σ_{n < rounds} J_nᵀ S J_n v` summed in float64 in round order (v as this thread's products read it, float32). */
  product(v: Float32Array): Promise<Float64Array> {
    // Posted at once, so that the worker works while this thread does its own share.
    const job = this.thread.run({ op: 'product', v }) as Promise<Float64Array>;
    return this.failure.then((failed) => {
      if (!failed) return job;
      job.catch(() => undefined);
      throw failed;
    });
  }

  /** Tensors the worker's tfjs holds (for the leak tests). */
  async tensors(): Promise<number> {
    return (await this.thread.run({ op: 'tensors' })) as number;
  }

  dispose(): void {
    void this.thread.run({ op: 'close' }).catch(() => undefined).finally(() => this.thread.dispose());
  }
}
