// Infisical, the vault the attachments runbook keeps the backend's key in, through its REST API:
// a machine identity's universal-auth login (or a ready access token), then secrets read and
// written one by name in a project, environment and folder (/api/v4/secrets/{name}).
//
// Like the Heroku wrapper: one deadline per call, reads retried (429, 5xx, a broken connection),
// a write sent once, and a write without an answer reported as an unknown outcome, never as
// "not done". Which values are secret (and so redacted) is the caller's to say: a key id is not.
import { z } from 'zod';
import { ConfigError, InterruptedError, ServiceError, UnknownOutcomeError } from '../core/errors.js';
import { registerSecret } from '../core/secrets.js';
import { backoff } from '../core/sleep.js';

export interface InfisicalLocation {
  /** e.g. https://app.infisical.com (no /api). */
  apiUrl: string;
  projectId: string;
  /** The environment's slug in the project (prod, staging…). */
  environment: string;
  /** The folder, e.g. /MooseQuest/aws/support-attachments */
  secretPath: string;
}

export type InfisicalCredentials = { token: string } | { clientId: string; clientSecret: string };

export interface InfisicalOptions extends InfisicalLocation {
  credentials: InfisicalCredentials;
  timeoutMs?: number;
  retries?: number;
  retryBaseMs?: number;
  signal?: AbortSignal;
  onDebug?: (message: string) => void;
  /** The fetch to use: the context's honours HTTPS_PROXY / NO_PROXY (src/lib/core/proxy.ts). */
  fetch?: () => Promise<typeof fetch>;
}

const Login = z.object({ accessToken: z.string().min(1), expiresIn: z.number().optional(), tokenType: z.string().optional() });
const SecretAnswer = z.object({ secret: z.object({ secretKey: z.string(), secretValue: z.string(), version: z.number().optional() }) });
const ErrorBody = z.object({ message: z.string().optional(), error: z.string().optional() }).partial();

/** Connection errors where the request never left: a write that met one was not made. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The credentials from the environment: INFISICAL_TOKEN, else INFISICAL_CLIENT_ID + INFISICAL_CLIENT_SECRET. */
export function infisicalCredentials(env: NodeJS.ProcessEnv): InfisicalCredentials {
  const token = env.INFISICAL_TOKEN?.trim();
  if (token) return { token };
  const clientId = env.INFISICAL_CLIENT_ID?.trim();
  const clientSecret = env.INFISICAL_CLIENT_SECRET?.trim();
  if (clientId && clientSecret) return { clientId, clientSecret };
  throw new ConfigError(`no Infisical credentials: ${clientId ? 'INFISICAL_CLIENT_SECRET' : clientSecret ? 'INFISICAL_CLIENT_ID' : 'INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET (or INFISICAL_TOKEN)'} not set`, {
    hint: 'set INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET of a machine identity with universal auth (or INFISICAL_TOKEN to an access token); or remove attachments.infisical from the config to update the vault by hand',
  });
}

/** Infisical trims a folder's trailing "/"; the runbook writes it with one. */
export function folderOf(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

export class InfisicalApi {
  private accessToken: Promise<string> | undefined;
  readonly calls: { method: string; path: string }[] = [];

  constructor(private readonly opts: InfisicalOptions) {
    if ('token' in opts.credentials) registerSecret(opts.credentials.token);
    else registerSecret(opts.credentials.clientSecret);
  }

  /** Where the secrets live, for plans and reports: "Infisical prod:/MooseQuest/aws/support-attachments". */
  get where(): string {
    return `Infisical ${this.opts.environment}:${folderOf(this.opts.secretPath)}`;
  }

  /** The secret's value, or undefined when there is none by that name (the caller registers what must be redacted). */
  async getSecret(name: string): Promise<string | undefined> {
    const q = new URLSearchParams({ projectId: this.opts.projectId, environment: this.opts.environment, secretPath: folderOf(this.opts.secretPath), viewSecretValue: 'true', expandSecretReferences: 'false' });
    const res = await this.call('GET', `/api/v4/secrets/${encodeURIComponent(name)}?${q.toString()}`, undefined, { notFoundOk: true });
    if (res === undefined) return undefined;
    return parse(SecretAnswer, res, `GET secret ${name}`).secret.secretValue;
  }

  /** Sets the secret: updates it, or creates it when it does not exist. */
  async setSecret(name: string, value: string): Promise<void> {
    await this.setSecrets({ [name]: value });
  }

  /**
   * Sets several secrets in one request (a batch update that creates what is missing), so the
   * vault never holds one without the other. Sent once.
   */
  async setSecrets(values: Record<string, string>): Promise<void> {
    const body = {
      projectId: this.opts.projectId,
      environment: this.opts.environment,
      secretPath: folderOf(this.opts.secretPath),
      mode: 'upsert',
      secrets: Object.entries(values).map(([secretKey, secretValue]) => ({ secretKey, secretValue })),
    };
    await this.call('PATCH', '/api/v4/secrets/batch', body);
  }

  private token(): Promise<string> {
    const c = this.opts.credentials;
    if ('token' in c) return Promise.resolve(c.token);
    this.accessToken ??= (async () => {
      const res = await this.call('POST', '/api/v1/auth/universal-auth/login', { clientId: c.clientId, clientSecret: c.clientSecret }, { login: true });
      const token = parse(Login, res, 'universal-auth login').accessToken;
      registerSecret(token);
      return token;
    })();
    this.accessToken.catch(() => (this.accessToken = undefined));
    return this.accessToken;
  }

  private async call(method: string, path: string, body: unknown, o: { notFoundOk?: boolean; login?: boolean } = {}): Promise<unknown> {
    const timeoutMs = this.opts.timeoutMs ?? 15_000;
    const retries = this.opts.retries ?? 3;
    const base = this.opts.retryBaseMs ?? 500;
    // A login changes nothing: it may be sent again like a read.
    const read = method === 'GET' || o.login === true;
    const what = `${method} ${path.split('?')[0]}`;
    const signal = this.opts.signal?.aborted ? undefined : this.opts.signal;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'raxx-ops' };
      if (!o.login) headers.authorization = `Bearer ${await this.token()}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      this.calls.push({ method, path: path.split('?')[0]! });
      const started = Date.now();
      let res: Response;
      try {
        // Ctrl-C abandons a read; a write in flight runs to its deadline, so that its outcome is known.
        const deadline = AbortSignal.timeout(timeoutMs);
        const send = this.opts.fetch ? await this.opts.fetch() : fetch;
        res = await send(`${this.opts.apiUrl.replace(/\/+$/, '')}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: read && signal ? AbortSignal.any([deadline, signal]) : deadline,
        });
      } catch (err) {
        if (read && signal?.aborted) throw new InterruptedError();
        const code = errorCode(err);
        this.opts.onDebug?.(`infisical ${what} failed after ${Date.now() - started} ms: ${code}`);
        if (!read && !NOT_SENT.has(code)) {
          throw new UnknownOutcomeError('Infisical', `Infisical did not answer ${what} ${code === 'TimeoutError' ? `within ${timeoutMs / 1000} s` : `(${code})`}; the change may or may not have been made`, code, err);
        }
        if (read && !NOT_SENT.has(code) && attempt < retries) {
          await backoff(attempt, { baseMs: base }, signal);
          continue;
        }
        throw new ServiceError('Infisical', `cannot reach Infisical at ${this.opts.apiUrl} (${code})`, { code, hint: 'check the network and attachments.infisical.apiUrl in the config', cause: err });
      }
      this.opts.onDebug?.(`infisical ${what} -> ${res.status} (${Date.now() - started} ms)`);
      const text = await res.text();
      const json = text ? safeJson(text) : undefined;
      if (res.ok) return json;
      if (res.status === 404 && o.notFoundOk) return undefined;
      if (read && (res.status === 429 || res.status >= 500) && attempt < retries) {
        await backoff(attempt, { baseMs: base }, signal);
        continue;
      }
      throw this.toError(res.status, json, what, Boolean(o.login));
    }
  }

  private toError(status: number, json: unknown, what: string, login: boolean): Error {
    const b = ErrorBody.safeParse(json);
    const message = (b.success && (b.data.message ?? b.data.error)) || `HTTP ${status}`;
    const at = `${this.opts.environment}:${folderOf(this.opts.secretPath)} of project ${this.opts.projectId}`;
    if (status === 401 || (login && (status === 400 || status === 403 || status === 404))) {
      return new ConfigError(`Infisical rejected the ${'token' in this.opts.credentials ? 'access token (INFISICAL_TOKEN)' : 'machine identity (INFISICAL_CLIENT_ID/INFISICAL_CLIENT_SECRET)'}: ${message}`, {
        hint: 'check the credentials; a universal-auth client secret can be revoked or expire',
      });
    }
    if (status === 403) {
      return new ConfigError(`Infisical refused ${what} in ${at}: ${message}`, { hint: 'the machine identity needs read and edit on secrets in that environment and folder (a project role)' });
    }
    if (status === 404) {
      return new ConfigError(`Infisical: ${what} not found in ${at}: ${message}`, { hint: 'check attachments.infisical (projectId, environments, secretPath) in the config: the folder must exist' });
    }
    if (status === 429) return new ServiceError('Infisical', `Infisical rate limit reached (${message})`, { code: 'rate_limit', hint: 'wait a minute and run again' });
    return new ServiceError('Infisical', `Infisical failed on ${what}: HTTP ${status} ${message}`, { hint: 'run again: the command reads the vault before it writes' });
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ServiceError('Infisical', `unexpected answer from Infisical to ${what}`, { hint: 'check attachments.infisical.apiUrl: it must be the Infisical API (without /api)' });
  return r.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'TimeoutError';
  return e.cause?.code ?? e.code ?? e.name ?? 'EUNKNOWN';
}
