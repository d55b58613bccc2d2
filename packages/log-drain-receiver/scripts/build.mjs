// npm run build -w @raxx/log-drain-receiver:
//   dist/lambda/index.mjs          the Lambda (handlers `index.handler` and `index.compact`): one minified ESM file,
//                                  AWS SDK and zod bundled in, with its source map;
//   dist/lambda/shipping.mjs       the shipping system's handlers (`shipping.dashboard`, `shipping.dailyShip`):
//                                  the CLI's library code, in a file of its own so the drain's cold start
//                                  does not load it;
//   dist/log-drain-receiver.zip    those files and their maps, ready for `aws lambda update-function-code`;
//   dist/esm/*.js                  the modules for the package's `exports` "default" condition.
import { build } from 'esbuild';
import { zipSync } from 'fflate';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const dist = `${pkg}dist`;

await rm(dist, { recursive: true, force: true });

/** What both Lambda bundles share: one minified ESM file for Node 20 with its source map. */
const lambdaBundle = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'none',
  // The SDK's ESM builds tree-shake better than its CommonJS ones.
  mainFields: ['module', 'main'],
  // Bundled CommonJS code may still require() Node built-ins; ESM has no require of its own.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  // The format modules are bundled from their TypeScript source. An alias, not the `source`
  // condition: some dependencies publish a `source` build too, and the drain's bundle grew
  // by 150 KB with it.
  alias: { '@raxx/log-format': fileURLToPath(new URL('../../log-format/src', import.meta.url)) },
  logLevel: 'warning',
};

await build({
  ...lambdaBundle,
  // One bundle, two handlers: `index.handler` (the drain) and `index.compact` (the daily
  // compactor, run by a schedule).
  stdin: {
    contents: "export { handler } from './handler.ts';\nexport { compact } from './compact-handler.ts';\n",
    resolveDir: `${pkg}src`,
    sourcefile: 'lambda-entry.ts',
    loader: 'ts',
  },
  outfile: `${dist}/lambda/index.mjs`,
});

await build({
  ...lambdaBundle,
  stdin: {
    contents: "export { dashboard, dailyShip } from '../../../src/lambda/shipping.ts';\n",
    resolveDir: `${pkg}src`,
    sourcefile: 'shipping-entry.ts',
    loader: 'ts',
  },
  outfile: `${dist}/lambda/shipping.mjs`,
  // The CLI imports the workspaces' modules by name: from their source, as the tests do.
  conditions: ['source'],
});

// Deterministic zip: fixed timestamps, so the same source gives the same CodeSha256.
const mtime = new Date('2020-01-01T00:00:00Z');
const zip = zipSync(
  {
    'index.mjs': [await readFile(`${dist}/lambda/index.mjs`), { mtime }],
    'index.mjs.map': [await readFile(`${dist}/lambda/index.mjs.map`), { mtime }],
    // Its map stays in dist/lambda: in the zip it would double the upload for the drain too.
    'shipping.mjs': [await readFile(`${dist}/lambda/shipping.mjs`), { mtime }],
  },
  { level: 9 },
);
await writeFile(`${dist}/log-drain-receiver.zip`, zip);

// One file per module, imports left as they are (`./logplex.js` …), dependencies external.
const sources = (await readdir(`${pkg}src`)).filter((f) => f.endsWith('.ts')).map((f) => `${pkg}src/${f}`);
await build({
  entryPoints: sources,
  outdir: `${dist}/esm`,
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
});

process.stderr.write(`log-drain-receiver: dist/log-drain-receiver.zip ${(zip.length / 1024).toFixed(0)} KiB\n`);
