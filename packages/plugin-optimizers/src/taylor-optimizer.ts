import * as tf from '@tensorflow/tfjs-core';
import type { InstrumentedOptimizer, NamedTensors, ReportingOptimizer, StepReport } from '@taylorlens/core';
import { applyFactor } from './chain.js';
import { LastScalar } from './constants.js';
import type { GradientTransformation, Scale, Slots, State, UpdateExtra } from './transform.js';

/** A named tensor as tfjs optimizers' `getWeights`/`setWeights` use them (not exported by tfjs-core's index). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Marks classes made by `defineOptimizer` (works across copies of this package in one process). */
export const TAYLOR_OPTIMIZER = Symbol.for('taylorlens.optimizer-class');

/** What `defineOptimizer` hands each instance: how to check options and build the transformation. */
export interface OptimizerRecipe<O> {
  validate(options: unknown): O;
  makeTransform(options: O): GradientTransformation;
}

/**
 * A tfjs `Optimizer` driven by a gradient transformation. Works as `model.compile({ optimizer })`
 * (through `applyGradients`, which does no reporting work) and as the trainer's step (through
 * `applyGradientsReported`). State is keyed by variable name; `getWeights`/`setWeights` checkpoint
 * it with the step count, so a resumed run continues bit for bit.
 *
 * The step report (tensors owned by the caller):
 * - `direction[v]` = the update added to v this step, W_{n+1} − W_n (up to the rounding of that one addition);
 * - `stepSize[v]` = the per-weight step size, the product of the diagonal preconditioners the pieces
 *   applied: Δw = −stepSize ⊙ d, where d is the direction the optimizer follows before per-weight
 *   scaling — the gradient for SGD, AdaGrad and RMSProp (so stepSize = |Δw|/|g| exactly), the
 *   momentum or bias-corrected first moment for momentum methods and Adam, sign(g) for signSGD and
 *   RProp. Additive terms (weight decay, gradient noise) are not part of it. No division by g, so
 *   no blow-up where g ≈ 0. Shaped like the variable.
 * - `learningRate` = η_t of this step.
 */
export class TaylorOptimizer<O extends object = Record<string, unknown>> extends tf.Optimizer implements InstrumentedOptimizer, ReportingOptimizer {
  static readonly [TAYLOR_OPTIMIZER] = true;
  /** tf.Optimizer duck-types `instanceof` (any object with minimize/applyGradients); ours is the real check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
  static get className(): string {
    return 'taylorlens.TaylorOptimizer';
  }

  /** The validated options, defaults filled in: what `getConfig` returns. */
  readonly options: Readonly<O>;
  private readonly transform: GradientTransformation;
  private state: State = {};
  /** State from `setWeights` not yet claimed by a step, in checkpoint order. */
  private restored = new Map<string, Slots>();
  private slotNames: string[] | undefined;
  private readonly factorScalar = new LastScalar();
  /** While on (`keepStepReports`), plain steps report too and the latest report waits here. */
  private keepReports = false;
  private kept: StepReport | undefined;

  protected constructor(recipe: OptimizerRecipe<O>, options: unknown) {
    super();
    this.options = recipe.validate(options);
    this.transform = recipe.makeTransform(this.options);
  }

  /** One step: the path `model.fit` and `minimize` take; it reports only while `keepStepReports` is on. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const grads: NamedTensors = {};
    if (Array.isArray(variableGradients)) {
      for (const { name, tensor } of variableGradients) grads[name] = tensor;
    } else {
      Object.assign(grads, variableGradients);
    }
    if (!this.keepReports) {
      this.step(grads, { report: false });
      return;
    }
    this.dropKept();
    this.kept = this.step(grads, { report: true });
  }

  /** Report the steps others ask for (a hand-written loop's `minimize`, model.fit): taylorlens's `instrument` turns this on. */
  keepStepReports(on: boolean): void {
    this.keepReports = on;
    if (!on) this.dropKept();
  }

  /** The latest step's report, once; its tensors become the caller's. */
  takeStepReport(): StepReport | undefined {
    const r = this.kept;
    this.kept = undefined;
    return r;
  }

  private dropKept(): void {
    const r = this.takeStepReport();
    if (r) for (const m of [r.direction, r.stepSize]) if (m) tf.dispose(Object.values(m));
  }

  /** One step that also returns what it did; the returned tensors belong to the caller. */
  applyGradientsReported(grads: NamedTensors, extra: { round: number; loss: number | undefined }): StepReport {
    return this.step(grads, { report: true, round: extra.round, loss: extra.loss });
  }

  private step(gradients: NamedTensors, how: { report: boolean; round?: number; loss?: number }): StepReport {
    const { grads, params } = this.resolveVariables(gradients);
    const names = Object.keys(grads);
    this.initialiseState(params);
    const extra: UpdateExtra = { step: this.iterations, report: how.report };
    if (how.loss !== undefined) extra.loss = how.loss;
    if (how.round !== undefined) extra.round = how.round;
    const previous = names.flatMap((name) => Object.values(this.state[name]));
    let learningRate: number | undefined;

    const out = tf.tidy(() => {
      const result = this.transform.update(grads, this.state, params, extra);
      learningRate = result.learningRate;
      const updates = applyFactor(result.updates, result.factor, this.factorScalar);
      for (const name of names) (params[name] as tf.Variable).assign(tf.add(params[name], updates[name]));
      // keep: the caller may be inside its own tidy (model.fit is), which must not dispose our state.
      for (const name of names) keepAll(result.state[name]);
      if (!how.report) return { state: result.state };
      // Report tensors go to the caller, who disposes them: never hand out our state or their gradients.
      const owned = new Set<tf.Tensor>(Object.values(grads));
      for (const name of names) for (const t of Object.values(result.state[name] ?? {})) owned.add(t);
      const fresh = (t: tf.Tensor) => (owned.has(t) ? tf.clone(t) : t);
      const direction: NamedTensors = {};
      for (const name of names) direction[name] = fresh(updates[name]);
      keepAll(direction);
      if (!result.scale) return { state: result.state, direction };
      const stepSize: NamedTensors = {};
      for (const name of names) stepSize[name] = fresh(asShape(result.scale[name] ?? 1, params[name].shape));
      keepAll(stepSize);
      return { state: result.state, direction, stepSize };
    });

    const kept = new Set<tf.Tensor>();
    for (const name of names) {
      const slots = out.state[name] ?? {};
      for (const t of Object.values(slots)) kept.add(t);
      this.state[name] = slots;
    }
    for (const t of previous) if (!kept.has(t)) t.dispose();
    this.incrementIterations();

    const report: StepReport = {};
    if (learningRate !== undefined) report.learningRate = learningRate;
    if ('direction' in out) report.direction = out.direction;
    if ('stepSize' in out) report.stepSize = out.stepSize;
    return report;
  }

  private resolveVariables(gradients: NamedTensors): { grads: NamedTensors; params: NamedTensors } {
    const registered = tf.engine().registeredVariables;
    const grads: NamedTensors = {};
    const params: NamedTensors = {};
    for (const name of Object.keys(gradients)) {
      const g = gradients[name];
      if (g == null) continue; // tfjs skips variables without a gradient too
      const variable = registered[name];
      if (variable === undefined) throw new Error(`${this.getClassName()}: no tfjs variable is named "${name}"`);
      grads[name] = g;
      params[name] = variable;
    }
    return { grads, params };
  }

  /**
   * State for variables seen for the first time: the checkpointed state of the same name if
   * `setWeights` restored one; else the first restored state whose name is not in this step (a
   * model rebuilt in this process gets suffixed variable names; tfjs optimizers match by order
   * too); else the transformation's `init`.
   */
  private initialiseState(params: NamedTensors): void {
    const fresh: NamedTensors = {};
    for (const name of Object.keys(params)) if (this.state[name] === undefined) fresh[name] = params[name];
    if (Object.keys(fresh).length === 0) return;
    const created = tf.tidy(() => {
      const state = this.transform.init(fresh);
      for (const name of Object.keys(state)) keepAll(state[name]);
      return state;
    });
    for (const name of Object.keys(fresh)) {
      const initial = created[name] ?? {};
      const claimed = this.restored.has(name) ? name : [...this.restored.keys()].find((n) => params[n] === undefined);
      if (claimed === undefined) {
        this.state[name] = initial;
        continue;
      }
      const slots = this.restored.get(claimed)!;
      this.restored.delete(claimed);
      const fits = Object.keys(initial).every((slot) => sameShape(slots[slot]?.shape, initial[slot].shape));
      tf.dispose(Object.values(initial));
      if (!fits) {
        tf.dispose(Object.values(slots));
        throw new Error(`${this.getClassName()}: checkpointed state of "${claimed}" does not fit variable "${name}" ` +
          `(shape [${fresh[name].shape}]); state is matched by variable name, then in order`);
      }
      this.state[name] = slots;
    }
  }

  /** The slot names every variable has (from `init` on a probe), to check checkpoints against. */
  private expectedSlots(): string[] {
    if (this.slotNames === undefined) {
      this.slotNames = tf.tidy(() => Object.keys(this.transform.init({ probe: tf.scalar(0) }).probe ?? {})).sort();
    }
    return this.slotNames;
  }

  /**
   * tfjs-style weights: `iter` (the step count, int32) first, then one entry per variable and slot,
   * named `<variable name>/<slot>`. The tensors are the caller's (clones sharing our data).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    const entries = [...Object.entries(this.state), ...this.restored.entries()];
    for (const [variable, slots] of entries) {
      for (const slot of Object.keys(slots)) weights.push({ name: `${variable}/${slot}`, tensor: tf.clone(slots[slot]) });
    }
    return weights;
  }

  /**
   * Restores what `getWeights` returned (copies it; the caller may dispose its tensors). Each
   * variable claims its state at its next step, by name, else in checkpoint order — so a model
   * rebuilt in the same process (whose layers get suffixed names) resumes too.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (weightValues[0]?.name !== 'iter') {
      throw new Error(`${this.getClassName()}.setWeights: the first weight must be "iter" (the step count), got "${weightValues[0]?.name}"`);
    }
    const expected = this.expectedSlots();
    const incoming = new Map<string, Record<string, tf.Tensor>>(); // keeps checkpoint order
    for (const { name, tensor } of weightValues.slice(1)) {
      const cut = name.lastIndexOf('/');
      const variable = name.slice(0, cut);
      const slot = name.slice(cut + 1);
      if (cut < 0 || !expected.includes(slot)) {
        throw new Error(`${this.getClassName()}.setWeights: unexpected weight "${name}"; slots are ${expected.map((s) => `<variable>/${s}`).join(', ') || 'none'}`);
      }
      if (!incoming.has(variable)) incoming.set(variable, {});
      incoming.get(variable)![slot] = tensor;
    }
    for (const [variable, slots] of incoming) {
      const missing = expected.filter((slot) => slots[slot] === undefined);
      if (missing.length > 0) throw new Error(`${this.getClassName()}.setWeights: "${variable}" lacks ${missing.join(', ')}`);
    }
    await this.extractIterations(weightValues);
    this.disposeState();
    for (const [variable, given] of incoming) {
      const slots: Slots = {};
      for (const slot of expected) slots[slot] = tf.keep(tf.clone(given[slot]));
      this.restored.set(variable, slots);
    }
  }

  override getConfig(): tf.serialization.ConfigDict {
    return structuredClone(this.options) as unknown as tf.serialization.ConfigDict;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // tfjs-layers' deserializer adds `customObjects` to the config it passes; it is not an option.
    const { customObjects: _ignored, ...options } = config;
    return new cls(options);
  }

  override dispose(): void {
    this.dropKept();
    this.disposeState();
    this.transform.dispose?.();
    this.factorScalar.dispose();
    super.dispose();
  }

  private disposeState(): void {
    for (const slots of Object.values(this.state)) tf.dispose(Object.values(slots));
    for (const slots of this.restored.values()) tf.dispose(Object.values(slots));
    this.state = {};
    this.restored.clear();
  }
}

/** Marks tensors to survive every enclosing tidy (not only ours). */
function keepAll(tensors: Record<string, tf.Tensor> | undefined): void {
  if (tensors) for (const t of Object.values(tensors)) tf.keep(t);
}

function sameShape(a: number[] | undefined, b: number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A scale as a tensor shaped like its variable. */
function asShape(scale: Scale, shape: number[]): tf.Tensor {
  if (typeof scale === 'number') return tf.fill(shape, scale, 'float32');
  return sameShape(scale.shape, shape) ? scale : tf.broadcastTo(scale, shape);
}
