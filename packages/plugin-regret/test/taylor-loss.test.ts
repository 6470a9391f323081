import { beforeAll, describe, it } from 'vitest';
import { selectBackend } from '@taylorlens/core';
import { NETS, TANH_NET } from './helpers/nets.js';
import { checkTaylor } from './helpers/taylor-check.js';

describe('Taylor losses of every scope against brute force (cpu)', () => {
  beforeAll(async () => { await selectBackend('cpu'); });
  for (const net of NETS) {
    it(`${net.name}: τ(W_n) = ℓ_n, ∇τ(W_n) = ∇ℓ, and Σ τ^n at W_{n+1} and elsewhere match a brute-force Jacobian`, () => checkTaylor(net));
  }
  it(`${TANH_NET.name} (a smooth activation): the same checks`, () => checkTaylor(TANH_NET));
  it('neuron scopes alone (the bottom layer needs only its Gram diagonal)', () => checkTaylor(NETS[0], {
    network: { enabled: false }, layers: { enabled: false }, neurons: { perLayer: 'all' }, budget: { maxOverhead: 1e6 }, trace: false,
  }));
});
