// The Heroku Platform API, through heroku-client. The wrapper adds what the client lacks:
// a timeout, retries of reads on 429/5xx, zod-checked responses, and typed
// errors from Heroku's {id, message} bodies. Only the drain calls live here.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type Heroku from 'heroku-client';
import { z } from 'zod';
import { ConfigError, ServiceError, UsageError } from './errors.js';
import { registerSecret } from './secrets.js';
import { sleep } from './sleep.js';

export const Drain = z.object({
  id: z.string(),
  url: z.string(),
  token: z.string().nullable().optional(),
  addon: z.object({ id: z.string(), name: z.string() }).nullable().optional(),
  created_at: z.string(),
  updated_at: z.string().optional(),
});
export type Drain = z.infer<typeof Drain>;

const HerokuErrorBody = z.object({ id: z.string(), message: z.string() }).partial();

export interface HerokuCall {
  method: string;
  path: string;
}

export interface HerokuApiOptions {
  token: string;
  baseUrl: string;
  /** Per-attempt timeout (heroku-client has none by default). */
  timeoutMs?: number;
  /** Backoff base for retried reads. */
  retryBaseMs?: number;
  retries?: number;
}

export class HerokuApi {
  /** The last RateLimit-Remaining Heroku reported; the pool refills at about 75 a minute. */
  rateLimitRemaining: number | undefined;
  readonly calls: HerokuCall[] = [];
  private client: Heroku | undefined;

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

  private async heroku() {
    if (!this.client) {
      const { default: HerokuClient } = await import('heroku-client');
      this.client = new HerokuClient({
        token: this.opts.token,
        host: this.opts.baseUrl,
        userAgent: 'raxx-ops',
        middleware: (res, next) => {
          const remaining = Number(res.headers['ratelimit-remaining']);
          if (Number.isFinite(remaining)) this.rateLimitRemaining = remaining;
          next();
        },
      });
    }
    return this.client;
  }

  /** ctx.resource: what inside the app the call names (a 404 may mean it, not the app). */
  private async call<T>(method: string, path: string, schema: z.ZodType<T>, ctx: { app?: string; resource?: string; body?: unknown }): Promise<T> {
    const heroku = await this.heroku();
    const retries = this.opts.retries ?? 3;
    const base = this.opts.retryBaseMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      this.calls.push({ method, path });
      try {
        const res = await heroku.request<unknown>({ method, path, body: ctx.body, timeout: this.opts.timeoutMs ?? 15_000 });
        const parsed = schema.safeParse(res);
        if (!parsed.success) {
          throw new ServiceError('Heroku', `unexpected response from Heroku for ${method} ${path}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
        }
        return parsed.data;
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        // Reads are safe to repeat; writes are not retried on a status (heroku-client
        // itself already retries socket errors, including for writes).
        const retriable = method === 'GET' && status !== undefined && (status === 429 || status >= 500);
        if (retriable && attempt < retries) {
          await sleep(base * 2 ** attempt + Math.random() * base * 0.2);
          continue;
        }
        throw this.toError(err, method, path, ctx.app, ctx.resource);
      }
    }
  }

  private toError(err: unknown, method: string, path: string, app: string | undefined, resource?: string): Error {
    if (err instanceof ServiceError) return err;
    const e = err as { statusCode?: number; body?: unknown; code?: string; message?: string };
    const what = `${method} ${path}`;
    if (e.statusCode === undefined) {
      return new ServiceError('Heroku', `cannot reach the Heroku API at ${this.opts.baseUrl} (${what}): ${e.code ?? e.message ?? String(err)}`, {
        code: e.code,
        hint: 'check the network; HEROKU_API_URL overrides the API address',
        cause: err,
      });
    }
    const body = HerokuErrorBody.safeParse(e.body);
    const id = body.success ? body.data.id : undefined;
    const message = body.success && body.data.message ? body.data.message : `HTTP ${e.statusCode}`;
    switch (e.statusCode) {
      case 401:
        return new ConfigError(`Heroku rejected the API token (${message})`, {
          hint: 'run `heroku login` or set HEROKU_API_KEY to a valid token',
          cause: err,
        });
      case 403:
        return new ConfigError(`Heroku refused ${what}: ${message}`, {
          hint: 'the account behind the token lacks access to this app; ask an app admin',
          cause: err,
        });
      case 404:
        // Heroku says which is missing ("Couldn't find that app." / "… that log drain.").
        if (resource && app && !/\bapp\b/i.test(message)) {
          return new ServiceError('Heroku', `${resource} not found on Heroku app "${app}" (${message})`, { code: id ?? 'not_found', cause: err });
        }
        // An app that does not exist is bad input (exit 2), as in every other command.
        if (app) {
          return new UsageError(`Heroku app "${app}" not found, or not visible to this token (${message})`, {
            hint: 'check the app name with `heroku apps`; --app takes the exact name',
            cause: err,
          });
        }
        return new ServiceError('Heroku', `not found: ${what} (${message})`, { code: id ?? 'not_found', cause: err });
      case 422:
        return new ServiceError('Heroku', `Heroku refused ${what}: ${message}`, { code: id ?? 'invalid_params', cause: err });
      case 429:
        return new ServiceError('Heroku', `Heroku rate limit reached (${message})`, {
          code: 'rate_limit',
          hint: 'the account pool refills at about 75 requests a minute; wait a minute and run again',
          cause: err,
        });
      default:
        return new ServiceError('Heroku', `Heroku API failed on ${what}: HTTP ${e.statusCode} ${message}`, { code: id, cause: err });
    }
  }
}

function enc(app: string): string {
  return encodeURIComponent(app);
}

/** HEROKU_API_KEY, else the api.heroku.com entry of ~/.netrc that `heroku login` writes. */
export async function resolveHerokuToken(env: NodeJS.ProcessEnv): Promise<string> {
  const fromEnv = env.HEROKU_API_KEY?.trim();
  if (fromEnv) return fromEnv;
  const netrcPath = env.NETRC ?? join(env.HOME ?? homedir(), '.netrc');
  let text: string | undefined;
  try {
    text = await readFile(netrcPath, 'utf8');
  } catch {
    text = undefined;
  }
  const fromNetrc = text === undefined ? undefined : netrcPassword(text, 'api.heroku.com');
  if (fromNetrc) return fromNetrc;
  throw new ConfigError('no Heroku API token found', {
    hint: 'run `heroku login` (it writes ~/.netrc) or set HEROKU_API_KEY',
  });
}

/** The password of `machine <host>` in a .netrc file. */
export function netrcPassword(text: string, host: string): string | undefined {
  const tokens = text.replace(/#.*$/gm, '').split(/\s+/).filter(Boolean);
  let inMachine = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t === 'machine') {
      inMachine = tokens[i + 1] === host;
      i++;
    } else if (t === 'default') {
      inMachine = false;
    } else if (inMachine && t === 'password') {
      return tokens[i + 1];
    }
  }
  return undefined;
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
