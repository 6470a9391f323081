// Give the event loop one turn before every test. Vitest awaits only promises between tests, and
// tfjs on cpu/wasm computes synchronously, so a file of synchronous tests is one long block for
// the event loop: the worker's RPC replies (onTaskUpdate) wait behind it and Vitest's 60 s RPC
// timeout fails the run on a loaded machine ("Timeout calling onTaskUpdate"). setImmediate runs
// after the poll phase, so pending replies are handled before the next test starts.
import { beforeEach } from 'vitest';

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
