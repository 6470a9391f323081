/**
 * The probe set: `D` fixed inputs whose activation patterns every snapshot records.
 *
 * Either the caller hands the probe tensor itself, or the plugin draws `D` samples from the
 * training data with a seeded generator (`SeededRandom(seed).sample(samples, D)`, indices in
 * increasing order), or takes the `probeIndices` it is given. Neither the trainer's hooks nor a
 * tfjs callback see the whole training set: the trainer plugin notes the x given to
 * `trainer.fit`, and in `model.fit` the caller passes it with `setTrainingData(x)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '@taylorlens/core';

export type ProbeSource = 'given' | 'drawn' | 'indices';

export interface ProbeSpec {
  source: ProbeSource;
  /** Indices into the training data (drawn or given); null for a probe tensor passed in. */
  indices: number[] | null;
}

/** The `D` indices to draw from `samples` training samples. */
export function probeIndices(samples: number, opts: { probeSize: number; probeIndices?: number[]; seed: number }): ProbeSpec {
  if (opts.probeIndices) {
    const bad = opts.probeIndices.find((i) => i >= samples);
    if (bad !== undefined) throw new RangeError(`activation: probe index ${bad} is outside the ${samples} training samples`);
    return { source: 'indices', indices: [...opts.probeIndices] };
  }
  return { source: 'drawn', indices: new SeededRandom(opts.seed).sample(samples, opts.probeSize) };
}

/** Gathers the probe inputs from the training data; the caller owns the result. */
export function gatherProbe(x: tf.Tensor, indices: readonly number[]): tf.Tensor {
  return tf.tidy(() => tf.gather(x, tf.tensor1d(Int32Array.from(indices), 'int32')));
}

/** Throws unless `probe` is `[D, ...inputShape]` with `D ≥ 1`. */
export function checkProbeShape(probe: tf.Tensor, inputShape: readonly number[]): void {
  const per = probe.shape.slice(1);
  if (probe.shape[0] < 1 || per.length !== inputShape.length || per.some((d, i) => d !== inputShape[i])) {
    throw new Error(`activation: probe has shape [${probe.shape.join(', ')}], expected [D, ${inputShape.join(', ')}] with D ≥ 1`);
  }
}
