// Plugins are looked up from the cwd, the core, and places an application adds: the CLI adds its
// own, since the plugins it depends on are installed next to it (under pnpm, out of the core's sight).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { addPackageLookup, discoverPluginNames, loadPluginModule } from '@taylorlens/core';
import { FIXTURES } from '../../core/test/fixtures/project.js';
import { memoryIo } from '../src/io.js';
import { main } from '../src/program.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorlens-lookup-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const empty = path.join(tmp, 'empty');
fs.mkdirSync(empty);

describe('plugin lookup', () => {
  it('a package installed only next to an application is found once the application adds its location', async () => {
    // An "application" folder whose node_modules holds the echo fixture plugin, as @taylorlens/cli holds its plugins.
    const app = path.join(tmp, 'app');
    fs.mkdirSync(path.join(app, 'node_modules', '@taylorlens'), { recursive: true });
    fs.symlinkSync(path.join(FIXTURES, 'plugin-echo'), path.join(app, 'node_modules', '@taylorlens', 'plugin-echo'), 'dir');
    fs.writeFileSync(path.join(app, 'main.js'), '');

    expect(discoverPluginNames(empty)).not.toContain('echo');
    await expect(loadPluginModule('echo', empty)).rejects.toThrow(/no package @taylorlens\/plugin-echo is installed \(looked from .* and from @taylorlens\/core\)$/);

    addPackageLookup('test-app', pathToFileURL(path.join(app, 'main.js')).href);
    expect(discoverPluginNames(empty)).toContain('echo');
    const echo = await loadPluginModule('echo', empty);
    expect(echo.packageName).toBe('@taylorlens/plugin-echo');
    await expect(loadPluginModule('nope', empty)).rejects.toThrow(/\(looked from .* and from @taylorlens\/core and from test-app\)$/);
  });

  it('the CLI adds its own location: from an empty folder it finds the three plugins it depends on', async () => {
    const io = memoryIo(empty);
    expect(await main(['doctor'], io), io.err()).toBe(0);
    for (const p of ['activation', 'optimizers', 'regret']) expect(io.out()).toMatch(new RegExp(`^ {2}${p}: @taylorlens/plugin-${p} `, 'm'));
    await expect(loadPluginModule('nope', empty)).rejects.toThrow(/and from @taylorlens\/cli\)$/);
  });
});
