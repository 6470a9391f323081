/** The plugin-module protocol entry the CLI and reports find by convention (`taylorlensPlugin`). */
import type { PluginModule } from '@taylorlens/core';
import { ACTIVATION_SCHEMA, DEMO_OPTIONS, PLUGIN_NAME, type ActivationOptions } from './options.js';
import { ActivationPlugin } from './plugin.js';
import { compareSections, reportSections } from './report/sections.js';

export const taylorlensPlugin: PluginModule = {
  name: PLUGIN_NAME,
  schema: ACTIVATION_SCHEMA,
  create: (options: unknown) => new ActivationPlugin(options as ActivationOptions),
  demoOptions: DEMO_OPTIONS,
  reportSections,
  compareSections,
};
