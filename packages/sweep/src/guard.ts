/**
 * Preloaded (`node --import`) into every run a sweep launches: when the launcher dies (a worker
 * killed, a sweep stopped hard), the run is orphaned and re-parented; it then interrupts itself
 * the way Ctrl-C would (the CLI ends the run `interrupted`, its last checkpoint intact) so that it
 * releases run.lock for the worker that takes the run over. Node has no parent-death signal, so poll.
 */
const launcher = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === launcher) return;
  clearInterval(timer); // once: a second signal would stop the run at once, not after the round
  process.kill(process.pid, 'SIGTERM');
}, 250).unref();
