import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Import the receiver workspace from its TypeScript source, not a build.
    conditions: ['source'],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
  },
});
