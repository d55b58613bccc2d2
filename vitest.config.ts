import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const receiverSrc = fileURLToPath(new URL('./packages/log-drain-receiver/src/', import.meta.url));
const formatSrc = fileURLToPath(new URL('./packages/log-format/src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the workspaces from their TypeScript source, never from a build: a
    // fresh clone has no dist/, and a stale dist/ must not hide a change to the source.
    alias: [
      { find: /^@raxx\/log-drain-receiver\/(.*)$/, replacement: `${receiverSrc}$1.ts` },
      { find: /^@raxx\/log-format\/(.*)$/, replacement: `${formatSrc}$1.ts` },
    ],
    conditions: ['source'],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most test files wait on their stand-ins (moto, PostgreSQL, child processes), not on the
    // CPU: on two cores, vitest's default of one worker per core but one left them idle.
    maxWorkers: 3,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
