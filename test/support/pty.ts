// Runs a command on a real pseudo-terminal (test/support/pty-driver.py, Python's `pty`
// module: no native build) and drives it as an operator's keyboard would. Spinners and
// prompts behave as on a terminal window: ora puts stdin in raw mode, so a Ctrl-C byte
// reaches the program as a byte, not as a signal — which `kill -INT` in a test never shows.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { SOURCE_CLI_ENV } from './source-cli-bundle.js';
import { commandWorks, requireStandIn } from './stand-in.js';

const driver = fileURLToPath(new URL('./pty-driver.py', import.meta.url));
const launcher = fileURLToPath(new URL('./raxx-ops-from-source.mjs', import.meta.url));
export const root = fileURLToPath(new URL('../../', import.meta.url));

export const CTRL_C = '\u0003';

export const ptyAvailable = requireStandIn(
  'python3 (pty module)',
  commandWorks('python3', ['-c', 'import pty, termios, fcntl']),
  "install Python 3 (Debian: apt-get install python3); the pseudo-terminal tests drive the CLI through Python's pty module",
);

/**
 * The command line of `raxx-ops ARGS` run from the TypeScript source with the launcher's own
 * Ctrl-C and exit handling (bin/launch.js): the bundle the global set-up made from the source
 * (source-cli-bundle.ts), or, where no global set-up ran, the source itself through tsx.
 */
export function sourceCli(args: string[]): string[] {
  const bundled = process.env[SOURCE_CLI_ENV];
  if (bundled) return [process.execPath, bundled, ...args];
  return [process.execPath, '--conditions=source', '--import', 'tsx', launcher, ...args];
}

export interface Exit {
  /** The exit code (128 + N when signal N ended the program). */
  code: number;
  /** When it exited (Date.now()). */
  at: number;
}

export interface PtySession {
  /** Everything the terminal showed so far (stdout and stderr as they were interleaved). */
  output(): string;
  /** Resolves once the output matches; rejects after timeoutMs with what was shown. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Keys typed on the keyboard (`'y\r'`, CTRL_C). */
  type(keys: string): void;
  exited: Promise<Exit>;
  /** Kills the program if it still runs (the driver takes it along). */
  kill(): void;
}

const sessions = new Set<ChildProcess>();

/** Kills every session still running: call it in afterEach. */
export function killAll(): void {
  for (const child of sessions) child.kill('SIGTERM');
  sessions.clear();
}

export function spawnPty(argv: string[], opts: { env: Record<string, string | undefined>; cwd?: string; cols?: number; rows?: number }): PtySession {
  const child = spawn('python3', [driver, String(opts.cols ?? 100), String(opts.rows ?? 30), '--', ...argv], {
    cwd: opts.cwd ?? root,
    env: { TERM: 'xterm-256color', ...opts.env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  sessions.add(child);
  let shown = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    shown += chunk;
    for (const w of waiters) w();
  });
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      sessions.delete(child);
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15), at: Date.now() });
      for (const w of waiters) w();
    });
  });
  const matches = (p: RegExp | string) => (typeof p === 'string' ? shown.includes(p) : p.test(shown));

  return {
    output: () => shown,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches(pattern)) {
            done();
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`exited before showing ${String(pattern)}; the terminal showed:\n${shown}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms; the terminal showed:\n${shown}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    type(keys) {
      child.stdin.write(keys);
    },
    exited,
    kill() {
      child.kill('SIGTERM');
    },
  };
}

/** Types Ctrl-C and expects the program to stop at once: exit 130 within `withinMs` of the press. */
export async function pressCtrlC(t: PtySession, withinMs = 1000): Promise<Exit> {
  const pressed = Date.now();
  t.type(CTRL_C);
  const exit = await t.exited;
  expect(exit.code, t.output()).toBe(130);
  expect(exit.at - pressed, `exited ${exit.at - pressed} ms after Ctrl-C`).toBeLessThan(withinMs);
  return exit;
}
