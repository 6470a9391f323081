import { adagrad } from './adagrad.js';
import { adam, adamw, amsgrad } from './adam.js';
import { noisySGD } from './noisy-sgd.js';
import { rmsprop } from './rmsprop.js';
import { rprop } from './rprop.js';
import { momentum, nesterov, sgd } from './sgd.js';
import { signSGD } from './sign-sgd.js';

export * from './adagrad.js';
export * from './adam.js';
export * from './noisy-sgd.js';
export * from './rmsprop.js';
export * from './rprop.js';
export * from './sgd.js';
export * from './sign-sgd.js';

/** The named optimizers by their short name (for CLIs and option files). */
export const namedOptimizers = { sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, amsgrad, rprop, signSGD, noisySGD } as const;
export type NamedOptimizer = keyof typeof namedOptimizers;
