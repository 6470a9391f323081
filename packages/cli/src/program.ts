/**
 * The `taylorlens` command line. `main(argv, io)` runs one command in-process and returns its
 * exit code: 0 ok, 1 failure (or a diverged run), 2 refused before any work (invalid config or
 * data, a run folder that cannot be resumed or has another writer, usage), 130 interrupted.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  addPackageLookup, ConfigError, coreVersion, DataFileError, DEMO_DEFAULTS, demoConfig, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exportTensorBoard, loadConfigFile,
  lookupPlaces, resolvePackage, resumeRun, startRun, UsageError, validateConfig, writeCompareReport, writeRunReport, type RunOutcome,
} from '@taylorlens/core';
import { doctor } from './doctor.js';
import type { CliIo } from './io.js';
import { serveDuringRun, watchRun } from './live.js';
import { cliReporter } from './progress.js';

export const BACKENDS = ['wasm', 'cpu', 'tensorflow', 'webgpu'] as const;

/** This package: plugins (its dependencies) and @taylorlens/sweep (an optional peer) are looked up from here too. */
export const CLI_PACKAGE = '@taylorlens/cli';
/** The compiled entry (from src/ in tests as from dist/): what sweeps spawn for each run. */
export const CLI_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** The sweep commands live in @taylorlens/sweep (it brings BullMQ and ioredis), loaded only when used. */
const SWEEP_PACKAGE = '@taylorlens/sweep';
type SweepIo = CliIo & { cli: string };
interface SweepPackage {
  sweepCommand(file: string, o: object, io: SweepIo): Promise<number>;
  sweepStatusCommand(dir: string, o: object, io: SweepIo): Promise<number>;
  sweepCompareCommand(dir: string, o: object, io: SweepIo): Promise<number>;
  workerCommand(o: object, io: SweepIo): Promise<number>;
}
async function sweepPackage(cwd: string): Promise<SweepPackage> {
  const entry = resolvePackage(SWEEP_PACKAGE, cwd);
  if (!entry) throw new UsageError(`this command needs the package ${SWEEP_PACKAGE}, which is not installed (looked from ${path.resolve(cwd)} and from ${lookupPlaces()}): npm i ${SWEEP_PACKAGE}`);
  return import(pathToFileURL(entry).href);
}

function portNumber(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError(`--port must be an integer from 0 to 65535 (0: a free one), got "${v}"`);
  return n;
}

/** Runs one command. Never calls process.exit; signals are handled only when `io.signals` is set. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  addPackageLookup(CLI_PACKAGE, import.meta.url);
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
  // The sweep package starts each run as this CLI in a child process.
  const sweepIo: SweepIo = { ...io, cli: CLI_MAIN };

  program.command('run')
    .description('train from a JSON config, or continue an interrupted run with --resume')
    .argument('[config]', 'run config (JSON)')
    .option('--resume <runDir>', 'continue this run folder from its last checkpoint')
    .option('--serve', 'serve a live view of the run on 127.0.0.1 while it trains (stops when the run ends)')
    .option('--port <n>', 'port for --serve (default 0: a free one)', portNumber)
    .action(async (config: string | undefined, o: { resume?: string; serve?: boolean; port?: number }, cmd: Command) => {
      if (config && o.resume) throw new UsageError('give either a config or --resume <runDir>, not both');
      if (o.port !== undefined && !o.serve) throw new UsageError('--port needs --serve');
      const live = o.serve ? serveDuringRun(io, o.port ?? 0) : null;
      const opts = { ...runOpts(cmd), ...(live ? { onTrainer: live.onTrainer } : {}) };
      try {
        if (o.resume) return finish(await resumeRun(o.resume, opts));
        if (!config) throw new UsageError('missing config: taylorlens run <config.json> (or run --resume <runDir>)');
        const resolved = await loadConfigFile(config, io.cwd);
        finish(await startRun(resolved, opts));
      } finally {
        await live?.finish();
      }
    });

  program.command('watch')
    .description('serve a live view of a run folder on 127.0.0.1: its report, updated as the run trains (until Ctrl-C)')
    .argument('<runDir>')
    .option('--port <n>', 'port (default 0: a free one)', portNumber)
    .action(async (dir: string, o: { port?: number }) => {
      await watchRun(path.resolve(io.cwd, dir), io, o.port ?? 0);
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

  program.command('export')
    .description('export a run folder\'s metrics for other tools')
    .command('tensorboard')
    .description('write <runDir>/tensorboard/events.out.tfevents.* from metrics.jsonl (replacing earlier event files)')
    .argument('<runDir>')
    .action((dir: string) => {
      const r = exportTensorBoard(path.resolve(io.cwd, dir));
      io.stdout.write(`tensorboard: ${r.file} (${r.events} events from ${r.rows} rows); view with: tensorboard --logdir ${path.dirname(r.file)}\n`);
    });

  program.command('sweep')
    .description('a base config times axes and seeds (a sweep file): run here (--parallel) or enqueue for workers (--queue)')
    .argument('<file>', 'sweep file (JSON)')
    .option('--parallel <n>', 'runs at a time on this machine (default: one per core)', positiveInt('--parallel'))
    .option('--queue <url>', 'enqueue the runs on this Redis (redis://host:port) for `taylorlens worker`')
    .option('--queue-name <name>', 'BullMQ queue name (default taylorlens-sweep)')
    .action(async (file: string, o: object, cmd: Command) => {
      code = await (await sweepPackage(io.cwd)).sweepCommand(file, { ...o, backend: backendOf(cmd) }, sweepIo);
    });

  program.command('sweep-status')
    .description("a sweep's runs: status, epochs done, worker, attempts")
    .argument('<sweepDir>')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: object) => { code = await (await sweepPackage(io.cwd)).sweepStatusCommand(dir, o, sweepIo); });

  program.command('sweep-compare')
    .description("the compare report over a sweep's completed runs, and mean ± std over seeds grouped by the swept axes")
    .argument('<sweepDir>')
    .requiredOption('--out <dir>', 'folder to write report.html and sweep-summary.* into')
    .action(async (dir: string, o: object) => { code = await (await sweepPackage(io.cwd)).sweepCompareCommand(dir, o, sweepIo); });

  program.command('worker')
    .description('take sweep runs from a queue and run them, until stopped (SIGINT/SIGTERM)')
    .requiredOption('--queue <url>', 'Redis URL (redis://host:port)')
    .option('--queue-name <name>', 'BullMQ queue name (default taylorlens-sweep)')
    .option('--concurrency <n>', 'runs at a time (default: one per core)', positiveInt('--concurrency'))
    .option('--stall-ms <ms>', "how long a dead worker's run waits before another worker takes it over (default 30000)", positiveInt('--stall-ms'))
    .action(async (o: object, cmd: Command) => {
      code = await (await sweepPackage(io.cwd)).workerCommand({ ...o, backend: backendOf(cmd) }, sweepIo);
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
