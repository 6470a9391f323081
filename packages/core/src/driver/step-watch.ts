/**
 * A step taylorlens does not run (the user's `minimize`, model.fit's own), seen from outside:
 * the report is the optimizer's own when it can give one (a taylorlens optimizer), else the
 * direction `W_{n+1} − W_n` read from the weights before and after the step. Only made when
 * someone taps `afterStep`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { isReportingOptimizer, type NamedTensors, type ReportingOptimizer, type StepReport } from '../types.js';

export function disposeReport(r: StepReport): void {
  for (const m of [r.direction, r.stepSize]) if (m) for (const t of Object.values(m)) t.dispose();
}

export class StepWatch {
  private before: tf.Tensor[] | null = null;
  private readonly reporter: ReportingOptimizer | null;

  /** `optimizer`: the one the user's step uses, when known. Reports start at once when `active`. */
  constructor(private readonly variables: readonly tf.Variable[], optimizer: unknown, private readonly active: boolean) {
    this.reporter = active && isReportingOptimizer(optimizer) ? optimizer : null;
    this.reporter?.keepStepReports(true);
  }

  /** Just before the step: W_n (clones share the data; assigning W_{n+1} does not touch them). */
  beforeStep(): void {
    if (!this.active) return;
    this.discard();
    if (!this.reporter) this.before = this.variables.map((v) => v.clone());
  }

  /** Just after the step: what it did (tensors the caller disposes). */
  afterStep(): StepReport {
    if (!this.active) return {};
    const own = this.reporter?.takeStepReport();
    if (own) return own;
    const before = this.before;
    this.before = null;
    if (!before) return {};
    const direction: NamedTensors = {};
    tf.tidy(() => this.variables.forEach((v, i) => { direction[v.name] = tf.keep(tf.sub(v, before[i])); }));
    tf.dispose(before);
    return { direction };
  }

  /** Drop whatever a step left (a round that ended early). */
  discard(): void {
    if (this.before) tf.dispose(this.before);
    this.before = null;
    const r = this.reporter?.takeStepReport();
    if (r) disposeReport(r);
  }

  /** Stop the optimizer's reporting. */
  close(): void {
    this.discard();
    this.reporter?.keepStepReports(false);
  }
}
