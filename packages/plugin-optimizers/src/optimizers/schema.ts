import type { JsonSchema } from '../options.js';

type Bounds = { minimum?: number; exclusiveMinimum?: number; maximum?: number; exclusiveMaximum?: number };

/** A numeric option with a default and bounds. */
export function numberOption(defaultValue: number, description: string, bounds: Bounds = {}): JsonSchema {
  return { type: 'number', default: defaultValue, description, ...bounds };
}

export function booleanOption(defaultValue: boolean, description: string): JsonSchema {
  return { type: 'boolean', default: defaultValue, description };
}

/** The options object: only the listed options, each with its default. */
export function optionsSchema(properties: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', additionalProperties: false, properties };
}

export const learningRateOption = (defaultValue: number): JsonSchema =>
  numberOption(defaultValue, 'η, the learning rate', { exclusiveMinimum: 0 });

/** ε as tfjs uses it on float32 backends (`backend.epsilon()`, cpu and wasm) and Keras's default. */
export const EPSILON = 1e-7;
export const epsilonOption = (): JsonSchema =>
  numberOption(EPSILON, 'ε, keeps the denominator away from 0', { minimum: 0 });

export const unitInterval = { minimum: 0, exclusiveMaximum: 1 } as const;
