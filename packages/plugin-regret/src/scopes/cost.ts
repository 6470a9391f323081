import type { ModelAnatomy, ParamLayer } from '@taylorlens/core';
import { flatDense, positions } from '../jacobian/linear.js';
import { perSampleFloats } from './resolve.js';
import { networkStorage, stateAsBits, storesState } from '../rounds/replayable.js';
import type { ScopeCost, ScopeDescription } from './scope.js';
import { WIDE_FAN_IN } from '../quadratic/dense-neuron-statistics.js';
import { sparseSumsBytes } from '../quadratic/sparse-kernel.js';

/** Multiply-adds of one sample's forward pass through layer p. */
export function forwardMacs(p: ParamLayer): number {
  // SeparableConv2D: the pointwise part, plus its depthwise kernel at every output position.
  return p.units * p.kernelFanIn + (p.depthwise ? positions(p) * p.depthwise.size : 0);
}

/** Multiply-adds of one training step (forward + backward ≈ 3 forward passes) for a batch of B. */
export function stepMacs(anatomy: ModelAnatomy, B: number): number {
  return 3 * B * anatomy.layers.reduce((s, p) => s + forwardMacs(p), 0);
}

function tailMacs(anatomy: ModelAnatomy, l: number): number {
  return anatomy.layers.slice(l + 1).reduce((s, p) => s + forwardMacs(p), 0);
}

/** The backward recursion for Grams from the output down to layer l, per sample (the first step, K_L K_Lᵀ, is shared). */
function gramMacs(anatomy: ModelAnatomy, l: number, B: number): number {
  const L = anatomy.layers.length - 1;
  let s = 0;
  for (let m = l; m < L; m++) {
    const a = anatomy.layers[m].units;
    const b = anatomy.layers[m + 1].units;
    s += m === L - 1 ? (a * a * b) / B + a * a : B === 0 ? 0 : a * b * b + a * a * b;
  }
  return s;
}

/** Multiply-adds per ms of the JavaScript eigendecomposition (measured on this project's machines, rough). */
export const HOST_MACS_PER_MS = 1.5e6;

/** How many rounds a schedule records out of `rounds`. */
export function recordedRounds(d: Pick<ScopeDescription, 'every' | 'offset' | 'reservoir'>, rounds: number): number {
  const n = Math.max(0, Math.floor((rounds - d.offset + d.every - 1) / d.every));
  return d.reservoir !== null ? Math.min(n, d.reservoir) : n;
}

/**
 * A rough, deliberately simple cost model (multiply-adds and bytes), good to a small factor: enough
 * to refuse a configuration that cannot fit and to say which knob to turn.
 */
export function estimateCost(anatomy: ModelAnatomy, d: ScopeDescription, B: number, rounds: number, solverIterations: number): ScopeCost {
  const pL = anatomy.outputSize;
  const R = recordedRounds(d, rounds);
  const perRound = (macs: number): number => (rounds > 0 ? (macs * Math.min(R, rounds)) / rounds : 0);
  if (d.kind === 'network') {
    const inSize = anatomy.inputShape.reduce((a, b) => a * b, 1);
    const s = Math.min(d.subBatch ?? B, B);
    const bits = s * anatomy.layers.reduce((t, p) => t + p.units + p.after.filter((a) => a.kind === 'maxpool').length * p.units, 0);
    // LeakyReLU slopes and dropout masks are stored as floats, one per entry of the layer's input.
    const stateFloats = s * anatomy.graph.filter((n) => storesState(n) && !stateAsBits(n)).reduce((t, n) => t + n.inputShapes[0].reduce((a, b) => a * b, 1), 0);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    // A stored model (replayable.ts) keeps each layer's input instead of x, and any node's state (about one float per entry of its input).
    const stored = networkStorage(anatomy) === 'stored'
      ? s * (anatomy.layers.reduce((t, p) => t + size(p.inputShape) * (p.depthwise ? 2 : 1), 0) - inSize
        + anatomy.graph.filter((n) => n.role === 'derivatives' && !storesState(n)).reduce((t, n) => t + size(n.inputShapes[0]), 0))
      : 0;
    const bytes = 4 * (s * (inSize + 2 * pL) + d.params + stateFloats + stored) + Math.ceil(bits / 8);
    const fwd = anatomy.layers.reduce((t, p) => t + forwardMacs(p), 0);
    return {
      key: d.key, memoryBytes: 0, bytesPerRecordedRound: bytes, diskBytes: bytes * R, macsPerRecordedRound: s * fwd, macsPerRound: perRound(s * fwd),
      solveMacs: solverIterations * R * s * fwd * 4, solveOnHost: false,
    };
  }
  const p = anatomy.layers[d.layerIndex!];
  const q = p.fanIn;
  const K = d.problems;
  const pos = positions(p);
  const reverseJ = (n: number) => 2 * pL * n * (tailMacs(anatomy, p.index) + p.units);
  if (d.method === 'statistics') {
    const P = d.params;
    let macs: number;
    let memory: number;
    let solveMacs = K * 5 * P * P * P;
    if (d.structure === 'unit-blocks') {
      // One q×q block per unit (neuron statistics of every unit), solved through one ball.
      macs = B * p.channels * q * q;
      memory = 12 * p.channels * q * q;
      solveMacs = p.channels * 5 * q * q * q;
    } else if (flatDense(p)) {
      const jac = B * gramMacs(anatomy, p.index, B);
      macs = d.kind === 'layer' ? B * q * q * p.channels * p.channels + jac : B * K * q * q + jac;
      // Wide fan-in neurons also keep the sparse kernel's running sums beside their totals.
      memory = d.kind === 'layer' ? 12 * P * P : 12 * K * q * q + (q > WIDE_FAN_IN ? sparseSumsBytes(K, q) : 0);
    } else {
      const G = B * (d.kind === 'layer' ? p.channels : K) * pL * pos * q + (d.kind === 'layer' && p.depthwise ? B * pL * pos * p.depthwise.size : 0);
      macs = reverseJ(B) + G + (d.kind === 'layer' ? B * pL * P * P : K * B * pL * q * q);
      memory = 12 * K * P * P;
    }
    return {
      key: d.key, memoryBytes: memory, bytesPerRecordedRound: 0, diskBytes: 0, macsPerRecordedRound: macs, macsPerRound: perRound(macs),
      solveMacs, solveOnHost: true,
    };
  }
  const s = Math.min(d.subBatch ?? B, B);
  const floats = perSampleFloats(anatomy, p, d.kind === 'layer' ? 'layer' : 'neurons', K)[d.representation === 'direct' ? 'direct' : 'factored'];
  const bytes = 4 * s * floats;
  const channels = d.kind === 'layer' ? p.channels : K;
  const evalPerSample = d.representation === 'direct' ? channels * pL * q : pos * channels * q + pL * pos * channels;
  const macs = reverseJ(s) + (d.representation === 'direct' ? s * channels * pL * pos * q : 0) + s * evalPerSample;
  return {
    key: d.key, memoryBytes: 0, bytesPerRecordedRound: bytes, diskBytes: bytes * R, macsPerRecordedRound: macs, macsPerRound: perRound(macs),
    solveMacs: solverIterations * 3 * R * s * evalPerSample, solveOnHost: false,
  };
}
