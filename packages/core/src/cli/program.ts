/**
 * The `taylorlens` command line. `main(argv, io)` runs one command in-process and returns its
 * exit code: 0 ok, 1 failure (or a diverged run), 2 refused before any work (invalid config or
 * data, a run folder that cannot be resumed or has another writer, usage), 130 interrupted.
 */
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DataFileError } from '../data/read.js';
import { ConfigError } from '../run/problems.js';
import { loadConfigFile, validateConfig } from '../run/config.js';
import { demoConfig, DEMO_DEFAULTS } from '../run/demo.js';
import { UsageError } from '../run/errors.js';
import { writeCompareReport, writeRunReport } from '../run/report.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, resumeRun, startRun, type RunOutcome } from '../run/runner.js';
import { coreVersion } from '../run/versions.js';
import { doctor } from './doctor.js';
import type { CliIo } from './io.js';
import { cliReporter } from './progress.js';

export const BACKENDS = ['wasm', 'cpu', 'tensorflow', 'webgpu'] as const;

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** Runs one command. Never calls process.exit; signals are handled only when `io.signals` is set. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('taylorlens')
    .description('Instrument neural-network training in TensorFlow.js: runs, traces, reports.')
    .version(coreVersion(), '-V, --version')
    .addOption(new Option('--backend <name>', 'tfjs backend to require (default: the best available)').choices(BACKENDS))
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run taylorlens --help for usage)');
  const backendOf = (cmd: Command) => (cmd.optsWithGlobals() as { backend?: string }).backend;
  const runOpts = (cmd: Command) => ({ cwd: io.cwd, backend: backendOf(cmd), reporter: cliReporter(io), handleSignals: io.signals ?? false });
  const finish = (o: RunOutcome) => { code = o.exitCode; };

  program.command('run')
    .description('train from a JSON config, or continue an interrupted run with --resume')
    .argument('[config]', 'run config (JSON)')
    .option('--resume <runDir>', 'continue this run folder from its last checkpoint')
    .action(async (config: string | undefined, o: { resume?: string }, cmd: Command) => {
      if (config && o.resume) throw new UsageError('give either a config or --resume <runDir>, not both');
      if (o.resume) return finish(await resumeRun(o.resume, runOpts(cmd)));
      if (!config) throw new UsageError('missing config: taylorlens run <config.json> (or run --resume <runDir>)');
      const resolved = await loadConfigFile(config, io.cwd);
      finish(await startRun(resolved, runOpts(cmd)));
    });

  program.command('demo')
    .description("the paper's MNIST autoencoder with every installed plugin on; writes a run folder and its report")
    .option('--epochs <n>', `epochs (default ${DEMO_DEFAULTS.epochs})`, positiveInt('--epochs'))
    .option('--limit <n>', `training images (default ${DEMO_DEFAULTS.limit})`, positiveInt('--limit'))
    .option('--out <dir>', `folder for the run folder (default ${DEMO_DEFAULTS.out})`)
    .action(async (o: { epochs?: number; limit?: number; out?: string }, cmd: Command) => {
      const plan = await demoConfig({ ...o, cwd: io.cwd });
      const on = plan.config.plugins?.map((p) => p.name) ?? [];
      io.stdout.write(`demo: plugins on: ${on.length ? on.join(', ') : 'none installed'}\n`);
      for (const s of plan.skipped) io.stdout.write(`demo: plugin ${s.name} not switched on: ${s.reason}\n`);
      const resolved = await validateConfig(plan.config, { source: 'demo config', baseDir: io.cwd, cwd: io.cwd });
      finish(await startRun(resolved, runOpts(cmd)));
    });

  program.command('report')
    .description("rebuild report.html from a run folder's files")
    .argument('<runDir>')
    .action(async (dir: string) => {
      const r = await writeRunReport(path.resolve(io.cwd, dir), { cwd: io.cwd });
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      for (const f of r.flags) io.stderr.write(`flagged: ${f}\n`);
      io.stdout.write(`report: ${r.path}\n`);
      code = r.warnings.length ? EXIT_FAILURE : EXIT_OK;
    });

  program.command('compare')
    .description('one report across runs: training loss per run, final numbers, each plugin\'s comparison')
    .argument('<runDirs...>')
    .requiredOption('--out <dir>', 'folder to write report.html into')
    .action(async (dirs: string[], o: { out: string }) => {
      const r = await writeCompareReport(dirs, o.out, { cwd: io.cwd });
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      for (const l of r.leftOut ?? []) io.stderr.write(`${l}\n`);
      for (const f of r.flags) io.stderr.write(`flagged: ${f}\n`);
      io.stdout.write(`report: ${r.path}\n`);
      code = r.warnings.length ? EXIT_FAILURE : EXIT_OK;
    });

  program.command('doctor')
    .description('backend, versions, missing kernels, CUDA and WebGPU status, installed plugins')
    .action(async (_o: unknown, cmd: Command) => { code = await doctor(io, backendOf(cmd)); });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof ConfigError) {
      io.stderr.write(e.message + '\n');
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    // Data files are read before the run folder exists: a bad one is refused like a bad config.
    if (e instanceof DataFileError) {
      io.stderr.write(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`error: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
}
