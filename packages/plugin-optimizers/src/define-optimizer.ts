import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@taylorlens/core';
import { chain } from './chain.js';
import { compileOptions, type JsonSchema } from './options.js';
import { TAYLOR_OPTIMIZER, TaylorOptimizer } from './taylor-optimizer.js';
import type { AnyTransformation, GradientTransformation, State, UpdateExtra, UpdateResult } from './transform.js';

interface DefinitionBase {
  /** Serialization class name (tfjs `className`), unique in the process, e.g. `"mylib.Lion"`. */
  name: string;
  /** JSON schema of the options; `default`s are filled in, unknown options are rejected if it says so. */
  schema: JsonSchema;
}

/** An optimizer built by chaining pieces chosen from its validated options. */
export interface PiecesDefinition<O> extends DefinitionBase {
  pieces(options: O): AnyTransformation[];
}

/** An optimizer written directly as one transformation (see `GradientTransformation`). */
export interface InitUpdateDefinition<O> extends DefinitionBase {
  init(params: NamedTensors, options: O): State;
  update(updates: NamedTensors, state: State, params: NamedTensors, extra: UpdateExtra, options: O): UpdateResult;
  dispose?(): void;
}

export type OptimizerDefinition<O> = PiecesDefinition<O> | InitUpdateDefinition<O>;

/** The class `defineOptimizer` makes; `new` it with options, or let tfjs's `fromConfig` do so. */
export interface OptimizerClass<O extends object> {
  new (options?: Partial<O>): TaylorOptimizer<O>;
  readonly className: string;
}

/** `(options) => optimizer`, carrying its class, class name and schema. */
export type OptimizerFactory<O extends object> = ((options?: Partial<O>) => TaylorOptimizer<O>) & {
  readonly className: string;
  readonly schema: JsonSchema;
  readonly optimizerClass: OptimizerClass<O>;
};

/**
 * Defines an optimizer: a `TaylorOptimizer` subclass named `definition.name`, registered with
 * `tf.serialization.registerClass` so models compiled with it save and load with their optimizer.
 * Options are validated against `definition.schema` with ajv (defaults applied); errors name the
 * option's JSON pointer and what was expected.
 */
export function defineOptimizer<O extends object>(definition: OptimizerDefinition<O>): OptimizerFactory<O> {
  const { name, schema } = definition;
  if (typeof name !== 'string' || name.length === 0) throw new Error('defineOptimizer: name must be a non-empty string');
  const validate = compileOptions<O>(name, schema);
  const makeTransform = (options: O): GradientTransformation =>
    'pieces' in definition ? chain(...definition.pieces(options)) : ownTransformation(definition, options);

  const recipe = { validate, makeTransform };
  const optimizerClass = class extends TaylorOptimizer<O> {
    static override get className(): string {
      return name;
    }
    constructor(options?: Partial<O>) {
      super(recipe, options);
    }
  };
  register(optimizerClass);
  const factory = (options?: Partial<O>) => new optimizerClass(options);
  return Object.assign(factory, { className: name, schema, optimizerClass });
}

function ownTransformation<O>(definition: InitUpdateDefinition<O>, options: O): GradientTransformation {
  return {
    name: definition.name,
    init: (params) => definition.init(params, options),
    update: (updates, state, params, extra) => definition.update(updates, state, params, extra, options),
    dispose: () => definition.dispose?.(),
  };
}

/** Registers with tfjs, refusing to shadow a class someone else registered under the same name. */
function register<O extends object>(cls: OptimizerClass<O>): void {
  const existing = tf.serialization.SerializationMap.getMap().classNameMap[cls.className]?.[0] as unknown as
    | Record<symbol, unknown>
    | undefined;
  if (existing !== undefined && existing[TAYLOR_OPTIMIZER] !== true) {
    throw new Error(`defineOptimizer: "${cls.className}" is already registered with tfjs by another class; pick another name`);
  }
  tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
}
