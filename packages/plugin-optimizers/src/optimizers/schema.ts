/**
 * Builders of the optimizers' option schemas. They keep literal types (`as const`), so each
 * optimizer's option type is derived from its schema (`ResolvedOptionsFromSchema`): one source of
 * truth for what is validated and what is typed.
 */
type Bounds = { readonly minimum?: number; readonly exclusiveMinimum?: number; readonly maximum?: number; readonly exclusiveMaximum?: number };

/** A numeric option with a default and bounds. */
export function numberOption<const B extends Bounds = {}>(defaultValue: number, description: string, bounds?: B) {
  return { type: 'number', default: defaultValue, description, ...(bounds as B) } as const;
}

export function booleanOption(defaultValue: boolean, description: string) {
  return { type: 'boolean', default: defaultValue, description } as const;
}

/** The options object: only the listed options, each with its default. */
export function optionsSchema<const P extends Record<string, unknown>>(properties: P) {
  return { type: 'object', additionalProperties: false, properties } as const;
}

export const learningRateOption = (defaultValue: number) =>
  numberOption(defaultValue, 'η, the learning rate', { exclusiveMinimum: 0 });

/** ε as tfjs uses it on float32 backends (`backend.epsilon()`, cpu and wasm) and Keras's default. */
export const EPSILON = 1e-7;
export const epsilonOption = () =>
  numberOption(EPSILON, 'ε, keeps the denominator away from 0', { minimum: 0 });

export const unitInterval = { minimum: 0, exclusiveMaximum: 1 } as const;
