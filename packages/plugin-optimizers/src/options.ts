import { checkSchema, OptionsError, validateOptions } from '@taylorlens/core';

export { OptionsError };

/** A JSON schema (draft-07, as ajv reads it) describing an optimizer's options. */
export type JsonSchema = Record<string, unknown>;

/** Checks `schema` once; the returned function validates a copy of the options and fills defaults. */
export function compileOptions<O>(owner: string, schema: JsonSchema): (options: unknown) => O {
  checkSchema(owner, schema);
  return (options) => validateOptions<O>(owner, schema, options);
}
