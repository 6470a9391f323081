// The checkpoint optima of any-model.test.ts's whole models on wasm, against a direct minimisation
// over the stored rounds (their cpu twins and the wasm Taylor checks run in the fast tier there),
// and on cpu those whose minimisation takes over 10 s (slowOptimum), to keep the fast tier short.
import { beforeAll, describe, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { ANY_MODEL_NETS, OPTIMUM } from './helpers/any-model-nets.js';
import { checkOptimum } from './helpers/optimum-check.js';

describe('regret on whole models, the checkpoint optimum against brute force (wasm)', () => {
  beforeAll(async () => { await selectBackend('wasm'); });
  for (const net of ANY_MODEL_NETS.filter((n) => !n.cpuOnly && n.optimum !== false)) {
    it(`${net.name}: the checkpoint optimum equals a direct minimisation over the stored rounds`, () => checkOptimum(net, OPTIMUM));
  }
});

describe('regret on whole models, the checkpoint optimum against brute force (cpu, the slowest minimisations)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });
  for (const net of ANY_MODEL_NETS.filter((n) => n.slowOptimum && n.optimum !== false)) {
    it(`${net.name}: the checkpoint optimum equals a direct minimisation over the stored rounds`, () => checkOptimum(net, OPTIMUM));
  }
});
