/**
 * Finding plugin packages by convention: config name `regret` → package `@taylorlens/plugin-regret`,
 * resolved from the user's project (cwd) first, then from the core's own location and from the
 * places an application added (the CLI package adds its own, where its plugins are installed), and
 * read through its `taylorlensPlugin` export. The core never names a particular plugin.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PluginModule } from '../types.js';

export const PLUGIN_SCOPE = '@taylorlens';
export const PLUGIN_PREFIX = 'plugin-';

export function pluginPackageName(name: string): string {
  return `${PLUGIN_SCOPE}/${PLUGIN_PREFIX}${name}`;
}

export interface LoadedPluginModule {
  /** Config name (`regret`). */
  name: string;
  packageName: string;
  version: string | null;
  /** Resolved entry file. */
  entry: string;
  module: PluginModule;
}

export type PluginLoadFailure = 'not-installed' | 'no-export' | 'import-failed';

export class PluginLoadError extends Error {
  constructor(readonly pluginName: string, readonly kind: PluginLoadFailure, detail: string) {
    super(detail);
    this.name = 'PluginLoadError';
  }
}

/** Where packages are looked up after the cwd: the core itself, then what applications added. */
interface LookupRoot { label: string; dir: string; require: NodeRequire }
const roots: LookupRoot[] = [{ label: '@taylorlens/core', dir: path.dirname(fileURLToPath(import.meta.url)), require: createRequire(import.meta.url) }];

/**
 * Also look up plugins (and other packages the core loads by name) from `fileUrl`'s location,
 * after the cwd and the core: an application that depends on plugins passes its own
 * `import.meta.url`, so that they are found however the package manager lays them out.
 */
export function addPackageLookup(label: string, fileUrl: string): void {
  const file = fileURLToPath(fileUrl);
  if (roots.some((r) => r.label === label)) return;
  roots.push({ label, dir: path.dirname(file), require: createRequire(file) });
}

/** Where lookups go after the cwd, for messages: "@taylorlens/core and @taylorlens/cli". */
export function lookupPlaces(): string {
  return roots.map((r) => r.label).join(' and from ');
}

/** Resolve a package's entry from `cwd` (the user's project) first, then from the core and the added places. */
export function resolvePackage(pkg: string, cwd: string): string | null {
  for (const req of [createRequire(path.join(path.resolve(cwd), 'package.json')), ...roots.map((r) => r.require)]) {
    try {
      return req.resolve(pkg);
    } catch { /* try the next place */ }
  }
  return null;
}

/** The package.json above a resolved entry file whose name is `pkg`. */
export function packageJsonOf(entry: string, pkg: string): { dir: string; version: string | null } | null {
  for (let dir = path.dirname(entry); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (json.name === pkg) return { dir, version: json.version ?? null };
      } catch { /* unreadable: keep climbing */ }
    }
    if (path.dirname(dir) === dir) return null;
  }
}

const loaded = new Map<string, Promise<LoadedPluginModule>>();

/** Import `@taylorlens/plugin-<name>` and read its `taylorlensPlugin`; throws PluginLoadError. */
export function loadPluginModule(name: string, cwd: string): Promise<LoadedPluginModule> {
  const pkg = pluginPackageName(name);
  const entry = resolvePackage(pkg, cwd);
  if (!entry) {
    return Promise.reject(new PluginLoadError(name, 'not-installed',
      `no package ${pkg} is installed (looked from ${path.resolve(cwd)} and from ${lookupPlaces()})`));
  }
  let p = loaded.get(entry);
  if (!p) {
    p = importPlugin(name, pkg, entry);
    loaded.set(entry, p);
    p.catch(() => loaded.delete(entry));
  }
  return p;
}

async function importPlugin(name: string, pkg: string, entry: string): Promise<LoadedPluginModule> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(entry).href) as Record<string, unknown>;
  } catch (e) {
    throw new PluginLoadError(name, 'import-failed', `${pkg} (${entry}) failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  const plugin = mod.taylorlensPlugin as PluginModule | undefined;
  if (!plugin || typeof plugin !== 'object' || typeof plugin.name !== 'string') {
    throw new PluginLoadError(name, 'no-export',
      `${pkg} has no \`taylorlensPlugin\` export (an object with at least a name); it is not a taylorlens plugin module yet`);
  }
  return { name, packageName: pkg, version: packageJsonOf(entry, pkg)?.version ?? null, entry, module: plugin };
}

/** Every folder that can hold installed packages, from `start` up to the filesystem root. */
function nodeModulesChain(start: string): string[] {
  const out: string[] = [];
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') out.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) return out;
  }
}

/**
 * Names of every `@taylorlens/plugin-*` package visible from `cwd`, from the core or from an added
 * place (the folders Node would search), sorted. Names only: nothing is imported.
 */
export function discoverPluginNames(cwd: string): string[] {
  const names = new Set<string>();
  for (const nm of [cwd, ...roots.map((r) => r.dir)].flatMap(nodeModulesChain)) {
    const scope = path.join(nm, PLUGIN_SCOPE);
    let entries: string[];
    try {
      entries = fs.readdirSync(scope);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.startsWith(PLUGIN_PREFIX) && e.length > PLUGIN_PREFIX.length) names.add(e.slice(PLUGIN_PREFIX.length));
    }
  }
  return [...names].sort();
}

export interface InstalledPlugins {
  modules: LoadedPluginModule[];
  /** Packages found but not usable, with why (no export yet, import error). */
  skipped: { name: string; reason: string; kind: PluginLoadFailure }[];
}

/** Load every discovered plugin package. */
export async function loadInstalledPlugins(cwd: string): Promise<InstalledPlugins> {
  const out: InstalledPlugins = { modules: [], skipped: [] };
  for (const name of discoverPluginNames(cwd)) {
    try {
      out.modules.push(await loadPluginModule(name, cwd));
    } catch (e) {
      const err = e as PluginLoadError;
      out.skipped.push({ name, reason: err.message, kind: err.kind ?? 'import-failed' });
    }
  }
  return out;
}
