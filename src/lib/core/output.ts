// stdout is data, stderr is for people. Every byte written here
// passes through redact(); colour follows NO_COLOR / FORCE_COLOR / --no-color; spinners and
// progress only appear when stderr is a terminal.
import { Chalk, type ChalkInstance } from 'chalk';
import { redact, redactJson } from './secrets.js';

export interface Writable {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  /** Node streams: set while the buffer is over its limit, until 'drain'. */
  writableNeedDrain?: boolean;
  once?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  off?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
}

export interface OutputOptions {
  stdout: Writable;
  stderr: Writable;
  json: boolean;
  color: boolean;
  debug: boolean;
}

export interface Progress {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

/** Colour helpers named by what they mean, not how they look. */
export function makeColors(chalk: ChalkInstance) {
  return {
    app: (s: string) => chalk.magenta(s),
    cmd: (s: string) => chalk.cyan(s),
    ok: (s: string) => chalk.green(s),
    warn: (s: string) => chalk.yellow(s),
    bad: (s: string) => chalk.red(s),
    dim: (s: string) => chalk.dim(s),
    bold: (s: string) => chalk.bold(s),
    key: (s: string) => chalk.blue(s),
  };
}
export type Colors = ReturnType<typeof makeColors>;

export function colorEnabled(flag: boolean | undefined, env: NodeJS.ProcessEnv, stream: Writable): boolean {
  if (flag === false) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return Boolean(stream.isTTY);
}

export class Output {
  readonly json: boolean;
  readonly debugEnabled: boolean;
  readonly color: Colors;
  readonly interactive: boolean;
  private readonly stdout: Writable;
  private readonly stderr: Writable;
  /** The running spinner, if any (only on a TTY). */
  private spinner: { clear(): unknown; render(): unknown } | undefined;

  constructor(opts: OutputOptions) {
    this.stdout = opts.stdout;
    this.stderr = opts.stderr;
    this.json = opts.json;
    this.debugEnabled = opts.debug;
    this.interactive = Boolean(opts.stderr.isTTY);
    this.color = makeColors(new Chalk({ level: opts.color ? 1 : 0 }));
  }

  /** A line of data on stdout (human mode). */
  line(text = ''): void {
    this.stdout.write(redact(text) + '\n');
  }

  /** Raw data on stdout, already line-terminated (streamed log lines). */
  raw(text: string): void {
    this.stdout.write(redact(text));
  }

  /**
   * Stored log text exactly as stored, secrets included: only for `logs --no-mask`, which the
   * operator asks for knowing it may print tokens and passwords found in the logs.
   */
  unmasked(text: string): void {
    this.stdout.write(text);
  }

  /**
   * Resolves once stdout takes more. A pipe to a slow reader (`| less`; pipes are
   * asynchronous on macOS) would otherwise let a day of output pile up in memory.
   */
  drained(signal?: AbortSignal): Promise<void> {
    const s = this.stdout;
    if (!s.writableNeedDrain || !s.once || signal?.aborted) return Promise.resolve();
    // Called once per unit of output (an object's lines): whichever event comes first removes
    // all four listeners, or a long search would pile them up on stdout and the run's signal.
    return new Promise((resolve) => {
      const done = () => {
        s.off?.('drain', done);
        s.off?.('close', done);
        s.off?.('error', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      s.once!('drain', done);
      s.once!('close', done);
      s.once!('error', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** The one JSON document of a --json run. */
  data(value: unknown): void {
    this.stdout.write(redactJson(value, 2) + '\n');
  }

  /**
   * The one write that skips redaction: a credential the operator asked for by name (the
   * pre-signed URL of `attachments url`). stdout only, so it can be piped or copied; every
   * other line of the same run, the audit line included, is still redacted.
   */
  requested(text: string): void {
    this.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** One NDJSON record (streaming --json output). */
  record(value: unknown): void {
    this.stdout.write(redactJson(value) + '\n');
  }

  info(text: string): void {
    this.note(redact(text) + '\n');
  }

  warn(text: string): void {
    this.note(redact(`${this.color.warn('warning:')} ${text}`) + '\n');
  }

  error(text: string, hint?: string): void {
    this.note(redact(`${this.color.bad('error:')} ${text}`) + '\n' + (hint ? redact(`${this.color.dim('hint:')} ${hint}`) + '\n' : ''));
  }

  debug(text: string): void {
    if (this.debugEnabled) this.note(redact(`${this.color.dim('debug:')} ${text}`) + '\n');
  }

  /** A line for people on stderr; a running spinner steps aside so the line stays whole. */
  private note(text: string): void {
    this.spinner?.clear();
    this.stderr.write(text);
    this.spinner?.render();
  }

  /** A spinner on a TTY stderr; elsewhere a no-op so logs and pipes stay clean. */
  async progress(text: string): Promise<Progress> {
    if (!this.interactive) {
      return { update() {}, succeed() {}, fail() {}, stop() {} };
    }
    const { default: ora } = await import('ora');
    // discardStdin off: ora's default puts the terminal in raw mode, where Ctrl-C is a byte
    // instead of SIGINT, and its reader of that byte never starts on a fresh process.stdin
    // (stdin-discarder 0.3.2 resumes only a stream that was explicitly paused), so Ctrl-C
    // did nothing while a spinner ran. A cooked terminal raises SIGINT itself.
    const spinner = ora({ text: redact(text), stream: this.stderr as NodeJS.WritableStream, discardStdin: false }).start();
    this.spinner = spinner;
    const done = () => {
      if (this.spinner === spinner) this.spinner = undefined;
    };
    return {
      update: (t) => {
        spinner.text = redact(t);
      },
      succeed: (t) => {
        done();
        spinner.succeed(t === undefined ? undefined : redact(t));
      },
      fail: (t) => {
        done();
        spinner.fail(t === undefined ? undefined : redact(t));
      },
      stop: () => {
        done();
        spinner.stop();
      },
    };
  }
}

/** `1 drain`, `2 drains`: a count with its noun. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
