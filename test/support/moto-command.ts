// How to start moto_server on this machine, found once and without side effects: moto.ts
// decides what tests do when it is missing, the sandbox (scripts/sandbox.ts) stops at once.
import { commandWorks } from './stand-in.js';

export const MOTO_INSTALL_HINT = 'Install moto 5 with its server extra (pip install "moto[server]>=5") or Debian\'s python3-moto, so that `moto_server` or `python3 -m moto.server` runs.';

/** Where the test run's global set-up leaves what it found (JSON; null when missing). */
export const MOTO_COMMAND_ENV = 'RAXX_TEST_MOTO_COMMAND';

export function findMoto(): [string, string[]] | undefined {
  if (commandWorks('moto_server', ['--help'])) return ['moto_server', []];
  if (commandWorks('python3', ['-c', 'import moto.server'])) return ['python3', ['-m', 'moto.server']];
  return undefined;
}

/** The command and leading arguments that run moto's server, or undefined when it is missing. */
export const motoCommand = found();

function found(): [string, string[]] | undefined {
  const known = process.env[MOTO_COMMAND_ENV];
  if (known === undefined) return findMoto();
  return (JSON.parse(known) as [string, string[]] | null) ?? undefined;
}
