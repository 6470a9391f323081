/**
 * Limits on what a run config may be, checked before anything else looks at it (JSON.parse, ajv
 * and the shape checks all recurse or loop over the whole input: a config nested 100,000 levels
 * deep or listing a million layers would otherwise end in a stack overflow or take minutes).
 * Each message names the limit that was exceeded.
 */
import type { ConfigProblem } from './problems.js';

export const LIMITS = Object.freeze({
  /** Bytes of a config file. */
  configBytes: 1024 * 1024,
  /** Nesting of objects and arrays in a config. */
  depth: 64,
  /** Entries of model.layers. */
  layers: 1000,
});

const mb = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 1)} MB`;

export function configSizeProblem(bytes: number): ConfigProblem | null {
  return bytes > LIMITS.configBytes
    ? { pointer: '', message: `the file is ${mb(bytes)}; a run config may be at most ${mb(LIMITS.configBytes)} (limit: config file size)` }
    : null;
}

function depthProblem(depth: number): ConfigProblem {
  return { pointer: '', message: `nested more than ${LIMITS.depth} levels deep (objects and arrays inside each other); a run config may nest at most ${LIMITS.depth} (limit: JSON nesting depth)` };
}

/** Nesting depth of JSON text, without parsing it (brackets outside strings); stops counting past the limit. */
export function textDepthProblem(text: string): ConfigProblem | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > LIMITS.depth) return depthProblem(depth);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return null;
}

/** Nesting depth of a value already in memory (a config passed as an object, or read back from run.json); iterative. */
export function valueDepthProblem(value: unknown): ConfigProblem | null {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > LIMITS.depth) return depthProblem(d + 1);
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, d + 1]);
  }
  return null;
}

/** model.layers longer than the limit. */
export function layerCountProblem(raw: unknown): ConfigProblem | null {
  const layers = (raw as { model?: { layers?: unknown } } | null)?.model?.layers;
  if (!Array.isArray(layers) || layers.length <= LIMITS.layers) return null;
  return { pointer: '/model/layers', message: `${layers.length} layers; a model may have at most ${LIMITS.layers} (limit: layer count)` };
}
