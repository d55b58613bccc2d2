// connectPostgres against a throwaway cluster: the typed errors a command turns into exit codes,
// and no password in any of them.
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ServiceError, UsageError } from '../../src/lib/core/errors.js';
import { connectPostgres, parseDatabaseUrl, postgresError } from '../../src/lib/postgres/connect.js';
import { redact } from '../../src/lib/core/secrets.js';
import { postgresAvailable } from '../support/postgres.js';
import { usePostgres } from '../support/fixtures.js';
import { freePort } from '../support/stand-in.js';

const PASSWORD = 'raptor-pw-7c2e9a41d3b5';

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the connection to fail');
}

describe.runIf(postgresAvailable)('connectPostgres', () => {
  const cluster = usePostgres();
  let url: string;
  beforeAll(async () => {
    url = await cluster.createRole('raptor_app', PASSWORD);
  });

  it('connects, names itself, and registers the password as a secret', async () => {
    const client = await connectPostgres(url, { applicationName: 'raxx-ops test' });
    try {
      const { rows } = await client.query<{ who: string; app: string }>("select current_user as who, current_setting('application_name') as app");
      expect(rows[0]).toEqual({ who: 'raptor_app', app: 'raxx-ops test' });
    } finally {
      await client.end();
    }
    expect(redact(`password was ${PASSWORD}`)).not.toContain(PASSWORD);
  });

  it('a wrong password is a configuration error (exit 3) that does not print it', async () => {
    const err = await failure(connectPostgres(url.replace(PASSWORD, 'wrong-pw-0d9e8f7a6b5c')));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(3);
    expect(err.message).toMatch(/Postgres rejected the credentials/);
    expect(err.message).not.toContain('wrong-pw-0d9e8f7a6b5c');
  });

  it('an unreachable server is a service failure (exit 4) naming the masked URL', async () => {
    const port = await freePort();
    const err = await failure(connectPostgres(`postgres://raptor_app:${PASSWORD}@127.0.0.1:${port}/postgres`, { timeoutSeconds: 3 }));
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).exitCode).toBe(4);
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).not.toContain(PASSWORD);
  });

  it('a malformed URL is a configuration error with the expected form as hint', async () => {
    const err = await failure(connectPostgres('not a url'));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).hint).toMatch(/postgres:\/\/user:password@host:port\/dbname/);
  });
});

describe('parseDatabaseUrl: TLS as Heroku Postgres requires, bad URLs by where they came from', () => {
  const heroku = 'postgres://u1abc:p9secretpw@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8xyz';
  it.each([
    [heroku, { rejectUnauthorized: false }],
    [`${heroku}?sslmode=require`, { rejectUnauthorized: false }],
    [`${heroku}?sslmode=verify-full`, { rejectUnauthorized: true }],
    [`${heroku}?sslmode=disable`, false],
    ['postgres://u:p@127.0.0.1:5432/db', false],
    ['postgres://u:p@localhost/db', false],
    ['postgresql://u:p@[::1]:6543/db', false],
    ['postgres://u:p@localhost/db?sslmode=require', { rejectUnauthorized: false }],
  ])('%s → ssl %j', (url, ssl) => {
    expect(parseDatabaseUrl(url).ssl).toEqual(ssl);
  });

  it('takes the parts apart, decoding them', () => {
    expect(parseDatabaseUrl('postgres://raptor_app:p%40ss%2Fword@db.example.com/raxx')).toEqual({
      host: 'db.example.com',
      port: 5432,
      user: 'raptor_app',
      password: 'p@ss/word',
      database: 'raxx',
      ssl: { rejectUnauthorized: false },
    });
    expect(redact('pw p@ss/word')).not.toContain('p@ss/word');
  });

  it('a bad URL typed by the operator is exit 2, one read from config exit 3, and neither prints the password', () => {
    for (const url of ['not a url', 'mysql://u:hidden-pw-1234@h/db', 'postgres://:hidden-pw-1234@h/db', 'postgres://u:hidden-pw-1234@h/db?sslmode=maybe']) {
      let err: unknown;
      try {
        parseDatabaseUrl(url, { source: '--database-url', badUrl: 'usage' });
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(UsageError);
      expect((err as UsageError).message).toMatch(/^--database-url is not a valid Postgres URL/);
      expect((err as UsageError).message).not.toContain('hidden-pw-1234');
    }
    expect(() => parseDatabaseUrl('http://x', { source: 'DATABASE_URL of raxx-api-prod', badUrl: 'config' })).toThrow(ConfigError);
  });
});

describe('postgresError: every failure says what to do', () => {
  const cases: [what: string, err: object, hint: RegExp][] = [
    ['refused', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, /check the host and port/],
    ['a privilege missing (ALTER ROLE as raptor_app)', { code: '42501', message: 'permission denied to alter role' }, /lacks the privilege: use the owner's credential/],
    ['anything else', { code: '23505', message: 'duplicate key value violates unique constraint' }, /rerun with --debug/],
  ];
  for (const [what, err, hint] of cases) {
    it(what, () => {
      const e = postgresError(err, 'alter role') as ServiceError;
      expect(e).toBeInstanceOf(ServiceError);
      expect(e.hint).toMatch(hint);
    });
  }
});
