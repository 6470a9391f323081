import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests import the workspace packages from source, so `pnpm test` needs no build.
const alias = {
  '@taylorlens/core': src('core'),
  '@taylorlens/plugin-regret': src('plugin-regret'),
  '@taylorlens/plugin-activation': src('plugin-activation'),
  '@taylorlens/plugin-optimizers': src('plugin-optimizers'),
  '@taylorlens/sweep': src('sweep'),
  '@taylorlens/cli': src('cli'),
};

// One event-loop turn before every test (why: vitest.setup.ts).
const setupFiles = [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))];

// Tiers by suffix: `*.test.ts` is fast (the default `pnpm test`), `*.slow.test.ts` runs in CI too.
export default defineConfig({
  resolve: { alias },
  test: {
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'fast',
          include: ['packages/*/test/**/*.test.ts', 'examples/test/**/*.test.ts'],
          exclude: ['**/*.slow.test.ts', '**/node_modules/**'],
          pool: 'forks',
          setupFiles,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'slow',
          include: ['packages/*/test/**/*.slow.test.ts', 'examples/test/**/*.slow.test.ts'],
          pool: 'forks',
          setupFiles,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
