/**
 * The run config has one source of truth, src/run/run-config-schema.ts: the validator uses it, the
 * types of config-types.ts are derived from it (json-schema-to-ts), and the published
 * schemas/run-config.schema.json is it as JSON. The type checks compile a snippet with the
 * TypeScript compiler: `@ts-expect-error` lines that stop being errors fail the compile.
 */
import fs from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { runConfigSchema } from '../src/run/config.js';
import { RUN_CONFIG_JSON_SCHEMA } from '../src/run/run-config-schema.js';
import { checkAgainst, schemaPath } from '../src/run/schemas.js';

const coreDir = resolve(__dirname, '..');
const typesModule = join(coreDir, 'src/run/config-types.js');

/** Type-check `snippet` (a module in test/, so it is ESM like the sources); the compiler's diagnostics. */
function typeErrors(snippet: string): string[] {
  const dir = fs.mkdtempSync(join(coreDir, 'test/.types-'));
  try {
    const file = join(dir, 'snippet.ts');
    fs.writeFileSync(file, snippet);
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
    });
    // Each problem with the snippet line it is on (the case's comment is the line above).
    const lines = snippet.split('\n');
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line : -1;
      return `${ts.flattenDiagnosticMessageText(d.messageText, '\n')} at: ${lines[line - 1] ?? ''} / ${lines[line]?.slice(0, 80) ?? ''}`;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Json = Record<string, any>;
const base = (): Json => ({
  name: 'tiny', seed: 7, epochs: 2, batchSize: 32,
  model: { input: [28, 28, 1], layers: [{ type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: 2, padding: 'same', activation: 'relu' }, { type: 'flatten' }, { type: 'dense', units: 10 }], loss: 'softmaxCrossEntropy' },
  data: { source: 'mnist', target: 'labels', flatten: false },
  optimizer: { name: 'adam', options: { learningRate: 0.001 } },
  output: { dir: 'runs', trace: { every: 10, rounds: [1, 2] } },
});
const variant = (edit: (c: Json) => void): Json => {
  const c = base();
  edit(c);
  return c;
};

/**
 * One table for both checks: `valid` is what ajv says (the schema) and what the compiler must say of
 * the same object typed `RunConfig<AnyModelSpec, AnyDataSpec>` (the derived type). `typeOnly` marks
 * the cases a type cannot see (value ranges, patterns, lengths, dependencies, a key of the other
 * member of the untagged model union): the schema rejects them, the type accepts them.
 */
const cases: { what: string; config: Json; valid: boolean; typeOnly?: true }[] = [
  { what: 'a conv net on mnist', config: base(), valid: true },
  { what: 'every top-level option', config: variant((c) => Object.assign(c, { $schema: 'x', shuffle: false, backend: 'cpu', validation: true, plugins: [{ name: 'regret', options: { a: 1 } }] })), valid: true },
  { what: 'a saved model', config: variant((c) => { c.model = { saved: 'm/model.json', loss: 'mse' }; }), valid: true },
  { what: 'a saved model without loss', config: variant((c) => { c.model = { saved: 'm/model.json' }; }), valid: true },
  { what: 'idx data with test files', config: variant((c) => { c.data = { source: 'idx', trainImages: 'a', trainLabels: 'b', testImages: 'c', testLabels: 'd', target: 'input', limit: 5 }; }), valid: true },
  { what: 'cifar10 data', config: variant((c) => { c.data = { source: 'cifar10', dir: 'cifar', target: 'labels' }; }), valid: true },
  { what: 'a streamed module', config: variant((c) => { c.data = { source: 'module', path: 'data.mjs', export: 'train', batchesPerEpoch: 4 }; }), valid: true },
  { what: 'max pooling', config: variant((c) => { c.model.layers.splice(1, 0, { type: 'maxPooling2d', poolSize: 2, strides: [2, 2], padding: 'valid' }); }), valid: true },
  { what: 'a misspelt top-level key', config: variant((c) => { c.epoch = 3; }), valid: false },
  { what: 'a missing required key', config: variant((c) => { delete c.seed; }), valid: false },
  { what: 'a string for a number', config: variant((c) => { c.epochs = '3'; }), valid: false },
  { what: 'an unknown backend', config: variant((c) => { c.backend = 'gpu'; }), valid: false },
  { what: 'an unknown layer type', config: variant((c) => { c.model.layers[2].type = 'dense2'; }), valid: false },
  { what: 'a dense layer without units', config: variant((c) => { delete c.model.layers[2].units; }), valid: false },
  { what: 'a conv2d key on a dense layer', config: variant((c) => { c.model.layers[2].filters = 3; }), valid: false },
  { what: 'a kernel size of one item', config: variant((c) => { c.model.layers[0].kernelSize = [3]; }), valid: false },
  { what: 'a kernel size of three items', config: variant((c) => { c.model.layers[0].kernelSize = [3, 3, 3]; }), valid: false },
  { what: 'an unknown activation', config: variant((c) => { c.model.layers[0].activation = 'leakyRelu'; }), valid: false },
  { what: 'an unknown loss', config: variant((c) => { c.model.loss = 'mae'; }), valid: false },
  // TypeScript checks excess keys against an untagged union as a whole: `layers` is a key of ModelSpec.
  { what: 'a built-in model key on a saved model', config: variant((c) => { c.model = { saved: 'm.json', layers: [] }; }), valid: false, typeOnly: true },
  { what: 'a model that is neither', config: variant((c) => { c.model = { loss: 'mse' }; }), valid: false },
  { what: 'idx data without train labels', config: variant((c) => { c.data = { source: 'idx', trainImages: 'a', target: 'input' }; }), valid: false },
  { what: 'cifar10 without dir', config: variant((c) => { c.data = { source: 'cifar10', target: 'labels' }; }), valid: false },
  { what: 'a target on a streamed module', config: variant((c) => { c.data = { source: 'module', path: 'd.mjs', target: 'labels' }; }), valid: false },
  { what: 'an unknown data source', config: variant((c) => { c.data.source = 'svhn'; }), valid: false },
  { what: 'a plugin without name', config: variant((c) => { c.plugins = [{ options: {} }]; }), valid: false },
  { what: 'an unknown trace key', config: variant((c) => { c.output.trace.everyRound = 2; }), valid: false },
  { what: 'a string of trace rounds', config: variant((c) => { c.output.trace.rounds = '1,2'; }), valid: false },
  { what: 'zero epochs', config: variant((c) => { c.epochs = 0; }), valid: false, typeOnly: true },
  { what: 'a name with a space', config: variant((c) => { c.name = 'my run'; }), valid: false, typeOnly: true },
  { what: 'an empty input shape', config: variant((c) => { c.model.input = []; }), valid: false, typeOnly: true },
  { what: 'idx test images without test labels', config: variant((c) => { c.data = { source: 'idx', trainImages: 'a', trainLabels: 'b', testImages: 'c', target: 'input' }; }), valid: false, typeOnly: true },
];

describe('the run config: one schema, its JSON file and its types', () => {
  it('schemas/run-config.schema.json is the schema module as JSON (WRITE_SCHEMA=1 rewrites it)', () => {
    const file = schemaPath('run-config.schema.json');
    const expected = JSON.stringify(RUN_CONFIG_JSON_SCHEMA, null, 2) + '\n';
    if (process.env.WRITE_SCHEMA === '1') fs.writeFileSync(file, expected);
    expect(fs.readFileSync(file, 'utf8'), `${file} differs from src/run/run-config-schema.ts: run WRITE_SCHEMA=1 npx vitest run packages/core/test/run-config-types.test.ts`).toBe(expected);
    expect(runConfigSchema()).toBe(RUN_CONFIG_JSON_SCHEMA);
  });

  it('the schema accepts and refuses the table as it says', () => {
    const verdicts = cases.map((c) => ({ what: c.what, valid: checkAgainst(RUN_CONFIG_JSON_SCHEMA, c.config).length === 0 }));
    expect(verdicts).toEqual(cases.map((c) => ({ what: c.what, valid: c.valid })));
  });

  it('the derived types accept what the schema accepts and refuse the rest, at compile time', () => {
    const lines = cases.map((c, i) => [
      `// ${c.what}`,
      ...(c.valid || c.typeOnly ? [] : ['// @ts-expect-error']),
      `export const case${i}: RunConfig<AnyModelSpec, AnyDataSpec> = ${JSON.stringify(c.config)};`,
    ].join('\n'));
    const snippet = `
import { isModuleData, isSavedModelSpec, pairOf } from '${typesModule}';
import type { AnyDataSpec, AnyModelSpec, DataSpec, LayerSpec, ModelSpec, ResolvedModelSpec, RunConfig, TraceSpec } from '${typesModule}';

${lines.join('\n')}

// RunConfig alone has a built-in model and a built-in data source.
export const plain: RunConfig = ${JSON.stringify(base())};
// @ts-expect-error a saved model is not a ModelSpec
export const plainSaved: RunConfig = ${JSON.stringify(cases[2].config)};
// @ts-expect-error a streamed source is not a DataSpec
export const plainStream: RunConfig = ${JSON.stringify(cases[6].config)};
// @ts-expect-error once validated, a saved model's loss is settled
export const unresolved: ResolvedModelSpec = { saved: 'm.json' };
export const resolved: ResolvedModelSpec = { saved: 'm.json', loss: 'mse' };
// @ts-expect-error a key the trace does not have
export const trace: TraceSpec = { every: 1, maxround: 3 };

// The layer kinds are exactly these four; the sizes are [height, width] tuples.
export function units(l: LayerSpec): number {
  switch (l.type) {
    case 'dense': return l.units;
    case 'conv2d': return l.filters * pairOf(l.kernelSize, [1, 1])[0] * pairOf(l.strides, [1, 1])[1];
    case 'maxPooling2d': return pairOf(l.poolSize, [1, 1])[1];
    case 'flatten': return 0;
    default: { const none: never = l; return none; }
  }
}
export function narrow(m: AnyModelSpec, d: AnyDataSpec): string {
  const model = isSavedModelSpec(m) ? m.saved : String(m.layers.length);
  const data = isModuleData(d) ? d.path : d.target;
  return model + data;
}
export function builtins(m: ModelSpec, d: DataSpec): number {
  return m.input.length + (d.source === 'idx' ? d.trainImages.length : d.source === 'cifar10' ? d.dir.length : 0);
}
`;
    expect(typeErrors(snippet)).toEqual([]);
  });

  it('the type check itself fails when a case is mislabelled', () => {
    // Guards the test above: a well-typed config under @ts-expect-error is reported.
    const errors = typeErrors(`
import type { RunConfig } from '${typesModule}';
// @ts-expect-error
export const c: RunConfig = ${JSON.stringify(base())};
`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/Unused '@ts-expect-error' directive/);
  });
});
