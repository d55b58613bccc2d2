// Postgres connections, pg loaded on first use. URLs come from DATABASE_URL-style settings
// or an app's config vars; their passwords are registered as secrets before anything prints.
import type { Client } from 'pg';
import { ConfigError, ServiceError } from './errors.js';
import { maskUrl, registerSecret } from './secrets.js';

export interface ConnectOptions {
  /** Seconds before giving up on connect and on each statement. */
  timeoutSeconds?: number;
  applicationName?: string;
}

export async function connectPostgres(url: string, opts: ConnectOptions = {}): Promise<Client> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('the database URL is not a valid URL', { hint: 'expected postgres://user:password@host:port/dbname' });
  }
  if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
  const { default: pg } = await import('pg');
  const timeoutMs = (opts.timeoutSeconds ?? 15) * 1000;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: opts.applicationName ?? 'raxx-ops',
  });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw postgresError(err, `connect to ${maskUrl(url)}`);
  }
  return client;
}

export function postgresError(err: unknown, action: string): Error {
  const e = err as { code?: string; message?: string };
  if (e.code === '28P01' || e.code === '28000') {
    return new ConfigError(`Postgres rejected the credentials (${action}): ${e.message ?? e.code}`, {
      hint: 'check the database URL; Heroku rotates credentials, so re-read the app config vars',
      cause: err,
    });
  }
  return new ServiceError('Postgres', `Postgres failed to ${action}: ${e.message ?? String(err)}`, { code: e.code, cause: err });
}
