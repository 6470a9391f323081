/**
 * Options of the activation plugin: one JSON schema (checked with ajv, defaults filled in) and the
 * TypeScript types derived from it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { OptionsFromSchema, ResolvedOptionsFromSchema } from '@taylorlens/core';
import { DEFAULT_SINGULAR_VALUE_COUNT, DEFAULT_SINGULAR_VALUE_FLOOR } from './measures/index.js';

export const PLUGIN_NAME = 'activation';

export const DEFAULT_MAX_CONV_UNITS = 2000;

const positiveInt = { type: 'integer', minimum: 1 } as const;

export const ACTIVATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    probeSize: { ...positiveInt, default: 1000, description: 'D, probe inputs drawn from the training data (all samples when there are fewer).' },
    probeIndices: {
      type: 'array', minItems: 1, uniqueItems: true, items: { type: 'integer', minimum: 0 },
      description: 'Exact indices into the training data to use as the probe set (overrides probeSize).',
    },
    seed: { type: 'integer', minimum: 0, default: 0, description: 'Seeds the probe draw (SeededRandom(seed)) and the unit sampling (SeededRandom(seed + 1)).' },
    every: {
      default: { epochs: 1 },
      description: 'Snapshot schedule: at every k-th epoch end, or after every k-th round (1-based rounds).',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['epochs'], properties: { epochs: positiveInt } },
        { type: 'object', additionalProperties: false, required: ['rounds'], properties: { rounds: positiveInt } },
      ],
    },
    atStart: { type: 'boolean', default: true, description: 'Also snapshot at the start of training, before any update (snapshot 0).' },
    choices: { type: 'boolean', default: false, description: "With the default layers, also record max-pool and Maximum/Minimum choices (default: the paper's units, activations only)." },
    layers: {
      type: 'array', minItems: 1, items: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] },
      description: "Layers to observe, by layer name or Dense/Conv2D index; default every piecewise-linear hidden activation unit (Dense/Conv activations, activation layers) but the output layer's, plus the max-pool and Maximum/Minimum choices when choices is true.",
    },
    maxUnitsPerLayer: {
      description: 'Cap on units per layer by kind, sampled with the seed; default all for dense, 2000 for conv2d, other convolutions (conv), separate activation layers (activation), max-pooling (pool) and Maximum/Minimum (merge).',
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dense: positiveInt,
        conv2d: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        conv: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        activation: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        pool: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
        merge: { ...positiveInt, default: DEFAULT_MAX_CONV_UNITS },
      },
    },
    chunkSize: { ...positiveInt, description: 'Probe inputs per forward pass; default: as many as fit in 32M floats of layer outputs (the whole set for dense nets).' },
    floor: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_SINGULAR_VALUE_FLOOR, description: 'Singular values below this count as it in the log-product.' },
    singularValues: { ...positiveInt, default: DEFAULT_SINGULAR_VALUE_COUNT, description: 'How many of the largest singular values the log-product sums.' },
    outDir: { type: 'string', minLength: 1, description: "Folder for activation.json, configurations.npy and pieces.npy; default the run store's activation/ folder, else none (memory only)." },
  },
} as const;

/** Options as JSON (config files, the CLI), as a user writes them. */
export type ActivationOptions = OptionsFromSchema<typeof ACTIVATION_SCHEMA>;
/** Options after validation, defaults filled in. */
export type ResolvedOptions = ResolvedOptionsFromSchema<typeof ACTIVATION_SCHEMA>;
/** Snapshot schedule: at every k-th epoch end, or after every k-th round (1-based rounds). */
export type Every = ResolvedOptions['every'];

/** What code (not JSON) may pass as well: the probe set itself. */
export interface ActivationPluginOptions extends ActivationOptions {
  /** The probe set `[D, ...inputShape]`; owned by the caller (not disposed). Overrides `probeSize`/`probeIndices`. */
  probe?: tf.Tensor;
}

/** A modest configuration for the demo run. */
export const DEMO_OPTIONS: ActivationOptions = { probeSize: 500, every: { epochs: 1 } };
