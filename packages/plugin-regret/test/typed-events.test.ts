// The event bus is typed: compiles test/types/typed-events.ts with the TypeScript compiler against
// the packages' sources. It must compile as written (each `@ts-expect-error` line is an error, or the
// directive itself is), and with the directives taken out, exactly those lines must fail.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const fixture = path.join(here, 'types', 'typed-events.ts');

function compile(edit: (text: string) => string): ts.Diagnostic[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, noEmit: true, skipLibCheck: true, esModuleInterop: true, resolveJsonModule: true, types: ['node'],
    baseUrl: root,
    paths: {
      '@taylorlens/core': ['packages/core/src/index.ts'],
      '@taylorlens/plugin-regret': ['packages/plugin-regret/src/index.ts'],
    },
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === fixture ? edit(read(f)!) : read(f));
  const getSource = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onError, fresh) => (path.resolve(f) === fixture
    ? ts.createSourceFile(f, edit(read(f)!), lang) : getSource(f, lang, onError, fresh));
  const program = ts.createProgram([fixture], options, host);
  // The fixture's own diagnostics (the packages' sources are type-checked by the build).
  const file = program.getSourceFile(fixture)!;
  return [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics(), ...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
}

const where = (d: ts.Diagnostic) => (d.file ? `${path.relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start!).line + 1}` : '?');
const text = (ds: ts.Diagnostic[]) => ds.map((d) => `${where(d)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`).join('\n');

describe('typed event map', () => {
  it('types core and plugin events by name; a wrong payload field is a type error', () => {
    const asWritten = compile((t) => t);
    expect(text(asWritten)).toBe('');

    // Without the directives: an error on exactly the line after each one.
    const lines = ts.sys.readFile(fixture)!.split('\n');
    const expected = lines.flatMap((l, i) => (l.trim().startsWith('// @ts-expect-error') ? [i + 2] : []));
    expect(expected.length).toBeGreaterThanOrEqual(7);
    const bare = compile((t) => t.replaceAll('// @ts-expect-error', '// (expected error)'));
    const failing = [...new Set(bare.map((d) => (d.file && path.resolve(d.file.fileName) === fixture ? d.file.getLineAndCharacterOfPosition(d.start!).line + 1 : -1)))];
    expect(failing.sort((a, b) => a - b), text(bare)).toEqual(expected);
    // The wrong field is named in the error.
    expect(text(bare)).toMatch(/'scope' does not exist/);
  }, 120_000);
});
