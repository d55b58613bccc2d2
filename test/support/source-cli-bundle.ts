// The CLI the pseudo-terminal tests start (sourceCli() in ./pty.ts), bundled from the
// TypeScript source once per test run instead of compiled by tsx in every process: on a
// loaded two-core machine each start through tsx cost a second or two more, and some files
// start the CLI dozens of times. It is the same launcher (raxx-ops-from-source.mjs around
// src/cli.ts), built like dist/ (scripts/build.mjs) but into the run's own temp directory, so
// no stale build can stand in for the source. The global set-up builds it again before each
// rerun in watch mode.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const launcher = fileURLToPath(new URL('./raxx-ops-from-source.mjs', import.meta.url));

/** Where the global set-up leaves the bundle's path for the test workers. */
export const SOURCE_CLI_ENV = 'RAXX_TEST_SOURCE_CLI';

/** Bundles the CLI into `dir` (made here) and returns the file to run with node. */
export async function bundleSourceCli(dir: string): Promise<string> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
  // As in dist/: zod, commander and chalk bundled in, the other installed packages external
  // (found through a link to node_modules), the workspaces (@raxx/*) bundled from source.
  const bundled = new Set(['zod', 'commander', 'chalk']);
  const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })
    .filter((d) => !bundled.has(d))
    .flatMap((d) => [d, `${d}/*`]);
  const { build } = await import('esbuild'); // only the global set-up builds: workers read the path
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await build({
    entryPoints: { 'raxx-ops': launcher },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['source'],
    external,
    // commander is CommonJS: its require('node:events') needs a require in the ESM bundle.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return join(dir, 'raxx-ops.mjs');
}
