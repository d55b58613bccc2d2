// npm run build: the CLI bundle in dist/ (code-split so each command loads on demand, the
// receiver's shared modules bundled in from source) and the receiver's deployable zip.
// With --cli-only (the `prepare` script), the CLI bundle alone.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
// Bundled in, not loaded from node_modules: zod's ESM build is some 240 files and every
// command loads it, so resolving them cost more start-up than the rest of the CLI (measured:
// `logs grep` sent its first request 365 ms after start with zod external). The small pure-JS
// libraries every command needs come along; the SDK, pg and the native engine stay external.
const BUNDLED = new Set(['zod', 'commander', 'chalk']);
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })
  .filter((d) => !BUNDLED.has(d))
  .flatMap((d) => [d, `${d}/*`]);

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  conditions: ['source'],
  external,
  // commander is CommonJS: its require('node:events') needs a require in the ESM bundle.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});

// `prepare` (npm ci, npm pack, npx or npm i -g from a folder or git) needs only the CLI: the
// zip is for deploying the Lambda. The receiver's script is run with node, not through npm: a
// nested `npm run --workspace` fails under `npm i -g` ("Workspaces not supported for global
// packages", npm_config_global is inherited).
if (!process.argv.includes('--cli-only')) {
  execFileSync(process.execPath, [fileURLToPath(new URL('../packages/log-format/scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });
  execFileSync(process.execPath, [fileURLToPath(new URL('../packages/log-drain-receiver/scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });
}
