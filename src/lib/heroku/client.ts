// The Heroku Platform API, through heroku-client's request machinery (./request.ts).
// The wrapper adds what the client lacks: one deadline per call, retries of reads only
// (429, 5xx, a broken connection), zod-checked responses, typed errors from Heroku's
// {id, message} bodies, its warning headers passed on, and a token that Heroku rejected or an
// API that cannot be reached reported once rather than once per app. Drains and config vars.
import type { Agent } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, InterruptedError, ServiceError, UnknownOutcomeError, UsageError } from '../core/errors.js';
import { redact, registerSecret } from '../core/secrets.js';
import { backoff } from '../core/sleep.js';
import { checkDuration } from '../core/duration.js';

export const Drain = z.object({
  id: z.string(),
  url: z.string(),
  token: z.string().nullable().optional(),
  addon: z.object({ id: z.string(), name: z.string() }).nullable().optional(),
  created_at: z.string(),
  updated_at: z.string().optional(),
});
export type Drain = z.infer<typeof Drain>;

export const ConfigVars = z.record(z.string(), z.string());
export type ConfigVars = z.infer<typeof ConfigVars>;

const HerokuErrorBody = z.object({ id: z.string(), message: z.string() }).partial();

export interface HerokuCall {
  method: string;
  path: string;
}

export interface HerokuApiOptions {
  token: string;
  baseUrl: string;
  /** Deadline of one call, all its pages (heroku-client has none). */
  timeoutMs?: number;
  /** Backoff base for retried reads. */
  retryBaseMs?: number;
  retries?: number;
  /** Ctrl-C: a read in flight is abandoned, and nothing is sent again (calls after it are, e.g. a rollback). */
  signal?: AbortSignal;
  /** Heroku's warning headers (a deprecation, an account notice), each distinct text once. */
  onWarning?: (message: string) => void;
  /** One line per request, without bodies or headers. */
  onDebug?: (message: string) => void;
  /** The agent to the proxy, when HTTPS_PROXY applies to the API (proxy.ts). */
  agent?: Agent | undefined;
}

/** Connection failures that say the API cannot be reached at all: no point trying another app. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']);
/** A connection that broke mid-way: a read may be sent again, a write may or may not have landed. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
/** Response headers Heroku uses to tell the user something (the Heroku CLI prints them). */
const WARNING_HEADERS = ['warning-message', 'x-heroku-warning', 'warning'];

export class HerokuApi {
  /** The last RateLimit-Remaining Heroku reported; the pool refills at about 75 a minute. */
  rateLimitRemaining: number | undefined;
  readonly calls: HerokuCall[] = [];
  /** A rejected token or an unreachable API: every later call fails with it, unsent. */
  private fatal: Error | undefined;
  private readonly warned = new Set<string>();

  constructor(private readonly opts: HerokuApiOptions) {
    registerSecret(opts.token);
  }

  listDrains(app: string): Promise<Drain[]> {
    return this.call('GET', `/apps/${enc(app)}/log-drains`, z.array(Drain), { app });
  }

  addDrain(app: string, url: string): Promise<Drain> {
    return this.call('POST', `/apps/${enc(app)}/log-drains`, Drain, { app, body: { url } });
  }

  /** `idOrUrl` may be the drain's id, url or token, as the API allows. */
  removeDrain(app: string, idOrUrl: string): Promise<Drain> {
    return this.call('DELETE', `/apps/${enc(app)}/log-drains/${encodeURIComponent(idOrUrl)}`, Drain, { app, resource: 'log drain' });
  }

  /** Needs a token that may read secrets: config vars hold credentials. */
  configVars(app: string): Promise<ConfigVars> {
    return this.call('GET', `/apps/${enc(app)}/config-vars`, ConfigVars, { app });
  }

  /** Merges: the named vars are set (null deletes one), the others stay. Answers the whole set. Sent once, never repeated. */
  updateConfigVars(app: string, vars: Record<string, string | null>): Promise<ConfigVars> {
    return this.call('PATCH', `/apps/${enc(app)}/config-vars`, ConfigVars, { app, body: vars });
  }

  private onResponse(res: IncomingMessage): void {
    const remaining = Number(res.headers['ratelimit-remaining']);
    if (Number.isFinite(remaining)) this.rateLimitRemaining = remaining;
    for (const name of WARNING_HEADERS) {
      const value = res.headers[name];
      for (const text of Array.isArray(value) ? value : value ? [value] : []) {
        const clean = redact(text.trim());
        if (clean && !this.warned.has(clean)) {
          this.warned.add(clean);
          this.opts.onWarning?.(clean);
        }
      }
    }
  }

  /** ctx.resource: what inside the app the call names (a 404 may mean it, not the app). */
  private async call<T>(method: string, path: string, schema: z.ZodType<T>, ctx: { app?: string; resource?: string; body?: unknown }): Promise<T> {
    const { send } = await import('./request.js');
    const retries = this.opts.retries ?? 3;
    const base = this.opts.retryBaseMs ?? 500;
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    // A call made after Ctrl-C (a rollback) runs to its end; one made before gives up with it.
    const signal = this.opts.signal?.aborted ? undefined : this.opts.signal;
    for (let attempt = 0; ; attempt++) {
      if (this.fatal) throw this.fatal;
      this.calls.push({ method, path });
      const started = Date.now();
      try {
        const res = await send({
          token: this.opts.token,
          host: this.opts.baseUrl,
          userAgent: 'raxx-ops',
          agent: this.opts.agent,
          method,
          path,
          body: ctx.body,
          timeoutMs,
          // Ctrl-C abandons a read at once. A write in flight is let finish (within the
          // deadline): whoever rolls back after Ctrl-C must know whether it landed.
          signal: method === 'GET' ? signal : undefined,
          onResponse: (r) => {
            this.opts.onDebug?.(`heroku ${method} ${path} -> ${r.statusCode} (${Date.now() - started} ms)`);
            this.onResponse(r);
          },
        });
        const parsed = schema.safeParse(res);
        if (!parsed.success) {
          throw new ServiceError('Heroku', `unexpected response from Heroku for ${method} ${path}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`, {
            hint: 'check that HEROKU_API_URL (if set) points at the Heroku Platform API; rerun with --debug',
          });
        }
        return parsed.data;
      } catch (err) {
        const e = err as { statusCode?: number; code?: string };
        if (e.code === 'ABORT_ERR') throw new InterruptedError();
        if (e.statusCode === undefined) this.opts.onDebug?.(`heroku ${method} ${path} failed after ${Date.now() - started} ms: ${e.code ?? (err as Error).message}`);
        // Only reads are repeated. A write is sent once: after a broken connection nobody
        // knows whether it landed, and the commands check before they change.
        const status = e.statusCode;
        const retriable = method === 'GET' && (status === undefined ? BROKEN.has(e.code ?? '') : status === 429 || status >= 500);
        if (retriable && attempt < retries) {
          // Nothing is sent again once the caller gave up.
          await backoff(attempt, { baseMs: base, jitter: 0.2 }, signal);
          continue;
        }
        throw this.toError(err, method, path, ctx.app, ctx.resource, timeoutMs);
      }
    }
  }

  private toError(err: unknown, method: string, path: string, app: string | undefined, resource: string | undefined, timeoutMs: number): Error {
    if (err instanceof ServiceError) return err;
    const e = err as { statusCode?: number; body?: unknown; code?: string; message?: string };
    const what = `${method} ${path}`;
    if (e.statusCode === undefined) {
      const code = e.code ?? 'EUNKNOWN';
      if (code === 'ETIMEDOUT' && method !== 'GET') {
        // Not fatal: the caller must still be able to list, to learn whether the change landed.
        return new UnknownOutcomeError('Heroku', `the Heroku API did not answer ${what} within ${timeoutMs / 1000} s; the change may or may not have been made`, code, err);
      }
      if (code === 'ETIMEDOUT') {
        return (this.fatal = new ServiceError('Heroku', `the Heroku API at ${this.opts.baseUrl} did not answer within ${timeoutMs / 1000} s`, {
          code,
          hint: 'check the network and https://status.heroku.com; HEROKU_API_URL overrides the API address',
          cause: err,
        }));
      }
      if (UNREACHABLE.has(code)) {
        return (this.fatal = new ServiceError('Heroku', `cannot reach the Heroku API at ${this.opts.baseUrl} (${code})`, {
          code,
          hint: 'check the network and https://status.heroku.com; HEROKU_API_URL overrides the API address',
          cause: err,
        }));
      }
      if (method !== 'GET') return new UnknownOutcomeError('Heroku', `the connection to the Heroku API broke during ${what} (${code}); the change may or may not have been made`, code, err);
      return new ServiceError('Heroku', `the connection to the Heroku API broke during ${what} (${code})`, {
        code,
        hint: method === 'GET' ? 'check the network and run again' : 'run the command again: it looks before it changes, so it adds or removes only what is still needed',
        cause: err,
      });
    }
    const body = HerokuErrorBody.safeParse(e.body);
    const id = body.success ? body.data.id : undefined;
    const message = body.success && body.data.message ? body.data.message : `HTTP ${e.statusCode}`;
    switch (e.statusCode) {
      case 401:
        return (this.fatal = new ConfigError(`Heroku rejected the API token (${message})`, {
          hint: 'run `heroku login` or set HEROKU_API_KEY to a valid token',
          cause: err,
        }));
      case 403:
        if (id === 'two_factor') {
          // Said the same way for every app, so that a run where all apps ask for it reports it once.
          return new ConfigError(`Heroku asks for a second factor (two_factor): ${message}`, {
            hint: 'the app requires two-factor authentication: run one Heroku CLI command on it (e.g. `heroku drains -a <app>`) and enter the code when asked, then run again; or use a token that may act without it',
            cause: err,
          });
        }
        return new ConfigError(`Heroku refused ${what}: ${message}`, {
          hint: 'the account behind the token lacks access to this app; ask an app admin',
          cause: err,
        });
      case 404:
        // Heroku says which is missing ("Couldn't find that app." / "… that log drain.").
        if (resource && app && !/\bapp\b/i.test(message)) {
          return new ServiceError('Heroku', `${resource} not found on Heroku app "${app}" (${message})`, { code: id ?? 'not_found', hint: GONE_HINT, cause: err });
        }
        // An app that does not exist is bad input (exit 2), as in every other command.
        if (app) {
          return new UsageError(`Heroku app "${app}" not found, or not visible to this token (${message})`, {
            hint: 'check the app name with `heroku apps`; the apps come from --app where a command takes it, else from `apps` of the environment in the config (`raxx-ops config show`)',
            cause: err,
          });
        }
        return new ServiceError('Heroku', `not found: ${what} (${message})`, { code: id ?? 'not_found', hint: GONE_HINT, cause: err });
      case 422:
        return new ServiceError('Heroku', `Heroku refused ${what}: ${message}`, { code: id ?? 'invalid_params', hint: 'Heroku says what it refused (above); fix that, or rerun with --debug to see the request', cause: err });
      case 429:
        return new ServiceError('Heroku', `Heroku rate limit reached (${message})`, {
          code: 'rate_limit',
          hint: 'the account pool refills at about 75 requests a minute; wait a minute and run again',
          cause: err,
        });
      default:
        return new ServiceError('Heroku', `Heroku API failed on ${what}: HTTP ${e.statusCode} ${message}`, {
          code: id,
          hint: 'check https://status.heroku.com and run again: the commands look before they change, so a rerun does only what is still needed',
          cause: err,
        });
    }
  }
}

const GONE_HINT = 'it may have been removed meanwhile: run the command again, it reads the current state first';

function enc(app: string): string {
  return encodeURIComponent(app);
}

/** HEROKU_API_KEY, else the api.heroku.com entry of ~/.netrc (or $NETRC) that `heroku login` writes. */
export async function resolveHerokuToken(env: NodeJS.ProcessEnv): Promise<string> {
  const fromEnv = env.HEROKU_API_KEY?.trim();
  if (fromEnv) return fromEnv;
  const netrcPath = env.NETRC ?? join(env.HOME ?? homedir(), '.netrc');
  const { Netrc } = await import('netrc-parser');
  const netrc = new Netrc(netrcPath);
  let unreadable = '';
  try {
    // A missing file is an empty one; a .gpg file is decrypted with gpg, as the Heroku CLI does.
    await netrc.load();
  } catch (err) {
    unreadable = ` (${netrcPath}: ${(err as Error).message})`;
  }
  const fromNetrc = netrc.machines?.['api.heroku.com']?.password?.trim();
  if (fromNetrc) return fromNetrc;
  throw new ConfigError(`no Heroku API token found${unreadable}`, {
    hint: 'run `heroku login` (it writes ~/.netrc) or set HEROKU_API_KEY',
  });
}

// A write whose answer never came: never repeated here; the caller settles it by reading (e.g.
// listing the app's drains) before going on.
export { UnknownOutcomeError };

/** The per-call deadline: HEROKU_TIMEOUT (or the variable named: `30`, `30s`, `2m`), else 15 s. */
export function herokuTimeoutMs(env: NodeJS.ProcessEnv, name = 'HEROKU_TIMEOUT'): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const r = checkDuration(raw, { unit: 's', minMs: 1, maxMs: 600_000 });
  if ('problem' in r) throw new ConfigError(`${name} must be a number of seconds or a duration (30, 30s, 2m; at most 10 min), not ${raw}`, { hint: 'unset it for the default of 15 s' });
  return r.ms;
}

export function herokuBaseUrl(env: NodeJS.ProcessEnv): string {
  const url = env.HEROKU_API_URL?.trim() || 'https://api.heroku.com';
  try {
    new URL(url);
  } catch {
    throw new ConfigError(`HEROKU_API_URL is not a URL: ${url}`, { hint: "unset it to use https://api.heroku.com" });
  }
  return url.replace(/\/+$/, '');
}
