// Runs the whole CLI in-process, as an operator would type it, with stdout and stderr
// captured apart. The environment is only what the test gives (plus PATH and an empty HOME),
// so nothing from the machine running the tests leaks in.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (for --json runs). */
  json<T = unknown>(): T;
  /** stdout parsed as NDJSON records. */
  records<T = unknown>(): T[];
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  prompt?: (question: string) => Promise<boolean>;
  signal?: AbortSignal;
  now?: () => Date;
  /** Pretend stderr is a terminal (spinners, prompts). */
  tty?: boolean;
}

const emptyHome = mkdtempSync(join(tmpdir(), 'raxx-ops-home-'));

export async function runCli(argv: string[], opts: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: emptyHome, NO_COLOR: '1' };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s), isTTY: opts.tty ?? false },
    env,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      return JSON.parse(stdout) as T;
    },
    records<T>() {
      return stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as T);
    },
  };
}
