// Options are validated against each optimizer's JSON schema: errors name the option's JSON
// pointer and what was expected; defaults are filled in; schemas are checked when defined.
import { describe, expect, it } from 'vitest';
import { adam, defineOptimizer, noisySGD, OptionsError, rmsprop, rprop, scaleByLearningRate, sgd } from '@taylorlens/plugin-optimizers';

function errorOf(make: () => unknown): OptionsError {
  try {
    make();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionsError);
    return e as OptionsError;
  }
  throw new Error('expected an OptionsError');
}

describe('option validation', () => {
  it('names the path and the bound of an out-of-range option', () => {
    const e = errorOf(() => adam({ beta1: 1.5 }));
    expect(e.paths).toEqual(['/beta1']);
    expect(e.message).toBe('taylorlens.Adam: invalid options: /beta1 must be < 1 (got 1.5)');
  });

  it('names the path and the type of a mistyped option', () => {
    const e = errorOf(() => sgd({ learningRate: 'fast' as unknown as number }));
    expect(e.paths).toEqual(['/learningRate']);
    expect(e.message).toContain('/learningRate must be number (got "fast")');
  });

  it('names an unknown option (a typo) instead of ignoring it', () => {
    const e = errorOf(() => adam({ learnignRate: 0.1 } as never));
    expect(e.paths).toEqual(['/learnignRate']);
    expect(e.message).toContain('/learnignRate is not a known option');
  });

  it('reports every problem at once', () => {
    const e = errorOf(() => rprop({ etaPlus: 0.9, etaMinus: 2 }));
    expect(e.paths.sort()).toEqual(['/etaMinus', '/etaPlus']);
  });

  it('rejects non-positive learning rates, non-integer seeds and wrong booleans', () => {
    expect(errorOf(() => sgd({ learningRate: 0 })).message).toContain('/learningRate must be > 0 (got 0)');
    expect(errorOf(() => noisySGD({ seed: 1.5 })).message).toContain('/seed must be integer (got 1.5)');
    expect(errorOf(() => rmsprop({ centered: 'yes' as unknown as boolean })).paths).toEqual(['/centered']);
  });

  it('rejects options that are not JSON data', () => {
    expect(errorOf(() => sgd({ learningRate: (() => 0.1) as unknown as number })).message).toContain('plain JSON data');
  });

  it('fills defaults without touching the caller\'s object', () => {
    const given = { learningRate: 0.5 };
    const optimizer = adam(given);
    expect(optimizer.options).toEqual({ learningRate: 0.5, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    expect(given).toEqual({ learningRate: 0.5 });
  });

  it('a required option without default is reported missing', () => {
    const scaled = defineOptimizer<{ rate: number }>({
      name: 'test.RequiredRate',
      schema: { type: 'object', required: ['rate'], properties: { rate: { type: 'number' } } },
      pieces: (o) => [scaleByLearningRate(o.rate)],
    });
    const e = errorOf(() => scaled({}));
    expect(e.paths).toEqual(['/rate']);
    expect(e.message).toContain('/rate is required');
    expect(scaled({ rate: 2 }).options).toEqual({ rate: 2 });
  });

  it('an invalid schema fails when the optimizer is defined', () => {
    expect(() => defineOptimizer({ name: 'test.BadSchema', schema: { type: 'object', properties: { x: { type: 'nmber' } } }, pieces: () => [] }))
      .toThrow(/test\.BadSchema: invalid options schema/);
  });

  it('refuses to shadow a tfjs class name', () => {
    expect(() => defineOptimizer({ name: 'Adam', schema: { type: 'object' }, pieces: () => [] })).toThrow(/"Adam" is already registered/);
  });
});
