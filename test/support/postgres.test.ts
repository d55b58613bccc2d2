import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { postgresAvailable, startPostgres, type PgCluster } from './postgres.js';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(!postgresAvailable)('PostgreSQL stand-in', () => {
  let cluster: PgCluster;

  beforeAll(async () => {
    const started = Date.now();
    cluster = await startPostgres();
    // Starts in about a second; the bound is loose for slow CI machines.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers on loopback as the superuser with a password', async () => {
    expect(cluster.host).toBe('127.0.0.1');
    expect(cluster.url).toMatch(new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${cluster.port}/postgres$`));
    const row = await withClient(cluster.url, async (c) => (await c.query<{ su: string; v: string }>("select current_setting('is_superuser') as su, current_setting('server_version_num') as v")).rows[0]);
    expect(row?.su).toBe('on');
    expect(Number(row?.v)).toBeGreaterThanOrEqual(130000);
  });

  it('refuses a wrong password (authentication is scram-sha-256, not trust)', async () => {
    const wrong = cluster.url.replace(/^postgres:\/\/postgres:[^@]+@/, 'postgres://postgres:not-the-password@');
    await expect(withClient(wrong, () => Promise.resolve())).rejects.toThrow(/password authentication failed/);
  });

  it('logs in as a non-superuser role with its own password, and logs its INSERT when the role has log_statement=mod', async () => {
    const appUrl = await cluster.createRole('raptor_app', "it's a secret@42", { settings: { log_statement: 'mod' } });
    expect(appUrl).toContain(`@127.0.0.1:${cluster.port}/postgres`);

    await withClient(cluster.url, async (c) => {
      await c.query('create table audit_tracer (id serial primary key, note text)');
      await c.query('grant select, insert on audit_tracer to raptor_app');
      await c.query('grant usage on sequence audit_tracer_id_seq to raptor_app');
    });

    const who = await withClient(appUrl, async (c) => {
      const r = await c.query<{ u: string; su: string; ls: string }>(
        "select current_user as u, current_setting('is_superuser') as su, current_setting('log_statement') as ls",
      );
      await c.query("insert into audit_tracer (note) values ('tracer-literal-7f3a')");
      await c.query('insert into audit_tracer (note) values ($1)', ['tracer-param-9b1c']);
      await c.query('select count(*) from audit_tracer');
      return r.rows[0];
    });
    expect(who).toEqual({ u: 'raptor_app', su: 'off', ls: 'mod' });

    const log = await cluster.readLog();
    expect(log).toMatch(/raptor_app@postgres LOG: {2}statement: insert into audit_tracer \(note\) values \('tracer-literal-7f3a'\)/);
    // A parameterised statement is logged as an execute line with the values on a DETAIL line.
    expect(log).toMatch(/raptor_app@postgres LOG: {2}execute <unnamed>: insert into audit_tracer \(note\) values \(\$1\)/);
    expect(log).toMatch(/DETAIL: {2}parameters: \$1 = 'tracer-param-9b1c'/);
    // log_statement=mod does not log reads.
    expect(log).not.toMatch(/statement: select count\(\*\) from audit_tracer/);
  });

  it('does not log the INSERT when the owner only SETs ROLE to raptor_app', async () => {
    await withClient(cluster.url, async (c) => {
      await c.query('set role raptor_app');
      await c.query("insert into audit_tracer (note) values ('set-role-tracer-c4d2')");
    });
    const log = await cluster.readLog();
    expect(log).not.toContain('set-role-tracer-c4d2');
  });

  it('stops and removes its files', async () => {
    const other = await startPostgres({ logStatement: 'all' });
    await withClient(other.url, (c) => c.query("select 'logged-by-all-c91e'"));
    expect(await other.readLog()).toContain("statement: select 'logged-by-all-c91e'");
    await other.stop();
    await expect(withClient(other.url, () => Promise.resolve())).rejects.toThrow();
    await expect(other.readLog()).rejects.toThrow(/ENOENT/);
  });
});
