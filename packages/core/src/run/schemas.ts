/** The JSON schemas shipped in packages/core/schemas/, and the one strict ajv that checks against them. */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { describeAjvErrors, type ConfigProblem } from './problems.js';

/** `schemas/` sits two levels above both src/run/ and dist/run/. */
export function schemaPath(file: string): string {
  return fileURLToPath(new URL(`../../schemas/${file}`, import.meta.url));
}

export function readSchema(file: string): object {
  const p = schemaPath(file);
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8')) as object;
  } catch (e) {
    throw new Error(`${p}: cannot read the schema shipped with @taylorlens/core: ${(e as Error).message}`);
  }
}

// verbose: errors carry the offending data and schema, so messages can say what was found and allowed.
const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();

/** Validate `value` against `schema`; problems carry pointers under `prefix` (e.g. `/plugins/0/options`). */
export function checkAgainst(schema: object, value: unknown, prefix = ''): ConfigProblem[] {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate(value) ? [] : describeAjvErrors(validate.errors ?? [], prefix);
}
