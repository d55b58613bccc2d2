// The ctx every command receives: resolved config, output, lazily-built clients, prompts and
// a cancellation signal. Commands never build a client themselves, so tests and the sandbox
// point everything at local endpoints through the environment alone.
import { createInterface } from 'node:readline/promises';
import { createAwsClients, type AwsClients } from '../aws/clients.js';
import { loadConfig, type ResolvedConfig } from '../core/config.js';
import { ConfirmationError, InterruptedError, stopError, type UserError } from '../core/errors.js';
import { HerokuApi, herokuBaseUrl, herokuTimeoutMs, resolveHerokuToken } from '../heroku/client.js';
import { InfisicalApi, infisicalCredentials } from '../infisical/client.js';
import { colorEnabled, Output, type Writable } from '../core/output.js';

export interface GlobalFlags {
  env: string;
  config?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
  json: boolean;
  color: boolean;
  debug: boolean;
  yes: boolean;
}

/** Everything outside the process a run may touch; tests pass their own. */
export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Answers confirmation prompts instead of a TTY (tests). */
  prompt?: (question: string) => Promise<boolean>;
  now?: () => Date;
}

export interface Context {
  config: ResolvedConfig;
  flags: GlobalFlags;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Input for commands that read `-` (logs ship); absent when the run has none. */
  stdin: (NodeJS.ReadableStream & { isTTY?: boolean }) | undefined;
  aws: AwsClients;
  heroku(): Promise<HerokuApi>;
  /** The attachments vault of --env; undefined when attachments.infisical does not name one for it. */
  infisical(): InfisicalApi | undefined;
  /** Ask before a destructive change; throws ConfirmationError when nobody can answer. */
  confirm(question: string): Promise<void>;
  /**
   * For changes that stop production (disabling a KMS key): on a terminal the operator types
   * `expected` (the key's alias), not just "y". --yes answers it as confirm() does.
   */
  confirmTyped(question: string, expected: string): Promise<void>;
  /** Aborted by Ctrl-C, or by abort() (the run lost its lease). */
  signal: AbortSignal;
  /** Stops the run as Ctrl-C does (rollbacks run), for a reason the run reports instead of "interrupted". */
  abort(reason: UserError): void;
  /** Throws once the signal is aborted: InterruptedError, or the reason given to abort(). */
  checkInterrupted(): void;
  now(): Date;
  close(): Promise<void>;
}

export async function createContext(flags: GlobalFlags, io: Io): Promise<Context> {
  const out = new Output({
    stdout: io.stdout,
    stderr: io.stderr,
    json: flags.json,
    color: colorEnabled(flags.color, io.env, io.stderr),
    debug: flags.debug,
  });
  const config = await loadConfig({ env: flags.env, configPath: flags.config, region: flags.region, processEnv: io.env });
  const aws = createAwsClients({ region: config.region, profile: flags.profile ?? undefined, env: io.env, debug: (m) => out.debug(m) });
  const stop = new AbortController();
  const signal = io.signal ? AbortSignal.any([io.signal, stop.signal]) : stop.signal;
  let heroku: Promise<HerokuApi> | undefined;
  let infisical: InfisicalApi | undefined;

  return {
    config,
    flags,
    out,
    env: io.env,
    stdin: io.stdin,
    aws,
    heroku() {
      heroku ??= (async () => {
        const token = await resolveHerokuToken(io.env);
        const { proxyAgent } = await import('../core/proxy.js');
        return new HerokuApi({
          token,
          baseUrl: herokuBaseUrl(io.env),
          agent: await proxyAgent(herokuBaseUrl(io.env), io.env, { keepAlive: true }),
          timeoutMs: herokuTimeoutMs(io.env),
          signal,
          onWarning: (message) => out.warn(`Heroku: ${message}`),
          onDebug: (message) => out.debug(message),
        });
      })();
      // A failed lookup (no token) is not cached, so the error repeats for each caller.
      heroku.catch(() => {
        heroku = undefined;
      });
      return heroku;
    },
    infisical() {
      const vault = config.attachments.infisical;
      const environment = vault?.environments[config.env];
      if (!vault || !environment) return undefined;
      infisical ??= new InfisicalApi({
        apiUrl: vault.apiUrl,
        projectId: vault.projectId,
        environment,
        secretPath: vault.secretPath,
        credentials: infisicalCredentials(io.env),
        timeoutMs: herokuTimeoutMs(io.env, 'INFISICAL_TIMEOUT'),
        signal,
        onDebug: (message) => out.debug(message),
        fetch: async () => (await import('../core/proxy.js')).proxiedFetch(io.env),
      });
      return infisical;
    },
    async confirm(question) {
      if (flags.yes) return;
      let ok: boolean;
      if (io.prompt) ok = await io.prompt(question);
      else if (io.stdin?.isTTY && io.stderr.isTTY) ok = /^y(es)?$/i.test(await ask(`${question} [y/N] `, io.stdin, io.stderr as NodeJS.WritableStream, signal));
      else throw new ConfirmationError(`confirmation needed: ${question}`, { hint: 'rerun with --yes to confirm, or with --dry-run to see the plan' });
      if (!ok) throw new ConfirmationError('not confirmed; nothing was changed');
    },
    async confirmTyped(question, expected) {
      if (flags.yes) return;
      let ok: boolean;
      if (io.prompt) ok = await io.prompt(`${question} (type ${expected} to confirm)`);
      else if (io.stdin?.isTTY && io.stderr.isTTY) ok = (await ask(`${question}\ntype ${expected} to confirm: `, io.stdin, io.stderr as NodeJS.WritableStream, signal)) === expected;
      else throw new ConfirmationError(`confirmation needed: ${question}`, { hint: 'rerun with --yes to confirm, or with --dry-run to see the plan' });
      if (!ok) throw new ConfirmationError(`not confirmed (${expected} was not typed); nothing was changed`);
    },
    signal,
    abort(reason) {
      stop.abort(reason);
    },
    checkInterrupted() {
      if (signal.aborted) throw stopError(signal);
    },
    now: io.now ?? (() => new Date()),
    close() {
      aws.destroy();
      return Promise.resolve();
    },
  };
}

/**
 * A question on the terminal; resolves with the trimmed answer. readline reads the terminal
 * raw, so Ctrl-C arrives as a key and readline would reject the question with its own "Aborted
 * with Ctrl+C": instead the key raises the process's SIGINT, as on a cooked terminal, and the
 * launcher aborts the run's signal (one way of stopping for every Ctrl-C). End of input
 * (Ctrl-D) is a walk-away too: nothing was answered, so it stops the run as Ctrl-C does (130),
 * never as an answer.
 */
async function ask(prompt: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream, signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw new InterruptedError();
  const rl = createInterface({ input, output });
  rl.on('SIGINT', () => {
    output.write('\n');
    process.kill(process.pid, 'SIGINT');
  });
  let answered = false;
  const ended = new Promise<never>((_, reject) =>
    rl.once('close', () => {
      if (answered) return;
      output.write('\n');
      reject(new InterruptedError('interrupted: end of input at the confirmation; nothing was changed'));
    }),
  );
  ended.catch(() => undefined);
  try {
    const answer = await Promise.race([rl.question(prompt, { signal }), ended]);
    answered = true;
    return answer.trim();
  } catch (err) {
    if (signal.aborted) throw stopError(signal);
    throw err;
  } finally {
    answered = true;
    rl.close();
  }
}
