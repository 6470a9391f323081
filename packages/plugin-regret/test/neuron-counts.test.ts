import { beforeAll, describe, expect, it } from 'vitest';
import { modelAnatomy, OptionsError, selectBackend, type ModelAnatomy } from '@taylorlens/core';
import { RegretPlugin, resolveScopes } from '@taylorlens/plugin-regret';
import { tinyDense } from '../../core/test/helpers/models.js';

/** neurons.perLayer as a map: a count per layer, 50 for layers it leaves out. */
describe('neurons.perLayer per layer', () => {
  let anatomy: ModelAnatomy;
  let l0: string, l1: string, l2: string;
  beforeAll(async () => {
    await selectBackend('cpu');
    anatomy = modelAnatomy(tinyDense([9, 8, 7, 6], 3));
    [l0, l1, l2] = anatomy.layers.map((p) => p.name);
  });
  const scopes = (perLayer: unknown) => {
    const plugin = new RegretPlugin({ neurons: { perLayer } });
    return resolveScopes(anatomy, plugin.options, 1).filter((s) => s.kind === 'neurons');
  };

  it('samples the count each layer names, and all units of layers it leaves out', () => {
    const s = scopes({ [l0]: 3, [l2]: 'all' });
    expect(s.map((d) => d.units!.length)).toEqual([3, 7, 6]);
    expect(new Set(s[0].units).size).toBe(3);
    // The same layer's sample does not depend on how other layers are counted.
    expect(scopes({ [l0]: 3, [l1]: 2 })[0].units).toEqual(s[0].units);
    expect(scopes(3)[0].units).toEqual(s[0].units);
  });

  it('a layer the map names but the selection leaves out is an error naming both', () => {
    const plugin = new RegretPlugin({ neurons: { layers: [l0, l1], perLayer: { [l2]: 2 } } });
    expect(() => resolveScopes(anatomy, plugin.options, 1)).toThrow(new RegExp(`neurons.perLayer names layer "${l2}".*"${l0}", "${l1}"`));
  });

  it('bad counts are refused with the field named', () => {
    expect(() => new RegretPlugin({ neurons: { perLayer: { [l0]: 0 } } })).toThrow(OptionsError);
    expect(() => new RegretPlugin({ neurons: { perLayer: { [l0]: 0 } } })).toThrow(/perLayer/);
    expect(() => new RegretPlugin({ neurons: { perLayer: {} } })).toThrow(/perLayer/);
  });
});
