/** Exploration measures on packed activation configurations (design notes, "Activation configurations and exploration"). */
export * from '../bits.js';
export * from '../fields.js';
export * from '../configurations.js';
export * from './popcount.js';
export * from './novelty.js';
export * from './switches.js';
export * from './unit-bitsets.js';
export * from './distinct-rows.js';
export * from './centred-gram.js';
export * from './singular-values.js';
