/** Checkpoint state of the stored-round scopes (layer/neuron under other losses, network). */
import fs from 'node:fs';
import path from 'node:path';
import type { Trajectory, TrajectoryState } from '../scopes/params.js';
import type { Reservoir, ReservoirState } from '../scopes/schedule.js';
import { loadRows, loadTensor, saveRows, saveTensor, syncDir } from '../state-files.js';
import type { RoundStore, RoundStoreState } from './round-store.js';

export interface RoundsScopeState {
  trajectory: TrajectoryState;
  store: RoundStoreState;
  reservoir: ReservoirState | null;
  /** Whether `last.npy` holds the previous checkpoint's solution (the next solve's warm start). */
  last: boolean;
}

/** Write a stored-round scope's state into `dir`: trajectory tensors, stored rounds, reservoir, warm start. */
export async function saveRoundsScope(dir: string, parts: { trajectory: Trajectory; store: RoundStore; reservoir: Reservoir | null; last: Float64Array[] | null }): Promise<RoundsScopeState> {
  fs.mkdirSync(dir, { recursive: true });
  const trajectory = await parts.trajectory.saveState((name, t) => saveTensor(path.join(dir, `trajectory-${name}.npy`), t));
  const store = parts.store.saveState(path.join(dir, 'rounds'));
  if (parts.last) saveRows(path.join(dir, 'last.npy'), parts.last);
  syncDir(dir);
  return { trajectory, store, reservoir: parts.reservoir?.saveState() ?? null, last: parts.last !== null };
}

/** Restore what `saveRoundsScope` wrote; returns the warm start. */
export function loadRoundsScope(dir: string, s: RoundsScopeState, parts: { trajectory: Trajectory; store: RoundStore; reservoir: Reservoir | null }): Float64Array[] | null {
  if ((s.reservoir === null) !== (parts.reservoir === null)) throw new Error(`${dir}: the checkpoint and the options disagree on the reservoir; was the config changed?`);
  parts.trajectory.loadState(s.trajectory, (name) => loadTensor(path.join(dir, `trajectory-${name}.npy`)));
  parts.store.loadState(path.join(dir, 'rounds'), s.store);
  if (s.reservoir) parts.reservoir!.loadState(s.reservoir);
  return s.last ? loadRows(path.join(dir, 'last.npy')) : null;
}
