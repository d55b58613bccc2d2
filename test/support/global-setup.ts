// Runs once around all the test files.
// - Finding moto costs about a second of CPU (python starts and imports moto), and every test
//   file that needs it would otherwise pay that in its own worker.
// - The run gets its own temp directory (TMPDIR, inherited by the workers and what they
//   start): afterwards it must be empty, so a test that leaves a folder behind fails the run
//   instead of filling the machine's temp directory run after run.
// - The CLI that the pseudo-terminal tests start is bundled from source once, in that
//   directory (source-cli-bundle.ts), and again before each rerun in watch mode.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findMoto, MOTO_COMMAND_ENV } from './moto-command.js';
import { bundleSourceCli, SOURCE_CLI_ENV } from './source-cli-bundle.js';

export default async function setup(project: TestProject): Promise<() => void> {
  process.env[MOTO_COMMAND_ENV] = JSON.stringify(findMoto() ?? null);

  const systemTmp = tmpdir();
  const runTmp = mkdtempSync(join(systemTmp, 'raxx-ops-test-run-'));
  // The throwaway PostgreSQL clusters run as the postgres user, who must reach their folders.
  chmodSync(runTmp, 0o755);
  process.env.TMPDIR = runTmp;
  const before = new Set(raxxEntries(systemTmp));

  const cliDir = join(runTmp, 'raxx-ops-source-cli');
  const bundle = async () => {
    rmSync(cliDir, { recursive: true, force: true });
    process.env[SOURCE_CLI_ENV] = await bundleSourceCli(cliDir);
  };
  try {
    await bundle();
  } catch (err) {
    rmSync(runTmp, { recursive: true, force: true }); // no run follows, so no teardown
    throw err;
  }
  project.onTestsRerun(bundle);

  return function teardown() {
    process.env.TMPDIR = systemTmp;
    rmSync(cliDir, { recursive: true, force: true });
    const left = readdirSync(runTmp);
    rmSync(runTmp, { recursive: true, force: true });
    // Programs started with a minimal environment (no TMPDIR) use the machine's directory;
    // other runs may be writing there at the same time, so this is only a warning.
    const outside = raxxEntries(systemTmp).filter((e) => !before.has(e) && !e.startsWith('raxx-ops-test-run-'));
    if (outside.length > 0) console.warn(`[temp] new raxx entries in ${systemTmp} during the run (from this run or another one): ${outside.join(', ')}`);
    if (left.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
      console.error(`[temp] the tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in their temp directory: ${left.join(', ')}. Make them with tempDir() from test/support/temp.ts, or remove them in afterAll/afterEach.`);
      process.exitCode = 1;
    }
  };
}

function raxxEntries(dir: string): string[] {
  return readdirSync(dir).filter((e) => e.startsWith('raxx'));
}
