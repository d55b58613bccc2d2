// npm run build -w @raxx/log-format: dist/esm/*.js, one file per module with imports left as
// they are, for the package's `exports` "default" condition (plain `node`, the benchmarks).
// The CLI and the Lambda bundle these modules from source instead.
import { build } from 'esbuild';
import { readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
await rm(`${pkg}dist`, { recursive: true, force: true });
const sources = (await readdir(`${pkg}src`)).filter((f) => f.endsWith('.ts')).map((f) => `${pkg}src/${f}`);
await build({ entryPoints: sources, outdir: `${pkg}dist/esm`, bundle: false, format: 'esm', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' });
