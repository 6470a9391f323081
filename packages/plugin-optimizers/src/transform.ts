import type * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';

/** One variable's state inside one piece, slot name → tensor (e.g. `{ mu, nu }` for Adam). */
export type Slots = Record<string, tf.Tensor>;

/** A piece's state: variable name → that variable's slots. */
export type State<S extends Slots = Slots> = Record<string, S>;

/** A learning rate that depends on the step: `step` counts the updates applied before this one (0 first). */
export type Schedule = (step: number) => number;

/** What every update sees besides the gradients. */
export interface UpdateExtra {
  /** Updates applied before this one: 0 on the first step (Adam's t is `step + 1`). */
  step: number;
  /** Loss of the batch the gradients came from, when the caller knows it. */
  loss?: number;
  /** The trainer's round, when called by the trainer. */
  round?: number;
  /** True when the caller wants `scale` (for `StepReport.stepSize`); pieces skip that work otherwise. */
  report: boolean;
}

/**
 * A per-weight factor a piece multiplied its input by: a number (the same for every weight)
 * or a tensor broadcastable to the variable.
 */
export type Scale = number | tf.Tensor;

export interface UpdateResult<S extends Slots = Slots> {
  /** The transformed updates, one per variable in the input. */
  updates: NamedTensors;
  /** New state for the variables in the input (other variables keep theirs). */
  state: State<S>;
  /**
   * Only when `extra.report`: the positive diagonal preconditioner this piece applied, i.e.
   * `out = scale ⊙ d` where `d` is the piece's input (or the direction it derived from it, such
   * as Adam's first moment or RProp's sign). Pieces that only change the direction (momentum,
   * sign, noise, weight decay) leave it out. The optimizer's `stepSize` is the product over pieces.
   */
  scale?: Record<string, Scale>;
  /** The learning rate used this step, for `StepReport.learningRate`. */
  learningRate?: number;
  /**
   * When present, the piece's true output is `updates × factor`: a piece that would end with a
   * multiply by a per-step number leaves it to the chain, which folds it with neighbouring scalar
   * pieces (the learning rate) into one multiply. Whoever consumes a result must apply it.
   */
  factor?: number;
}

/** What a pure scalar piece (u ← c_t·u) does at a step, so a chain can fold it into one multiply. */
export interface ScalarFactor {
  factor: number;
  learningRate?: number;
  /** |factor| or whatever the piece reports as its scale. */
  scale?: number;
}

/**
 * An optax-style gradient transformation: pure `init`/`update` over per-variable state.
 * `update` runs inside the optimizer's `tf.tidy`; it must not dispose its inputs or the old state
 * (the optimizer disposes old state tensors that the new state does not reuse).
 */
export interface GradientTransformation<S extends Slots = Slots> {
  /** Short name, used to prefix state slots in checkpoints. */
  readonly name: string;
  init(params: NamedTensors): State<S>;
  update(updates: NamedTensors, state: State<S>, params: NamedTensors, extra: UpdateExtra): UpdateResult<S>;
  /**
   * Only for pieces whose whole effect is multiplying every update by one number per step (the
   * learning rate): that number. Chains use it instead of `update`, saving a pass over the weights.
   */
  scalarFactor?(extra: UpdateExtra): ScalarFactor;
  /** Free tensors the piece caches (scalar constants). */
  dispose?(): void;
}

/** A piece whose state shape is not known statically (the element type of `chain`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTransformation = GradientTransformation<any>;
