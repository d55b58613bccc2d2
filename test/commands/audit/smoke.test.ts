// `audit smoke` and `audit fix-roles` end to end, with no mocks: a real PostgreSQL cluster
// loaded with the runbook's schema (derived from docs/runbooks/dml-audit.txt) whose only statement
// logging is the role settings; a forwarder that tails the server log and posts each line as
// Heroku's Logplex would to the API app's drains; `receiver serve` writing to moto's S3; the
// Heroku API stand-in holding the drain and the config vars. The chain passes, then each
// link is broken in turn and smoke fails at that check, naming the failure mode.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'pg';
import { createBucket, putDrainParameters } from '../../support/aws-fixtures.js';
import { RUNBOOK, runbookSchema, runbookTracer } from '../../support/audit-schema.js';
import { TRACER_COLUMNS, TRACER_VALUES, tracerInsertSql } from '../../../src/lib/audit/tracer.js';
import { motoAvailable } from '../../support/moto.js';
import { useHeroku, useMoto, usePostgres } from '../../support/fixtures.js';
import { startPgForwarder, type PgForwarder } from '../../support/pg-forwarder.js';
import { postgresAvailable } from '../../support/postgres.js';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { freePort, waitFor } from '../../support/stand-in.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

const APP = 'raxx-api-prod';
const BUCKET = 'raxx-heroku-logs-prod';
const HEROKU_TOKEN = 'heroku-api-token-audit-5b7d9f1a3c5e';
const DRAIN_TOKEN = 'drain-token-audit-8c1e3a5b7d9f2c4e6a8b';
const OWNER_PW = 'owner-pw-3e5a7c9b1d2f4e6a';
const APP_PW = 'raptor-pw-9d1b3f5a7c2e4b6d';
const ARCHIVER_PW = 'archiver-pw-6c8e0a2b4d6f8a1c';
const WRONG_PW = 'wrong-pw-5a6b7c8d9e';
const SECRETS = [HEROKU_TOKEN, DRAIN_TOKEN, OWNER_PW, APP_PW, ARCHIVER_PW, WRONG_PW];
const SCHEMA = runbookSchema();

interface Check {
  id: number;
  name: string;
  status: 'pass' | 'fail' | 'skipped';
  ms: number;
  detail: string;
  mode?: string;
  failure?: string;
  fix?: string;
}
interface Report {
  app: string;
  tracer: string;
  ok: boolean;
  checks: Check[];
  pgaudit: { available: boolean; installed: boolean };
}

function expectNoSecrets(r: CliResult): void {
  expectNoSecretsIn(r, SECRETS);
}

/** The statuses in order: 'pass pass fail …'. */
const statuses = (rep: Report) => rep.checks.map((c) => c.status).join(' ');

describe.runIf(postgresAvailable && motoAvailable)('audit smoke / fix-roles, Postgres to S3', () => {
  const moto = useMoto();
  const { aws } = moto;
  const cluster = usePostgres();
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: [APP] }, 'file');
  let su: Client;
  let forwarder: PgForwarder | undefined;
  let receiver: { abort: AbortController; done: Promise<CliResult> } | undefined;
  let receiverBase: string;
  let ownerUrl: string;
  let appUrl: string;
  let env: Record<string, string>;
  const desired = () => `${receiverBase}?token=${DRAIN_TOKEN}&app=${APP}`;

  const startForwarder = async () => {
    forwarder = await startPgForwarder({ logFile: cluster.logFile, drains: () => heroku.drains(APP).map((d) => ({ url: d.url, token: d.token })) });
  };
  const smoke = (args: string[] = [], opts: { signal?: AbortSignal } = {}) => runCli(['audit', 'smoke', '--json', '--timeout', '5', ...args], { env, ...opts });
  const sql = async (text: string) => (await su.query(text)).rows as Record<string, unknown>[];
  const smokeSessions = async () => (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'raxx-ops audit smoke'`))[0]!.n;

  beforeAll(async () => {
    await createBucket(aws, BUCKET);

    // The owner is no superuser (as on Heroku): it creates the roles and the schema, and may
    // set log_statement on roles (Heroku grants its owner that; here GRANT SET ON PARAMETER).
    const { default: pg } = await import('pg');
    const boot = new pg.Client({ connectionString: cluster.url });
    await boot.connect();
    await boot.query(`CREATE ROLE raxx_owner LOGIN CREATEROLE PASSWORD '${OWNER_PW}'`);
    await boot.query('GRANT SET ON PARAMETER log_statement TO raxx_owner');
    await boot.query('CREATE DATABASE raxx OWNER raxx_owner');
    await boot.end();
    const base = `postgres://%s@127.0.0.1:${cluster.port}/raxx`;
    ownerUrl = base.replace('%s', `raxx_owner:${OWNER_PW}`);
    appUrl = base.replace('%s', `raptor_app:${APP_PW}`);
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    await owner.query(SCHEMA.sql);
    await owner.query(`ALTER ROLE raptor_app PASSWORD '${APP_PW}'`);
    await owner.query(`ALTER ROLE audit_archiver PASSWORD '${ARCHIVER_PW}'`);
    await owner.end();
    // The tests break links as the superuser, in the audited database.
    su = new pg.Client({ connectionString: cluster.url.replace(/\/postgres$/, '/raxx') });
    await su.connect();

    // The receiver, in-process, in front of moto's S3.
    const port = await freePort();
    receiverBase = `http://127.0.0.1:${port}/`;
    const abort = new AbortController();
    receiver = { abort, done: runCli(['receiver', 'serve', '--port', String(port)], { env: { ...moto.env, BUCKET_NAME: BUCKET, DRAIN_TOKEN }, signal: abort.signal }) };
    await waitFor(async () => (await fetch(receiverBase).catch(() => undefined)) !== undefined, 'receiver serve');

    await putDrainParameters(aws, { url: `${receiverBase}?token=${DRAIN_TOKEN}`, token: DRAIN_TOKEN });
    heroku.addDrain(APP, desired());
    heroku.setConfigVars(APP, { DATABASE_URL: ownerUrl, RAPTOR_APP_DATABASE_URL: appUrl });
    env = { ...moto.env, ...heroku.env };
    await startForwarder();
  }, 60_000);

  afterAll(async () => {
    await forwarder?.stop();
    receiver?.abort.abort();
    await receiver?.done;
    await su?.end().catch(() => undefined);
  });

  it('the cluster logs statements only through the role settings', async () => {
    expect((await sql('SHOW log_statement'))[0]).toEqual({ log_statement: 'none' });
    // The runbook's way: SET ROLE in another role's session keeps that session's log_statement.
    await sql(`SET ROLE raptor_app; ${tracerInsertSql('pgaudit-smoke-1-5e7a0b1c')}; RESET ROLE`);
    expect((await sql(`SELECT count(*)::int AS n FROM customer_audit_events WHERE id = 'pgaudit-smoke-1-5e7a0b1c'`))[0]).toEqual({ n: 1 });
    expect(await cluster.readLog()).not.toContain('pgaudit-smoke-1-5e7a0b1c');
  });

  it("the schema is the runbook's: its tables, history tables, triggers, functions and grants", async () => {
    const tables = (await sql(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1`)).map((r) => r.relname);
    expect(tables).toEqual(['customer_audit_events', 'passkeys', 'passkeys_history', 'positions', 'positions_history', 'sessions', 'sessions_history', 'subscriptions', 'subscriptions_history', 'trades', 'trades_history', 'users', 'users_history']);
    // The runbook's trigger check, as it is written, answers 3 rows with tgenabled = 'O'.
    const check = /SELECT tgname, tgrelid::regclass, tgenabled\s+FROM pg_trigger\s+WHERE tgname IN \([^)]*\);/.exec(RUNBOOK)![0];
    expect((await sql(check)).map((r) => [r.tgname, r.tgenabled])).toEqual(SCHEMA.triggers.map((t) => [t.name, 'O']));
    expect((await sql(`SELECT proname FROM pg_proc WHERE proname LIKE 'fn_capture_%' ORDER BY 1`)).map((r) => r.proname)).toEqual(['fn_capture_passkeys_history', 'fn_capture_sessions_history', 'fn_capture_users_history']);
    // The access-control table: raptor_app INSERT + SELECT only, audit_archiver SELECT + UPDATE, raptor_audit_compliance SELECT only.
    const privs = async (role: string) =>
      (await sql(`SELECT string_agg(p, ',' ORDER BY p) AS p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p WHERE has_table_privilege('${role}', 'trades_history', p)`))[0]!.p;
    expect([await privs('raptor_app'), await privs('audit_archiver'), await privs('raptor_audit_compliance')]).toEqual(['INSERT,SELECT', 'SELECT,UPDATE', 'SELECT']);
    // The runbook's \drds, as pg_db_role_setting.
    expect(await sql(`SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole ORDER BY 1`)).toEqual([
      { rolname: 'audit_archiver', setconfig: ['log_statement=mod'] },
      { rolname: 'raptor_app', setconfig: ['log_statement=mod'] },
    ]);
  });

  it("the tracer smoke inserts is the runbook's, column for column", () => {
    const runbook = runbookTracer();
    expect(runbook.columns).toEqual([...TRACER_COLUMNS]);
    expect(runbook.values.slice(1)).toEqual([...TRACER_VALUES]);
    expect(runbook.values[0]).toMatch(/^'pgaudit-smoke-' \|\|/);
    // A runbook that named other columns fails this test.
    expect(runbookTracer(RUNBOOK.replace('actor_type, action', 'actor_kind, action')).columns).not.toEqual([...TRACER_COLUMNS]);
  });

  it('passes end to end: the tracer INSERT made as raptor_app reaches S3 through the drain', async () => {
    const r = await smoke(['--trigger-test']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rep = r.json<Report>();
    expect(rep.ok).toBe(true);
    expect(rep.checks.map((c) => [c.id, c.status])).toEqual([1, 2, 3, 4, 5, 6, 7].map((id) => [id, 'pass']));
    expect(rep.tracer).toMatch(/^pgaudit-smoke-\d{10}-[0-9a-f]{8}$/);
    expect(rep.checks[5]!.detail).toMatch(new RegExp(`found in s3://${BUCKET}/logs/${APP}/`));
    for (const c of rep.checks) expect(c.ms).toBeGreaterThanOrEqual(0);
    expect(rep.pgaudit).toEqual({ available: false, installed: false });
    // The statement line carries the tracer as a literal, logged by raptor_app's own session.
    const log = await cluster.readLog();
    expect(log).toMatch(new RegExp(`raptor_app@raxx LOG:  statement: INSERT INTO customer_audit_events .*'${rep.tracer}'`));
    // In the bucket, the line is what Heroku would have sent, and `logs grep` (the fix's hint) finds it.
    const grep = await runCli(['logs', 'grep', '-F', rep.tracer, '--app', APP, '--since', '10m'], { env });
    expect(grep.code).toBe(0);
    expect(grep.stdout).toMatch(new RegExp(`^<134>1 \\S+ host app postgres\\.\\d+ - \\[DATABASE\\] .* \\[\\d+\\] raptor_app@raxx LOG:  statement: INSERT INTO customer_audit_events \\(id, dimension, customer_id, actor_id, actor_type, action, at_utc\\) VALUES \\('${rep.tracer}', 'system_automated', 0, 'sre-smoke', 'system_actor', 'smoke\\.pgaudit_check', NOW\\(\\)\\)$`, 'm'));
    // The trigger test left nothing behind, and both sessions are gone.
    expect((await sql(`SELECT count(*)::int AS n FROM users WHERE email LIKE 'pgaudit-smoke-%'`))[0]).toEqual({ n: 0 });
    expect(await smokeSessions()).toBe(0);
    expectNoSecrets(r);
  });

  it('human output: one line per check with its duration, and the pgaudit note', async () => {
    const r = await runCli(['audit', 'smoke', '--timeout', '5'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/audit smoke: raxx-api-prod \(prod\)/);
    expect(r.stdout).toMatch(/1 {2}drain +pass .*\(\d+ ms\)/);
    expect(r.stdout).toMatch(/6 {2}tracer in S3 +pass {2}found in s3:\/\//);
    expect(r.stdout).toMatch(/native pgaudit is not available/);
    expect(r.stdout).toMatch(/all 6 checks passed/);
    expect(r.stderr).toBe("waiting up to 5 s for the tracer in raxx-api-prod's drain objects…\n");
    expectNoSecrets(r);
  });

  it('role setting reset: fails at check 2 with mode B and the fix; the S3 check is skipped', async () => {
    await sql('ALTER ROLE raptor_app RESET log_statement');
    try {
      const r = await smoke();
      expect(r.code).toBe(1);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('pass fail pass pass pass skipped');
      expect(rep.checks[1]).toMatchObject({ mode: 'B', detail: 'raptor_app: log_statement is not set' });
      expect(rep.checks[1]!.fix).toMatch(/raxx-ops audit fix-roles .*ALTER ROLE "raptor_app" SET log_statement TO 'mod';/);
      expect(r.stderr).toMatch(/error: audit smoke failed: check 2 role settings \(B\)/);
      expectNoSecrets(r);
      const human = await runCli(['audit', 'smoke', '--timeout', '5'], { env });
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/2 {2}role settings +FAIL {2}raptor_app: log_statement is not set \(\d+ ms\)\n {7}failure mode B: role setting missing: .*\n {7}fix: raxx-ops audit fix-roles/);
      expect(human.stdout).toMatch(/6 {2}tracer in S3 +skipped {2}the role settings are missing \(check 2\)/);
      expect(human.stderr).toMatch(/^error: audit smoke failed: check 2 role settings \(B\)\nhint: role setting missing: .*; fix: raxx-ops audit fix-roles/m);
    } finally {
      await sql(`ALTER ROLE raptor_app SET log_statement TO 'mod'`);
    }
  });

  it('a trigger disabled: fails at check 3 with mode C and the ALTER TABLE that re-enables it', async () => {
    await sql('ALTER TABLE sessions DISABLE TRIGGER trg_sessions_history');
    try {
      const r = await smoke();
      expect(r.code).toBe(1);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('pass pass fail pass pass pass');
      expect(rep.checks[2]).toMatchObject({ mode: 'C', detail: 'trg_sessions_history on sessions is disabled', fix: 'ALTER TABLE "sessions" ENABLE TRIGGER "trg_sessions_history";' });
    } finally {
      await sql('ALTER TABLE sessions ENABLE TRIGGER trg_sessions_history');
    }
  });

  it('the trigger test runs as the DB owner (as the runbook says), not as raptor_app', async () => {
    await sql('REVOKE INSERT ON users FROM raptor_app');
    try {
      const r = await smoke(['--trigger-test']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json<Report>().checks[6]).toMatchObject({ status: 'pass', detail: 'a users INSERT by the owner was captured in users_history as INSERT (rolled back)' });
    } finally {
      await sql('GRANT INSERT ON users TO raptor_app');
    }
  });

  it('trg_users_history disabled: check 3 names it, and the trigger test finds no history row', async () => {
    await sql('ALTER TABLE users DISABLE TRIGGER trg_users_history');
    try {
      const r = await smoke(['--trigger-test']);
      expect(r.code).toBe(1);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('pass pass fail pass pass pass fail');
      expect(rep.checks[2]).toMatchObject({ mode: 'C', detail: 'trg_users_history on users is disabled' });
      expect(rep.checks[6]).toMatchObject({ mode: 'capture', detail: 'users_history holds no row for the inserted user' });
      expect((await sql(`SELECT count(*)::int AS n FROM users WHERE email LIKE 'pgaudit-smoke-%'`))[0]).toEqual({ n: 0 });
    } finally {
      await sql('ALTER TABLE users ENABLE TRIGGER trg_users_history');
    }
  });

  it('an UPDATE grant on a history table: fails at check 4, append-only broken', async () => {
    await sql('GRANT UPDATE ON passkeys_history TO raptor_app');
    try {
      const r = await smoke();
      expect(r.code).toBe(1);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('pass pass pass fail pass pass');
      expect(rep.checks[3]).toMatchObject({ mode: 'append-only', detail: 'raptor_app may UPDATE public.passkeys_history' });
      expect(rep.checks[3]!.fix).toMatch(/^REVOKE UPDATE ON public\.passkeys_history FROM "raptor_app";/);
    } finally {
      await sql('REVOKE UPDATE ON passkeys_history FROM raptor_app');
    }
  });

  it('the drain removed: fails at check 1 with mode A and `drains wire`; the S3 check is skipped', async () => {
    const drain = heroku.drains(APP)[0]!;
    const res = await fetch(`${heroku.url}/apps/${APP}/log-drains/${drain.id}`, { method: 'DELETE', headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${HEROKU_TOKEN}` } });
    expect(res.status).toBe(200);
    try {
      const r = await smoke();
      expect(r.code).toBe(1);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('fail pass pass pass pass skipped');
      expect(rep.checks[0]).toMatchObject({ mode: 'A', detail: `${APP} has no current drain to the receiver: no drains at all`, fix: `raxx-ops drains wire --app ${APP}` });
      expectNoSecrets(r);
    } finally {
      heroku.addDrain(APP, desired());
    }
  });

  it('the forwarder stopped: fails at check 6 after --timeout, naming the delivery failure', async () => {
    await forwarder!.stop();
    try {
      const started = Date.now();
      const r = await smoke(['--timeout', '3']);
      expect(r.code).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
      const rep = r.json<Report>();
      expect(statuses(rep)).toBe('pass pass pass pass pass fail');
      expect(rep.checks[5]).toMatchObject({ mode: 'delivery' });
      expect(rep.checks[5]!.detail).toMatch(/no drain object of raxx-api-prod holds the tracer's INSERT after 3 s/);
      expect(rep.checks[5]!.fix).toMatch(/restart the dynos.*raxx-ops drains test --app raxx-api-prod/);
    } finally {
      await startForwarder();
    }
  });

  it('Ctrl-C while waiting for S3: exit 130, both sessions closed, no transaction open', async () => {
    await forwarder!.stop();
    try {
      const ac = new AbortController();
      const before = (await sql('SELECT count(*)::int AS n FROM customer_audit_events'))[0]!.n as number;
      const run = smoke(['--timeout', '60'], { signal: ac.signal });
      await waitFor(async () => (await sql('SELECT count(*)::int AS n FROM customer_audit_events'))[0]!.n === before + 1, 'the tracer insert', 20_000);
      ac.abort();
      const r = await run;
      expect(r.code).toBe(130);
      await waitFor(async () => (await smokeSessions()) === 0, 'sessions closed', 5_000);
      expect((await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'`))[0]).toEqual({ n: 0 });
    } finally {
      await startForwarder();
    }
  });

  it('a database without migration 0051: the missing triggers, history tables and audit table say so', async () => {
    await sql('CREATE DATABASE bare OWNER raxx_owner');
    const bare = (url: string) => url.replace(/\/raxx$/, '/bare');
    const r = await smoke(['--database-url', bare(ownerUrl), '--app-database-url', bare(appUrl)]);
    expect(r.code).toBe(1);
    const rep = r.json<Report>();
    expect(statuses(rep)).toBe('pass pass fail fail fail skipped');
    expect(rep.checks[2]).toMatchObject({ mode: 'C', detail: 'triggers trg_users_history, trg_sessions_history, trg_passkeys_history do not exist: migration 0051 is not applied' });
    expect(rep.checks[3]).toMatchObject({ mode: 'migration', failure: 'migration 0051 is not applied', detail: 'no *_history table exists' });
    expect(rep.checks[4]).toMatchObject({ mode: 'migration', detail: 'table customer_audit_events does not exist: migration 0051 is not applied' });
    expectNoSecrets(r);
  });

  it("the owner's URL given as raptor_app's: check 5 fails, the login is not raptor_app", async () => {
    const r = await smoke(['--app-database-url', ownerUrl]);
    expect(r.code).toBe(1);
    const rep = r.json<Report>();
    expect(statuses(rep)).toBe('pass pass pass pass fail skipped');
    expect(rep.checks[4]).toMatchObject({ mode: 'tracer', detail: "the app credential logs in as raxx_owner, not raptor_app: the role's log_statement would not apply" });
    expectNoSecrets(r);
  });

  describe('fix-roles', () => {
    const setting = async (role: string) =>
      (await sql(`SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = '${role}' AND s.setdatabase = 0`))[0]?.setconfig ?? null;

    it('restores a reset role setting with --yes, verified, and says the dynos must restart', async () => {
      await sql('ALTER ROLE audit_archiver RESET log_statement');
      expect(await setting('audit_archiver')).toBeNull();
      const r = await runCli(['audit', 'fix-roles', '--yes'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/audit_archiver {2}log_statement not set → 'mod'/);
      expect(r.stdout).toMatch(/raptor_app {2}log_statement 'mod', unchanged/);
      expect(r.stdout).toMatch(/verified in pg_db_role_setting:\n {2}raptor_app {2}log_statement=mod\n {2}audit_archiver {2}log_statement=mod/);
      expect(r.stderr).toMatch(/restart the dynos/);
      expect(await setting('audit_archiver')).toEqual(['log_statement=mod']);
      expectNoSecrets(r);
      // And smoke agrees.
      expect((await smoke()).code).toBe(0);
    });

    it('--dry-run prints the plan and changes nothing; --json reports per role', async () => {
      await sql('ALTER ROLE raptor_app RESET log_statement');
      try {
        const r = await runCli(['audit', 'fix-roles', '--dry-run', '--json'], { env });
        expect(r.code).toBe(0);
        expect(r.json()).toEqual({
          dryRun: true,
          roles: [
            { role: 'raptor_app', exists: true, before: null, after: null, status: 'planned' },
            { role: 'audit_archiver', exists: true, before: 'mod', after: 'mod', status: 'unchanged' },
          ],
          restartNeeded: false,
        });
        expect(await setting('raptor_app')).toBeNull();
        const human = await runCli(['audit', 'fix-roles', '--dry-run'], { env });
        expect(human.code).toBe(0);
        expect(human.stdout).toMatch(/plan \(dry run, nothing will change\):\n {2}raptor_app {2}log_statement not set → 'mod' {3}ALTER ROLE "raptor_app" SET log_statement TO 'mod';/);
        expect(await setting('raptor_app')).toBeNull();
      } finally {
        await sql(`ALTER ROLE raptor_app SET log_statement TO 'mod'`);
      }
    });

    it('no terminal and no --yes: exit 5, nothing changed', async () => {
      await sql('ALTER ROLE raptor_app RESET log_statement');
      try {
        const r = await runCli(['audit', 'fix-roles'], { env });
        expect(r.code).toBe(5);
        expect(r.stderr).toMatch(/confirmation needed: set log_statement to 'mod' for raptor_app\?/);
        expect(r.stderr).toMatch(/hint: rerun with --yes/);
        expect(await setting('raptor_app')).toBeNull();
      } finally {
        await sql(`ALTER ROLE raptor_app SET log_statement TO 'mod'`);
      }
    });
  });

  describe('bad input', () => {
    const cases: { what: string; argv: () => string[]; env?: () => Record<string, string>; code: number; message: RegExp; setup?: () => void }[] = [
      { what: 'a malformed --database-url', argv: () => ['--database-url', 'not a url'], code: 2, message: /--database-url is not a valid Postgres URL: not a URL/ },
      { what: 'another scheme', argv: () => ['--database-url', `mysql://raxx_owner:${OWNER_PW}@127.0.0.1/raxx`], code: 2, message: /--database-url is not a valid Postgres URL: scheme mysql:/ },
      { what: 'a malformed RAPTOR_APP_DATABASE_URL', argv: () => ['--database-url', ownerUrl], env: () => ({ RAPTOR_APP_DATABASE_URL: 'http://x' }), code: 2, message: /RAPTOR_APP_DATABASE_URL is not a valid Postgres URL/ },
      { what: 'an unknown sslmode', argv: () => ['--database-url', `${ownerUrl}?sslmode=sometimes`, '--app-database-url', appUrl], code: 2, message: /unknown sslmode=sometimes/ },
      { what: 'a wrong owner password', argv: () => ['--database-url', ownerUrl.replace(OWNER_PW, WRONG_PW), '--app-database-url', appUrl], code: 3, message: /Postgres rejected the credentials \(connect to postgres:\/\/raxx_owner:\*\*\*\*@.* \(--database-url\)\)/ },
      { what: "a wrong raptor_app password (from the environment)", argv: () => [], env: () => ({ DATABASE_URL: ownerUrl, RAPTOR_APP_DATABASE_URL: appUrl.replace(APP_PW, WRONG_PW) }), code: 3, message: /Postgres rejected the credentials \(connect to postgres:\/\/raptor_app:\*\*\*\*@.* \(RAPTOR_APP_DATABASE_URL\)\)/ },
      { what: 'no URL anywhere and no Heroku token', argv: () => [], env: () => ({ HEROKU_API_KEY: '' }), code: 3, message: /no Heroku API token found/ },
      { what: 'a config var missing', argv: () => ['--database-url', ownerUrl], code: 3, message: /no RAPTOR_APP_DATABASE_URL: .*not a config var of raxx-api-prod/, setup: () => heroku.setConfigVars(APP, { RAPTOR_APP_DATABASE_URL: null }) },
    ];
    for (const c of cases) {
      it(`${c.what} → exit ${c.code}, no password printed`, async () => {
        c.setup?.();
        try {
          const r = await runCli(['audit', 'smoke', '--timeout', '5', ...c.argv()], { env: { ...env, ...c.env?.() } });
          expect(r.stderr).toMatch(c.message);
          expect(r.code).toBe(c.code);
          expect(r.stderr).toMatch(/hint: /);
          expect(r.stdout).toBe('');
          expectNoSecrets(r);
        } finally {
          heroku.setConfigVars(APP, { RAPTOR_APP_DATABASE_URL: appUrl });
        }
      });
    }

    it('an unreachable database → exit 4, the URL masked, with --json one error document', async () => {
      const port = await freePort();
      const r = await runCli(['audit', 'smoke', '--json', '--database-url', `postgres://raxx_owner:${OWNER_PW}@127.0.0.1:${port}/raxx`, '--app-database-url', appUrl], { env });
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`postgres://raxx_owner:****@127.0.0.1:${port}/raxx`);
      expect(r.json()).toMatchObject({ error: { code: 'service', exitCode: 4 } });
      expectNoSecrets(r);
    });

    it('Ctrl-C while a connect hangs (a server that never answers): exit 130 at once, both commands', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((s) => void sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const hung = `postgres://raxx_owner:${OWNER_PW}@127.0.0.1:${(silent.address() as AddressInfo).port}/raxx`;
      try {
        for (const argv of [
          ['audit', 'smoke', '--json', '--database-url', hung, '--app-database-url', appUrl],
          ['audit', 'fix-roles', '--json', '--yes', '--database-url', hung],
        ]) {
          const ac = new AbortController();
          let abortedAt = 0;
          // Ctrl-C once the connection is open and Postgres is silent.
          silent.once('connection', () => setTimeout(() => ((abortedAt = Date.now()), ac.abort()), 100));
          const r = await runCli(argv, { env, signal: ac.signal });
          expect(r.code, argv[1]).toBe(130);
          expect(Date.now() - abortedAt, `${argv[1]}: stopped well before the 15 s connect timeout`).toBeLessThan(3_000);
          expect(r.stderr, argv[1]).toBe('interrupted\n');
          expect(r.json()).toMatchObject({ error: { exitCode: 130 } });
          expectNoSecrets(r);
        }
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    });

    it('AWS unreachable → exit 4 (the drain check reads SSM); the sessions are closed', async () => {
      const port = await freePort();
      const r = await runCli(['audit', 'smoke', '--timeout', '5'], { env: { ...env, AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` } });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/SSM/);
      expectNoSecrets(r);
      expect(await smokeSessions()).toBe(0);
    });
  });
});
