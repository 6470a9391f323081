/** A command used wrongly (bad arguments, a run folder that cannot be resumed): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
