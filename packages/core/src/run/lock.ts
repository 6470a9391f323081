/**
 * One writer per run folder. `run.lock` is created with O_EXCL (`wx`: exactly one process can
 * create it) and holds the owner's pid, host, start time and a token. A second writer is refused
 * before it writes anything (RunLockedError, exit 2). A lock whose owner is gone — same host and
 * its pid no longer running, or running but started after the lock was taken (a reused pid) —
 * is stale: it is taken over, and the caller tells the user whose lock it was.
 *
 * Takeovers are serialised by a second exclusive create (`run.lock.takeover`, a folder), so that two
 * processes finding the same stale lock cannot both win.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from './errors.js';
import { RUN_LOCK } from './store.js';

export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ISO time). */
  startedAt: string;
  /** The process's own start (Linux: /proc/<pid>/stat field 22), to tell a reused pid from the owner; null elsewhere. */
  processStart: string | null;
  /** What the owner is doing (`run`, `run --resume`). */
  command: string;
  token: string;
}

/** The run folder has a live writer; nothing was written. */
export class RunLockedError extends UsageError {
  constructor(readonly dir: string, readonly file: string, readonly owner: LockOwner | null) {
    super(lockedMessage(dir, file, owner));
    this.name = 'RunLockedError';
  }
}

export interface RunLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** The stale lock this one replaced (null when the folder was free); `unreadable` when its content could not be read. */
  readonly tookOver: LockOwner | 'unreadable' | null;
  /** Remove the lock if it is still ours (idempotent; also runs on process exit). */
  release(): void;
}

/** Age (ms) after which an unreadable lock, or a takeover folder left by a crash, counts as abandoned. */
const ABANDONED_MS = 5_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Linux: a process's start time in clock ticks since boot (fixed for its life); null where /proc is absent. */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, starttime field 22 (comm may hold spaces and parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the lock's owner may still be running: false only when this host can tell it is not. */
export function ownerAlive(o: LockOwner): boolean {
  if (o.host !== os.hostname()) return true; // another machine: we cannot look
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a process with that pid exists (another user's).
  }
  const now = processStart(o.pid);
  return !(o.processStart && now && now !== o.processStart);
}

type Read = { kind: 'missing' } | { kind: 'owner'; owner: LockOwner } | { kind: 'unreadable'; ageMs: number };

function readLock(file: string): Read {
  let text: string;
  let ageMs = 0;
  try {
    ageMs = Date.now() - fs.statSync(file).mtimeMs;
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw new UsageError(`${file}: cannot read the run folder's lock: ${(e as Error).message}`);
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    if (Number.isInteger(o.pid) && typeof o.host === 'string' && typeof o.token === 'string') return { kind: 'owner', owner: o };
  } catch { /* below */ }
  return { kind: 'unreadable', ageMs };
}

function describeOwner(o: LockOwner): string {
  return `pid ${o.pid} on host ${o.host}, \`taylorlens ${o.command}\` since ${o.startedAt}`;
}

function lockedMessage(dir: string, file: string, o: LockOwner | null): string {
  if (!o) return `${dir} is being written by another process (its lock ${file} is being created right now); one writer per run folder: try again when it has finished`;
  const remote = o.host !== os.hostname();
  return `${dir} is being written by another process (${describeOwner(o)}): one writer per run folder, so this command wrote nothing. `
    + `Wait for that process to finish (or stop it), then try again.`
    + (remote ? ` It runs on another machine, which this one cannot check: if it is no longer running, delete ${file}.` : '');
}

/** Create the lock file exclusively; false if it exists. */
function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw new UsageError(`${file}: cannot create the run folder's lock: ${code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? 'the run folder is not writable' : (e as Error).message}`);
  }
  try {
    fs.writeSync(fd, JSON.stringify(owner, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Remove a stale lock under the takeover mutex, if it is still the one we judged stale. Returns
 * false when another process holds the mutex (the caller retries).
 */
function takeOver(file: string, stale: LockOwner | null): boolean {
  const mutex = `${file}.takeover`;
  try {
    fs.mkdirSync(mutex);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - fs.statSync(mutex).mtimeMs > ABANDONED_MS) fs.rmdirSync(mutex); // left by a crash mid-takeover
    } catch { /* gone meanwhile */ }
    return false;
  }
  try {
    const now = readLock(file);
    const same = now.kind === 'unreadable' ? stale === null : now.kind === 'owner' && stale !== null && now.owner.token === stale.token;
    if (same) fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmdirSync(mutex);
  }
}

/**
 * Take the lock of run folder `dir` for `command`; throws RunLockedError while another process
 * holds it. Release it with `release()` (it is also released if the process exits).
 */
export function acquireRunLock(dir: string, command: string): RunLock {
  const file = path.join(path.resolve(dir), RUN_LOCK);
  const owner: LockOwner = {
    pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), processStart: processStart(process.pid),
    command, token: randomBytes(8).toString('hex'),
  };
  let tookOver: RunLock['tookOver'] = null;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (tryCreate(file, owner)) return held(file, owner, tookOver);
    const seen = readLock(file);
    if (seen.kind === 'missing') continue; // released just now
    if (seen.kind === 'owner') {
      if (ownerAlive(seen.owner)) throw new RunLockedError(path.resolve(dir), file, seen.owner);
      if (takeOver(file, seen.owner)) tookOver = seen.owner;
    } else if (seen.ageMs > ABANDONED_MS) {
      // Created but never written: its owner died between the create and the write.
      if (takeOver(file, null)) tookOver = 'unreadable';
    }
    sleepSync(10); // a takeover or a creation is under way in another process
  }
  const last = readLock(file);
  throw new RunLockedError(path.resolve(dir), file, last.kind === 'owner' ? last.owner : null);
}

function held(file: string, owner: LockOwner, tookOver: RunLock['tookOver']): RunLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    const now = readLock(file);
    if (now.kind === 'owner' && now.owner.token === owner.token) fs.rmSync(file, { force: true });
  };
  // Exits that skip the runner's own cleanup (a second Ctrl-C, process.exit) still free the folder.
  process.on('exit', release);
  return { file, owner, tookOver, release };
}

/** "taking over the lock of …": what to tell the user when a stale lock was replaced. */
export function takeoverMessage(lock: RunLock): string | null {
  if (!lock.tookOver) return null;
  const dir = path.dirname(lock.file);
  if (lock.tookOver === 'unreadable') return `taking over the lock of ${dir}: ${lock.file} was left unreadable by a process that died while creating it`;
  return `taking over the lock of ${dir}: its owner (${describeOwner(lock.tookOver)}) is no longer running`;
}
