// npm run build: the CLI bundle in dist/ (code-split so each command loads on demand, the
// receiver's shared modules bundled in from source) and the receiver's deployable zip.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const external = Object.keys(pkg.dependencies ?? {}).flatMap((d) => [d, `${d}/*`]);

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
  logLevel: 'warning',
});

execFileSync('npm', ['run', 'build', '--workspace', '@raxx/log-drain-receiver', '--if-present'], { stdio: 'inherit' });
