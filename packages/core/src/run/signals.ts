/**
 * SIGINT/SIGTERM during a run, handled from the moment the run folder exists until the run
 * returns, so that no signal ever finds the default handler (which would kill the process with
 * run.json still saying `running` and files half-written). What a signal does depends on the phase:
 *
 * - setup / training: the first asks the trainer to stop after the current round (the run ends
 *   `interrupted`, everything flushed, report written); a second stops at once: metrics flushed,
 *   run.json written `interrupted`, exit 130. Checkpoints are committed atomically, so the last
 *   one is intact whatever was being written.
 * - finishing (final weights, trace index, run.json): signals wait until those files are complete —
 *   they are written as a set — then the report is skipped and the process exits 130.
 * - report: run.json is final, so the process exits 130 at once (`taylorlens report` rebuilds it).
 */
import type { Trainer } from '../trainer.js';

export type RunPhase = 'setup' | 'training' | 'finishing' | 'report';

export interface SignalActions {
  warn(line: string): void;
  /** A second signal before training ended: make run.json say `interrupted` (synchronously), flush what can be flushed. */
  emergency(sig: NodeJS.Signals): void;
  /** Where the report could be rebuilt from. */
  dir: string;
}

export class RunSignals {
  phase: RunPhase = 'setup';
  /** Signals received, in order. */
  readonly received: NodeJS.Signals[] = [];
  private trainer: Trainer | null = null;
  /** A signal came while the final files were written: acted on once they are complete. */
  private deferred = false;
  private readonly handler = (sig: NodeJS.Signals) => this.handle(sig);

  constructor(private readonly actions: SignalActions, private readonly exit: (code: number) => never = (c) => process.exit(c)) {}

  install(): this {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
    return this;
  }

  remove(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }

  /** Training starts: a signal received during setup stops it before its first round. */
  training(trainer: Trainer): void {
    this.trainer = trainer;
    this.phase = 'training';
    if (this.received.length > 0) trainer.stop(this.received[0], 'interrupted');
  }

  /** Whether a signal arrived while the final files were written (the report is then skipped). */
  get pending(): boolean {
    return this.deferred;
  }

  /** What a SIGINT/SIGTERM does now (the installed handler; tests call it directly). */
  handle(sig: NodeJS.Signals): void {
    this.received.push(sig);
    const n = this.received.length;
    const a = this.actions;
    switch (this.phase) {
      case 'setup':
      case 'training':
        if (n === 1) {
          a.warn(this.trainer ? `\n${sig}: finishing the current round, then saving (send again to stop at once)`
            : `\n${sig}: stopping before the first round, then saving (send again to stop at once)`);
          this.trainer?.stop(sig, 'interrupted');
          return;
        }
        try {
          a.emergency(sig);
        } finally {
          this.exit(130);
        }
        return;
      case 'finishing':
        if (!this.deferred) {
          this.deferred = true;
          a.warn(`\n${sig}: writing the run's final files first (they are written as a set), then stopping without the report`);
        }
        return;
      case 'report':
        a.warn(`\n${sig}: stopping; the run folder is complete, rebuild its report with \`taylorlens report ${a.dir}\``);
        this.exit(130);
    }
  }
}
