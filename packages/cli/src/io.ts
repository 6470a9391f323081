/** Where the CLI writes and what it may touch: the real process, or a test's capture. */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
  /** Working folder: config paths and plugin lookups start here. */
  cwd: string;
  /** Whether SIGINT/SIGTERM handlers may be installed (only for a real process). */
  signals?: boolean;
  /** Clock for throttled progress lines (tests may replace it). */
  now?: () => number;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), signals: true };
}

/** A CliIo that records everything written, for in-process tests and embedding. */
export function memoryIo(cwd: string): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => { out += s; return true; }, isTTY: false },
    stderr: { write: (s: string) => { err += s; return true; } },
    cwd,
    out: () => out,
    err: () => err,
  };
}
