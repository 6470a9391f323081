/** The plugin-module protocol entry the CLI and reports find by convention (`taylorlensPlugin`). */
import type { PluginModule } from '@taylorlens/core';
import { DEMO_OPTIONS, PLUGIN_NAME, REGRET_SCHEMA, type RegretOptionsInput } from './options.js';
import { RegretPlugin } from './plugin.js';
import { compareSections, reportSections } from './report/sections.js';

export const taylorlensPlugin: PluginModule = {
  name: PLUGIN_NAME,
  schema: REGRET_SCHEMA,
  // JSON from a config file: the constructor validates it against the schema.
  create: (options: unknown) => new RegretPlugin(options as RegretOptionsInput),
  demoOptions: DEMO_OPTIONS,
  reportSections,
  compareSections,
};
