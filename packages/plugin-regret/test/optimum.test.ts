import { beforeAll, describe, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { checkOptimum } from './helpers/optimum-check.js';
import { BIAS_FREE_NETS, NETS, TIED_NETS } from './helpers/nets.js';

describe('hindsight Taylor optimum', () => {
  beforeAll(async () => { await selectBackend('cpu'); });

  for (const net of [...NETS, ...TIED_NETS, ...BIAS_FREE_NETS]) {
    it(`${net.name}: the checkpoint optimum equals a direct minimisation over all stored rounds, lies in the ball and beats every trajectory point`, () => checkOptimum(net));
  }
});
