import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Trainer } from './trainer.js';

/** An option object that failed its plugin's JSON schema. */
export class OptionsError extends Error {
  constructor(readonly owner: string, readonly problems: { path: string; message: string }[]) {
    super(`invalid options for ${owner}:\n${problems.map((p) => `  ${p.path || '/'}: ${p.message}`).join('\n')}`);
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true });
const compiled = new WeakMap<object, ValidateFunction>();

/** Human wording of one ajv error, naming what was expected. */
export function describeAjvError(e: ErrorObject): { path: string; message: string } {
  const p = e.params as Record<string, unknown>;
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') message = `unknown option "${String(p.additionalProperty)}"`;
  if (e.keyword === 'enum') message = `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'required') {
    return { path: `${e.instancePath}/${String(p.missingProperty)}`, message: 'is required' };
  }
  return { path: e.instancePath, message };
}

/**
 * Validate (and fill defaults into a copy of) `options` against `schema`; throws OptionsError
 * naming every bad option's JSON pointer and what was expected.
 */
export function validateOptions<T>(owner: string, schema: object, options: unknown): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const copy = structuredClone(options ?? {});
  if (!validate(copy)) throw new OptionsError(owner, (validate.errors ?? []).map(describeAjvError));
  return copy as T;
}

/**
 * A trainer plugin: a name, a JSON schema for its options (checked at construction) and
 * `apply(trainer)`, where it declares what it needs and taps hooks under its name.
 */
export abstract class Plugin<Options extends object = object> {
  abstract readonly name: string;
  readonly options: Options;

  protected constructor(schema: object, options: unknown, owner: string) {
    this.options = validateOptions<Options>(owner, schema, options);
  }

  abstract apply(trainer: Trainer): void;
}
