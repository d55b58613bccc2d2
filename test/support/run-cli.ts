// Runs the whole CLI in-process, as an operator would type it, with stdout and stderr
// captured apart. The environment is only what the test gives (plus PATH and an empty HOME),
// so nothing from the machine running the tests leaks in.
import { main } from '../../src/cli.js';
import { tempDir } from './temp.js';

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
  prompt?: (question: string) => boolean | Promise<boolean>;
  signal?: AbortSignal;
  now?: () => Date;
  /** What the command reads as stdin (`-`). */
  stdin?: NodeJS.ReadableStream;
  /** Pretend stderr is a terminal (spinners, prompts). */
  tty?: boolean;
  /** Called with everything written to stdout so far, after each write (to act mid-run). */
  onStdout?: (stdout: string) => void;
  /** The same for stderr (a warning the run prints mid-way). */
  onStderr?: (stderr: string) => void;
}

const emptyHome = tempDir('raxx-ops-home-');

export async function runCli(argv: string[], opts: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: emptyHome, NO_COLOR: '1' };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const prompt = opts.prompt;
  const errWrite = (s: string) => {
    stderr += s;
    opts.onStderr?.(stderr);
    return true;
  };
  const code = await main(argv, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        opts.onStdout?.(stdout);
        return true;
      },
      isTTY: false,
    },
    stderr: opts.tty ? fakeTerminal(errWrite) : { write: errWrite, isTTY: false },
    env,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.stdin ? { stdin: opts.stdin } : {}),
    ...(prompt ? { prompt: (q: string) => Promise.resolve(prompt(q)) } : {}),
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

/**
 * Enough of a tty.WriteStream for spinners (ora moves the cursor and clears lines); the
 * control sequences are kept in the captured text, as a terminal would receive them.
 */
function fakeTerminal(write: (s: string) => void) {
  const ok = (cb?: () => void) => {
    cb?.();
    return true;
  };
  return {
    isTTY: true,
    columns: 100,
    rows: 40,
    write: (s: string) => {
      write(s);
      return true;
    },
    cursorTo: (x: number, y?: number | (() => void), cb?: () => void) => {
      write(typeof y === 'number' ? `\u001b[${y + 1};${x + 1}H` : `\u001b[${x + 1}G`);
      return ok(typeof y === 'function' ? y : cb);
    },
    moveCursor: (dx: number, dy: number, cb?: () => void) => {
      if (dy < 0) write(`\u001b[${-dy}A`);
      if (dy > 0) write(`\u001b[${dy}B`);
      if (dx !== 0) write(`\u001b[${Math.abs(dx)}${dx > 0 ? 'C' : 'D'}`);
      return ok(cb);
    },
    clearLine: (_dir: number, cb?: () => void) => {
      write('\u001b[2K');
      return ok(cb);
    },
    clearScreenDown: (cb?: () => void) => ok(cb),
    getWindowSize: () => [100, 40],
    hasColors: () => false,
    getColorDepth: () => 1,
    on: () => undefined,
    once: () => undefined,
    off: () => undefined,
    removeListener: () => undefined,
  };
}
