/** Config problems: a JSON pointer into the config and what was expected there. */
import type { ErrorObject } from 'ajv';

export interface ConfigProblem {
  /** JSON pointer into the config, e.g. `/model/layers/0/units` ('' is the whole config). */
  pointer: string;
  /** What is wrong and what was expected. */
  message: string;
}

/** A config that failed validation; `problems` lists every one found (exit code 2). */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: ConfigProblem[]) {
    super(formatProblems(source, problems));
    this.name = 'ConfigError';
  }
}

export function formatProblems(source: string, problems: ConfigProblem[]): string {
  const n = problems.length;
  return `invalid config ${source} (${n} problem${n === 1 ? '' : 's'}):\n` +
    problems.map((p) => `  ${p.pointer || '/'}: ${p.message}`).join('\n');
}

/** Pointer segment escaping (RFC 6901). */
export function pointerJoin(base: string, ...parts: (string | number)[]): string {
  return base + parts.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Short rendering of a value for messages: strings quoted, long things cut. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length > 6 ? `an array of ${v.length} items` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '…"' : s;
}

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

/**
 * Turn ajv errors (compiled with `verbose: true`, so each carries its data and schema) into
 * problems that name the pointer and the expectation. Sub-errors of a failed `oneOf` are folded
 * into one line using the schema's description, so `kernelSize: [3]` reads as one problem.
 */
export function describeAjvErrors(errors: readonly ErrorObject[], prefix = ''): ConfigProblem[] {
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.schemaPath + '/');
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (oneOfPaths.some((p) => e.schemaPath.startsWith(p))) continue;
    // `if` only says that its then/else branch failed; the branch's own errors say how.
    if (e.keyword === 'if') continue;
    const problem = describeOne(e, prefix);
    const key = `${problem.pointer}\n${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(problem);
    }
  }
  return out;
}

function describeOne(e: ErrorObject, prefix: string): ConfigProblem {
  const p = e.params as Record<string, unknown>;
  const at = prefix + e.instancePath;
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const got = show(e.data);
  switch (e.keyword) {
    case 'type':
      return { pointer: at, message: `expected ${article(String(p.type))}, got ${describeValue(e.data)}` };
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { pointer: at, message: `expected a number ${String(p.comparison)} ${String(p.limit)}, got ${got}` };
    case 'minItems':
      return { pointer: at, message: `expected at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}, got ${(e.data as unknown[]).length}` };
    case 'maxItems':
      return { pointer: at, message: `expected at most ${String(p.limit)} items, got ${(e.data as unknown[]).length}` };
    case 'minLength':
      return { pointer: at, message: p.limit === 1 ? 'expected a non-empty string' : `expected at least ${String(p.limit)} characters, got ${got}` };
    case 'maxLength':
      return { pointer: at, message: `expected at most ${String(p.limit)} characters, got ${(e.data as string).length}` };
    case 'pattern':
      return { pointer: at, message: `expected ${parent.description ? `${String(parent.description).replace(/\.$/, '')} (pattern ${String(p.pattern)})` : `a string matching ${String(p.pattern)}`}, got ${got}` };
    case 'enum':
      return { pointer: at, message: `expected one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}` };
    case 'const':
      return { pointer: at, message: `expected ${JSON.stringify(p.allowedValue)}, got ${got}` };
    case 'required':
      return { pointer: pointerJoin(at, String(p.missingProperty)), message: 'is required but missing' };
    case 'dependencies': case 'dependentRequired':
      return { pointer: pointerJoin(at, String(p.missingProperty)), message: `is required when "${String(p.property)}" is given` };
    case 'additionalProperties': {
      const allowed = Object.keys((parent.properties ?? {}) as object);
      return {
        pointer: pointerJoin(at, String(p.additionalProperty)),
        message: `unknown key "${String(p.additionalProperty)}"; expected ${allowed.length ? `one of: ${allowed.join(', ')}` : 'no keys here'}`,
      };
    }
    case 'uniqueItems':
      return { pointer: at, message: `expected distinct items, but items ${String(p.j)} and ${String(p.i)} are equal` };
    case 'discriminator': {
      const tag = String(p.tag);
      if (p.error === 'mapping') {
        const values = ((parent.oneOf ?? []) as { properties?: Record<string, { const?: unknown }> }[])
          .map((b) => b.properties?.[tag]?.const).filter((v) => v !== undefined);
        return { pointer: pointerJoin(at, tag), message: `unknown ${tag} ${show(p.tagValue)}; expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}` };
      }
      return { pointer: pointerJoin(at, tag), message: `expected a string naming the ${tag}` };
    }
    case 'oneOf':
      return { pointer: at, message: `expected ${parent.description ? String(parent.description).replace(/\.$/, '').replace(/^A /, 'a ') : 'exactly one of the allowed forms'}, got ${got}` };
    default:
      return { pointer: at, message: `${e.message ?? 'is invalid'}${e.data !== undefined ? `, got ${got}` : ''}` };
  }
}

/** "string \"abc\"", "number 1.5", "null", "an array [1,2]", "an object". */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length > 6 ? show(v) : `an array ${show(v)}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return `${Number.isInteger(v) ? 'integer' : 'number'} ${show(v)}`;
  return `${typeof v} ${show(v)}`;
}
