// The package as operators get it: `npm pack` (which builds, through `prepare`), then the
// tarball installed into an empty prefix as `npm i -g` does, and the installed raxx-ops run
// from there — no source, no devDependencies, no checkout next to it. Dependencies come
// from the npm cache that `npm ci` filled (--prefer-offline); only what the cache lacks is
// fetched. Note: `npm pack` rebuilds dist/ in this checkout (the same files `npm run build`
// makes); no test runs the CLI from dist/.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { root } from './support/pty.js';
import { tempDir } from './support/temp.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

describe('the npm package', () => {
  it('packs with dist/, bin/ and docs/, installs into an empty prefix, and runs --version and config show', async () => {
    const packDir = tempDir('raxx-ops-pack-');
    const prefix = tempDir('raxx-ops-prefix-');
    const home = tempDir('raxx-ops-pkg-home-');

    await run('npm', ['pack', '--pack-destination', packDir, '--loglevel', 'error'], { cwd: root, maxBuffer: 16 << 20 });
    const [tarball] = readdirSync(packDir);
    expect(tarball).toBe(`${pkg.name}-${pkg.version}.tgz`);
    const tgz = join(packDir, tarball!);

    const files = (await run('tar', ['-tzf', tgz])).stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['bin/raxx-ops', 'bin/launch.js', 'dist/cli.js', 'README.md', 'package.json']));
    expect(files.filter((f) => /^(src|test|scripts|bench|packages)\//.test(f))).toEqual([]);
    // Every docs/ page the README links to is in the package.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const docLinks = [...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!);
    expect(docLinks.length).toBeGreaterThan(0);
    for (const link of docLinks) expect(files, `README links ${link}`).toContain(link);

    await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error', tgz], {
      cwd: packDir,
      maxBuffer: 16 << 20,
    });
    const bin = join(prefix, 'bin', 'raxx-ops');
    // Only what an operator's shell has: no TMPDIR games, no AWS or Heroku settings.
    const env = { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' };

    const version = await run(bin, ['--version'], { env, cwd: home });
    expect(version.stdout.trim()).toBe(pkg.version);

    const show = await run(bin, ['config', 'show', '--json'], { env, cwd: home });
    const doc = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(JSON.stringify(doc)).toContain('raxx-heroku-logs-prod');

    // The installed tree holds the runtime dependencies, not the development ones.
    const installed = readdirSync(join(prefix, 'lib', 'node_modules', pkg.name, 'node_modules'));
    expect(installed).toEqual(expect.arrayContaining(['commander', 'zod']));
    expect(installed).not.toContain('vitest');
    expect(installed).not.toContain('esbuild');
  }, 120_000);
});
