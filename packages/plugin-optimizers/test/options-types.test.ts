/**
 * The option types of the plugins and optimizers are derived from their JSON schemas
 * (json-schema-to-ts): compiles a snippet against the sources with the TypeScript compiler and
 * checks that good options type-check, bad ones do not (`@ts-expect-error` lines that stop being
 * errors fail the compile), and resolved options have their defaults as required fields.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../../..');
const src = (pkg: string, file: string) => join(root, 'packages', pkg, 'src', file).replace(/\.ts$/, '.js');

const SNIPPET = `
import type { RegretOptions, RegretOptionsInput } from '${src('plugin-regret', 'options.ts')}';
import type { ActivationOptions, ResolvedOptions } from '${src('plugin-activation', 'options.ts')}';
import type { AdamOptions } from '${src('plugin-optimizers', 'optimizers/adam.ts')}';
import { adam } from '${src('plugin-optimizers', 'optimizers/adam.ts')}';

export const regretOk: RegretOptionsInput = { network: { enabled: false }, neurons: { perLayer: { dense_1: 'all' }, layers: [1, 'conv'] } };
// @ts-expect-error an option the schema does not have
export const regretUnknown: RegretOptionsInput = { netwrk: {} };
// @ts-expect-error a string where the schema says number
export const regretWrongType: RegretOptionsInput = { solver: { tolerance: 'small' } };
// @ts-expect-error readings only take 'hindsight' and 'perRound'
export const regretWrongEnum: RegretOptionsInput = { readings: ['hindsight', 'later'] };
export function resolvedRegret(o: RegretOptions): number {
  // Defaults are filled in after validation: required, not optional.
  return o.solver.krylovIterations + o.checkpoint.everyEpochs + (o.network.every ?? 0);
}

export const activationOk: ActivationOptions = { every: { rounds: 5 }, maxUnitsPerLayer: { dense: 10 } };
// @ts-expect-error every is epochs or rounds
export const activationWrong: ActivationOptions = { every: { minutes: 5 } };
export function resolvedActivation(o: ResolvedOptions): number {
  return o.probeSize + o.maxUnitsPerLayer.conv2d + o.floor;
}

export function adamFields(o: AdamOptions): number {
  return o.learningRate + o.beta1 + o.beta2 + o.epsilon;
}
export const made = adam({ learningRate: 0.01 });
// @ts-expect-error Adam has no momentum option
export const adamWrong = adam({ momentum: 0.9 });
`;

describe('option types derived from the schemas', () => {
  it('accept what the schemas accept and reject the rest, at compile time', () => {
    const dir = mkdtempSync(join(root, 'packages/plugin-optimizers/test/.types-'));
    try {
      const file = join(dir, 'snippet.ts');
      writeFileSync(file, SNIPPET);
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        // The workspace packages from source, as vitest's aliases do: no build needed.
        baseUrl: root,
        paths: { '@taylorlens/core': ['packages/core/src/index.ts'] },
      });
      const problems = ts.getPreEmitDiagnostics(program)
        .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
