/**
 * Options of the regret plugin: one JSON schema (validated by the core's ajv, defaults filled in),
 * and the TypeScript types derived from it — `RegretOptionsInput` as a user writes it,
 * `RegretOptions` as the plugin sees it after validation.
 */
import type { OptionsFromSchema, ResolvedOptionsFromSchema } from '@taylorlens/core';

export const PLUGIN_NAME = 'regret';

const schedule = <E extends number | null>(every: E) => ({
  every: {
    anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }], default: every,
    description: 'Record every k-th round, starting with round offset + 1. null = by method: every round for squared-error statistics (exact and cheap), every 10th for stored rounds (other losses).',
  },
  offset: { type: 'integer', minimum: 0, default: 0 },
  reservoir: {
    anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }], default: null,
    description: 'Keep a uniform random sample of this many recorded rounds instead (stored-round scopes only).',
  },
  subBatch: {
    anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }], default: null,
    description: 'Samples per recorded round for stored-round scopes (the first ones of the shuffled batch). null = by method: 4 for layer and neuron scopes under other losses, the whole batch for the network scope. Statistics scopes always use the whole batch.',
  },
} as const);

/** What `null` schedule options mean, by how a scope is recorded. */
export const AUTO_SCHEDULE = {
  statistics: { every: 1, subBatch: null },
  rounds: { every: 10, subBatch: 4 },
} as const;

/** Neurons per layer: a count, or every neuron. */
const neuronCount = { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'all' }] } as const;

const layerSelection = {
  anyOf: [
    { const: 'all' },
    { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer', minimum: 0 }] }, minItems: 1 },
  ],
  default: 'all',
} as const;

export const REGRET_SCHEMA = {
  title: 'taylorlens regret plugin options',
  type: 'object',
  additionalProperties: false,
  properties: {
    network: {
      type: 'object', additionalProperties: false, default: {},
      properties: { enabled: { type: 'boolean', default: true }, ...schedule(100) },
    },
    layers: {
      type: 'object', additionalProperties: false, default: {},
      properties: { enabled: { type: 'boolean', default: true }, layers: layerSelection, ...schedule(null) },
    },
    neurons: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        layers: layerSelection,
        // One count for every layer, or a count per layer name (layers left out get 50): a wide
        // input layer costs fan-in² per neuron, so it is the one to thin.
        perLayer: {
          anyOf: [neuronCount, { type: 'object', additionalProperties: neuronCount, minProperties: 1 }],
          default: 50,
        },
        seed: { type: 'integer', default: 0 },
        ...schedule(null),
      },
    },
    feasible: {
      type: 'object', additionalProperties: false, default: {},
      description: 'Feasible sets: the ball (always) and, for squared-error statistics, the unconstrained least-norm minimum.',
      properties: {
        ballFactor: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Radius = factor × the largest distance from the centre that the recorded trajectory reached.' },
        unconstrained: { type: 'boolean', default: true },
        rcond: {
          anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'null' }], default: null,
          description: 'Eigenvalues ≤ rcond·λ_max count as zero in the unconstrained minimum; null = max(P, 10)·2⁻²³.',
        },
      },
    },
    checkpoint: {
      type: 'object', additionalProperties: false, default: {},
      properties: { everyEpochs: { type: 'integer', minimum: 1, default: 1 } },
    },
    readings: {
      description: "Readings of 'Taylor optimum': 'hindsight' (the theorem's one comparator for the whole prefix, always computed) and 'perRound' (Σ_n min over K_n of τ^n, the paper's 'optimum at each round': a solve per round, on the perRound.every schedule; layer and neuron scopes).",
      type: 'array', items: { enum: ['hindsight', 'perRound'] }, uniqueItems: true, contains: { const: 'hindsight' }, default: ['hindsight'],
    },
    perRound: {
      type: 'object', additionalProperties: false, default: {},
      properties: { every: { type: 'integer', minimum: 1, default: 10 } },
    },
    solver: {
      type: 'object', additionalProperties: false, default: {},
      description: 'Optimum solvers. maxIterations: L-BFGS steps (layer and neuron scopes) and Newton steps (network scope, non-quadratic losses); gapTolerance: Frank–Wolfe gap relative to |Φ|; memory: L-BFGS pairs. Network scope (certified): tolerance is the KKT residual relative to ‖∇Φ(centre)‖, krylovIterations the Lanczos steps (Hessian products) per trust-region solve.',
      properties: {
        maxIterations: { type: 'integer', minimum: 1, default: 100 },
        gapTolerance: { type: 'number', exclusiveMinimum: 0, default: 1e-6 },
        memory: { type: 'integer', minimum: 1, default: 10 },
        tolerance: { type: 'number', exclusiveMinimum: 0, default: 1e-6 },
        krylovIterations: { type: 'integer', minimum: 1, default: 400 },
      },
    },
    budget: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        memoryMB: { type: 'number', exclusiveMinimum: 0, default: 1024, description: 'RAM for statistics and stored rounds together; stored rounds beyond it are spilled to disk.' },
        diskGB: { type: 'number', exclusiveMinimum: 0, default: 4, description: 'Disk the stored rounds may take over the whole run (estimated up front).' },
        maxOverhead: { type: 'number', exclusiveMinimum: 0, default: 2, description: 'Refuse (or, for default selections, skip) scopes whose estimated per-round cost exceeds this multiple of a training step.' },
      },
    },
    trace: { type: 'boolean', default: true, description: 'Per-round Taylor values and per-checkpoint optima into <traceDir>/regret/ when the store traces.' },
  },
} as const;

/** Options as a user writes them (every option has a default). */
export type RegretOptionsInput = OptionsFromSchema<typeof REGRET_SCHEMA>;
/** Options after validation, every default filled in. */
export type RegretOptions = ResolvedOptionsFromSchema<typeof REGRET_SCHEMA>;
export type LayerSelection = RegretOptions['layers']['layers'];
export type NeuronCount = number | 'all';

/** What the demo run uses: every scope, cheap schedules. */
export const DEMO_OPTIONS: RegretOptionsInput = {
  network: { every: 20 },
  neurons: { perLayer: 10 },
};
