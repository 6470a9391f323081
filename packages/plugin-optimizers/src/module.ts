import type { PluginModule } from '@taylorlens/core';
import { namedOptimizers } from './optimizers/index.js';

/** How the CLI finds these optimizers by config name (`"optimizer": { "name": "rmsprop" }`). */
export const taylorlensPlugin: PluginModule = {
  name: 'optimizers',
  optimizers: Object.fromEntries(Object.entries(namedOptimizers).map(([name, factory]) => [
    name, { schema: factory.schema, create: (options: unknown) => factory(options as never) },
  ])),
};
