import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { ModelAnatomy } from './anatomy.js';
import type { TaylorLoss } from './losses.js';
import type { Trainer } from './trainer.js';

/**
 * Option types derived from a plugin's JSON schema (declared `as const`), so the schema is the one
 * source of truth. `OptionsFromSchema` is what a user writes (options with a default may be left
 * out); `ResolvedOptionsFromSchema` is what the plugin sees after validation (ajv fills defaults).
 */
export type OptionsFromSchema<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;
export type ResolvedOptionsFromSchema<S extends JSONSchema> = FromSchema<S>;
export type { JSONSchema };

/** An option object that failed its plugin's JSON schema. */
export class OptionsError extends Error {
  override readonly name = 'OptionsError';
  constructor(readonly owner: string, readonly problems: { path: string; message: string }[]) {
    super(`${owner}: invalid options: ${problems.map((p) => `${p.path || '(options)'} ${p.message}`).join('; ')}`);
  }

  /** JSON pointers of the offending options. */
  get paths(): string[] {
    return this.problems.map((p) => p.path || '(options)');
  }
}

// useDefaults fills omitted options; verbose keeps the offending value for the message.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();

/** Human wording of one ajv error, naming what was expected. */
export function describeAjvError(e: ErrorObject): { path: string; message: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: `${e.instancePath}/${String(p.missingProperty)}`, message: 'is required' };
    case 'additionalProperties':
      return { path: `${e.instancePath}/${String(p.additionalProperty)}`, message: 'is not a known option' };
    case 'enum':
      return { path: e.instancePath, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got(e.data)}` };
    default:
      return { path: e.instancePath, message: `${e.message ?? 'is invalid'}${got(e.data)}` };
  }
}

function got(data: unknown): string {
  if (data === undefined || (typeof data === 'object' && data !== null)) return '';
  return ` (got ${JSON.stringify(data)})`;
}

/** Compile a schema now, so a broken schema fails where it is defined, naming its owner. */
export function checkSchema(owner: string, schema: object): void {
  if (compiled.has(schema)) return;
  try {
    compiled.set(schema, ajv.compile(schema));
  } catch (e) {
    throw new Error(`${owner}: invalid options schema: ${(e as Error).message}`);
  }
}

/**
 * Validate (and fill defaults into a copy of) `options` against `schema`; throws OptionsError
 * naming every bad option's JSON pointer and what was expected.
 */
export function validateOptions<T>(owner: string, schema: object, options: unknown): T {
  checkSchema(owner, schema);
  const validate = compiled.get(schema)!;
  let copy: unknown;
  try {
    copy = structuredClone(options ?? {});
  } catch {
    throw new OptionsError(owner, [{ path: '', message: 'must be plain JSON data (no functions)' }]);
  }
  if (!validate(copy)) throw new OptionsError(owner, (validate.errors ?? []).map(describeAjvError));
  return copy as T;
}

/** What a plugin's `preflight` knows of the run it is about to join: the config and the model, no data yet. */
export interface RunPlan {
  /** Training samples (after `data.limit`). */
  readonly samples: number;
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly epochs: number;
  /** First epoch of this session (non-zero when resuming). */
  readonly initialEpoch: number;
  /** Rounds this session will train: (epochs − initialEpoch) × batchesPerEpoch. */
  readonly rounds: number;
  readonly loss: TaylorLoss;
  /** The run folder the run will write (absolute); null when the caller has none. Paths from options must stay inside it. */
  readonly runFolder: string | null;
}

/** A problem `preflight` found: which option (JSON pointer into the plugin's options, '' for all of them) and what is wrong. */
export interface PluginProblem {
  option: string;
  message: string;
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

  /**
   * Optional: check the options against the model and the run before any work (the CLI calls it
   * before the run folder exists, and refuses the run, exit 2, on any problem). Everything a
   * plugin would otherwise find only in `apply` or `beforeRun` — layers the model lacks, indices
   * beyond the data, a budget the run would exceed — belongs here. Must not change the plugin.
   */
  preflight?(anatomy: ModelAnatomy, plan: RunPlan): PluginProblem[] | Promise<PluginProblem[]>;
}
