import type * as tf from '@tensorflow/tfjs-core';

/** Tensors keyed by variable name (tfjs `Variable.name`), the way tfjs optimizers key state. */
export type NamedTensors = Record<string, tf.Tensor>;

/** What an optimizer step reports so that instruments work with any optimizer. */
export interface StepReport {
  /** Learning rate used for this step (scalar), when the optimizer has one. */
  learningRate?: number;
  /** The update actually applied, `W_{n+1} − W_n`, per variable. Owned by the trainer: disposed after `afterStep`. */
  direction?: NamedTensors;
  /** Effective per-weight step size (|update| / |gradient| where defined), per variable. Disposed after `afterStep`. */
  stepSize?: NamedTensors;
}

/**
 * An optimizer that can report what its step did. The trainer prefers this over
 * `applyGradients` when present; plugin-optimizers implements it, third parties may too.
 */
export interface InstrumentedOptimizer {
  applyGradientsReported(
    grads: NamedTensors,
    extra: { round: number; loss: number | undefined },
  ): StepReport;
}

export function isInstrumentedOptimizer(o: unknown): o is InstrumentedOptimizer {
  return typeof (o as InstrumentedOptimizer | null)?.applyGradientsReported === 'function';
}
