import { Worker } from 'node:worker_threads';

/** Statistics buffers a thread may hold in flight before the submitter waits: bounds the memory of a worker that falls behind. */
export const MAX_IN_FLIGHT = 4;

/**
 * A worker thread (eval'd `source`) that runs jobs in submission order. The source answers each
 * job `{ id, ... }` with `{ id, result }` or `{ id, error }`; `setup` is posted first (e.g. a
 * WebAssembly module and memory). Pending jobs keep the process alive, an idle worker does not.
 * A crashed thread rejects every pending job; the next job starts a fresh one.
 */
export class JobWorker<R> {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();

  constructor(private readonly name: string, private readonly source: string, private readonly setup: () => unknown) {}

  /** Jobs submitted and not yet answered. */
  get pending(): number {
    return this.waiting.size;
  }

  run(job: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<R> {
    const w = this.start();
    const id = this.nextId++;
    const done = new Promise<R>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    w.ref();
    w.postMessage({ ...job, id }, transfer);
    return done;
  }

  /** Resolves (or rejects) once the oldest pending job has been answered. */
  oldest(): Promise<void> {
    const [id] = this.waiting.keys();
    const entry = this.waiting.get(id);
    if (!entry) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve: (r) => { entry.resolve(r); resolve(); }, reject: (e) => { entry.reject(e); reject(e); } });
    });
  }

  /** Resolves once every job submitted so far has been answered (failures are the jobs' own to report). */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.oldest().catch(() => undefined);
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = null;
    for (const w of this.waiting.values()) w.reject(new Error(`${this.name} disposed`));
    this.waiting.clear();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.source, { eval: true });
    w.postMessage(this.setup());
    w.on('message', (m: { id: number; result?: R; error?: string }) => {
      const entry = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
      if (m.error !== undefined) entry?.reject(new Error(`regret: ${this.name}: ${m.error}`));
      else entry?.resolve(m.result as R);
    });
    w.on('error', (e) => {
      const failure = new Error(`regret: the ${this.name} failed: ${e.message}`);
      for (const entry of this.waiting.values()) entry.reject(failure);
      this.waiting.clear();
      if (this.worker === w) this.worker = null;
    });
    this.worker = w;
    return w;
  }
}
