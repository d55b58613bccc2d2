// Postgres connections, pg loaded on first use. URLs come from DATABASE_URL-style settings
// or an app's config vars; their passwords are registered as secrets before anything prints.
import type { Client } from 'pg';
import type { Context } from '../run/context.js';
import { ConfigError, InterruptedError, ServiceError, UsageError } from '../core/errors.js';
import { maskUrl, registerSecret } from '../core/secrets.js';

export interface ConnectOptions {
  /** Seconds before giving up on connect and on each statement. */
  timeoutSeconds?: number;
  applicationName?: string;
  /** Where the URL came from, for messages ("--database-url", "DATABASE_URL of raxx-api-prod"). */
  source?: string;
  /** A malformed URL typed by the operator is bad input (exit 2); one read from config is exit 3. */
  badUrl?: 'usage' | 'config';
  /** Ctrl-C: a connect that hangs (a firewall that drops packets) ends at once, not after the timeout. */
  signal?: AbortSignal;
}

/** What pg needs from a postgres:// URL, TLS decided as Heroku Postgres requires. */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: false | { rejectUnauthorized: boolean };
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i;

/**
 * Parses a database URL. TLS: `sslmode` in the URL decides when present (disable → none,
 * verify-full → verified, anything else → encrypted without verification); otherwise loopback
 * hosts go without TLS and every other host gets it unverified, as Heroku documents for its
 * self-signed server certificates.
 */
export function parseDatabaseUrl(url: string, opts: Pick<ConnectOptions, 'source' | 'badUrl'> = {}): PgTarget {
  const fail = (why: string) => {
    const Err = opts.badUrl === 'config' ? ConfigError : UsageError;
    return new Err(`${opts.source ?? 'the database URL'} is not a valid Postgres URL: ${why}`, { hint: 'expected postgres://user:password@host:port/dbname' });
  };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail('not a URL');
  }
  if (u.password) registerSecret(decodeURIComponent(u.password));
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw fail(`scheme ${u.protocol} (expected postgres:)`);
  if (!u.hostname) throw fail('no host');
  const port = u.port ? Number(u.port) : 5432;
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.username) throw fail('no user');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const sslmode = u.searchParams.get('sslmode');
  let ssl: PgTarget['ssl'];
  if (sslmode === 'disable') ssl = false;
  else if (sslmode === 'verify-full' || sslmode === 'verify-ca') ssl = { rejectUnauthorized: true };
  else if (sslmode === 'require' || sslmode === 'no-verify') ssl = { rejectUnauthorized: false };
  else if (sslmode === null || sslmode === 'prefer' || sslmode === 'allow') ssl = LOOPBACK.test(host) ? false : { rejectUnauthorized: false };
  else throw fail(`unknown sslmode=${sslmode}`);
  return { host, port, user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: database || decodeURIComponent(u.username), ssl };
}

export async function connectPostgres(url: string, opts: ConnectOptions = {}): Promise<Client> {
  const target = parseDatabaseUrl(url, { source: opts.source, badUrl: opts.badUrl ?? 'config' });
  const { default: pg } = await import('pg');
  const timeoutMs = (opts.timeoutSeconds ?? 15) * 1000;
  const client = new pg.Client({
    ...target,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1000,
    application_name: opts.applicationName ?? 'raxx-ops',
  });
  // A socket error after connect would otherwise be an unhandled 'error' event.
  client.on('error', () => undefined);
  if (opts.signal?.aborted) throw new InterruptedError();
  // end() waits for a connect in progress; destroying the socket does not.
  const abort = () => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    if (opts.signal?.aborted) throw new InterruptedError();
    throw postgresError(err, `connect to ${maskUrl(url)}${opts.source ? ` (${opts.source})` : ''}`);
  } finally {
    opts.signal?.removeEventListener('abort', abort);
  }
  return client;
}

/** Ends a client, never throwing (closing is best effort on every path). */
export async function closePostgres(client: Client | undefined): Promise<void> {
  if (!client) return;
  await client.end().catch(() => undefined);
}

/** Quotes an identifier for SQL text (role names in ALTER ROLE). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function postgresError(err: unknown, action: string): Error {
  if (err instanceof ServiceError || err instanceof ConfigError || err instanceof UsageError) return err;
  const e = err as { code?: string; message?: string };
  if (e.code === '28P01' || e.code === '28000') {
    return new ConfigError(`Postgres rejected the credentials (${action}): ${e.message ?? e.code}`, {
      hint: 'check the database URL; Heroku rotates credentials, so re-read the app config vars',
      cause: err,
    });
  }
  const unreachable = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(e.code ?? '') || /timeout/i.test(e.message ?? '');
  return new ServiceError('Postgres', `Postgres failed to ${action}: ${e.message ?? e.code ?? String(err)}`, {
    code: e.code,
    hint: unreachable
      ? 'check the host and port, and that this machine may reach the database (Heroku Postgres needs TLS, which raxx-ops uses for every non-loopback host)'
      : e.code === '42501'
        ? "the role in that URL lacks the privilege: use the owner's credential (DATABASE_URL of the app)"
        : 'rerun with --debug for the details; the SQLSTATE code names the cause',
    cause: err,
  });
}

export interface UrlSetting {
  /** The flag's value, when given. */
  flag: string | undefined;
  flagName: string;
  /** The environment variable, and the config var of the same name on `app`. */
  name: string;
  app: string;
}

export interface ResolvedUrl {
  url: string;
  /** Where it came from, for messages: "--database-url", "DATABASE_URL", "DATABASE_URL of raxx-api-prod". */
  source: string;
  badUrl: 'usage' | 'config';
}

/**
 * A database URL from the flag, else the environment, else the app's config var of that name
 * (one Heroku call per run, shared through `configVars`).
 */
export async function resolveDatabaseUrl(ctx: Context, s: UrlSetting, configVars: () => Promise<Record<string, string>>): Promise<ResolvedUrl> {
  const found = s.flag?.trim() ? { url: s.flag.trim(), source: s.flagName, badUrl: 'usage' as const } : ctx.env[s.name]?.trim() ? { url: ctx.env[s.name]!.trim(), source: s.name, badUrl: 'usage' as const } : undefined;
  if (found) {
    registerSecret(found.url);
    return found;
  }
  const value = (await configVars())[s.name];
  if (!value) {
    throw new ConfigError(`no ${s.name}: not given with ${s.flagName}, not in the environment, and not a config var of ${s.app}`, {
      hint: `pass ${s.flagName} postgres://…, or set ${s.name}`,
    });
  }
  registerSecret(value);
  return { url: value, source: `${s.name} of ${s.app}`, badUrl: 'config' };
}
