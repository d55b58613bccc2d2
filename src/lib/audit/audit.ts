// The Postgres DML audit trail, checked link by link: the API app's drain, the roles'
// `log_statement = 'mod'`, the `*_history` triggers and grants, a tracer INSERT made while
// logged in as `raptor_app` (role settings apply only at login, so the runbook's SET ROLE
// test can never log its tracer), and that tracer's statement line in the drain bucket.
// Each check reports pass / fail / skipped with its duration; a failure names the runbook's
// failure mode and the fix.
import { setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import type { Context } from '../run/context.js';
import { readDrainUrl } from '../drains/settings.js';
import { classifyDrains, desiredDrainUrl } from '../drains/plan.js';
import { InterruptedError, ServiceError } from '../core/errors.js';
import { LogStore, type LogObject } from '../logs/store.js';
import { postgresError, quoteIdent } from '../postgres/connect.js';
import { sleep } from '../core/sleep.js';

/** The runbook's failure modes, and the links it leaves unlettered. */
export const AUDIT_FAILURES = {
  A: 'drain missing: the API app has no drain to the receiver, so no Postgres line reaches S3',
  B: "role setting missing: the role's sessions do not log their DML (log_statement is not 'mod')",
  C: 'history trigger missing or disabled: changes are not captured in the *_history tables',
  'append-only': 'append-only broken: raptor_app may rewrite or erase history',
  tracer: 'raptor_app cannot write customer_audit_events, or its credential is not raptor_app',
  delivery: "the tracer's statement line did not reach the drain bucket",
  capture: 'a users change was not captured in users_history as INSERT',
  migration: 'migration 0051 is not applied',
} as const;
export type AuditFailure = keyof typeof AUDIT_FAILURES;

export type CheckStatus = 'pass' | 'fail' | 'skipped';

export interface CheckResult {
  id: number;
  name: string;
  status: CheckStatus;
  ms: number;
  detail: string;
  mode?: AuditFailure;
  failure?: string;
  fix?: string;
}

/** What a check body returns; the runner adds id, name and timing. */
type Outcome = { status: CheckStatus; detail: string; mode?: AuditFailure; fix?: string };

const pass = (detail: string): Outcome => ({ status: 'pass', detail });
const fail = (mode: AuditFailure, detail: string, fix: string): Outcome => ({ status: 'fail', mode, detail, fix });
const skipped = (detail: string): Outcome => ({ status: 'skipped', detail });

export interface SmokeOptions {
  /** The API app whose drain and objects are checked. */
  app: string;
  owner: Client;
  /** A session logged in as raptor_app with its own credential. */
  appClient: Client;
  timeoutSeconds: number;
  triggerTest: boolean;
}

export interface SmokeReport {
  app: string;
  tracer: string;
  checks: CheckResult[];
  pgaudit: { available: boolean; installed: boolean };
  ok: boolean;
}

/** The role the application logs in as: the first audited role (raptor_app). */
export function appRole(ctx: Pick<Context, 'config'>): string {
  return ctx.config.audit.roles[0] ?? 'raptor_app';
}

export function newTracer(now: Date): string {
  return `pgaudit-smoke-${Math.floor(now.getTime() / 1000)}-${randomBytes(4).toString('hex')}`;
}

/**
 * Runs the checks in order. Errors that are not findings (a service down, bad credentials,
 * Ctrl-C) stop the run: the report so far goes to `onAbort` and the error is rethrown.
 */
export async function runSmoke(ctx: Context, opts: SmokeOptions, onCheck?: (c: CheckResult) => void): Promise<SmokeReport> {
  const tracer = newTracer(ctx.now());
  const role = appRole(ctx);
  const checks: CheckResult[] = [];
  const state: { insertedAt?: number; rolesOk?: boolean; drainOk?: boolean } = {};

  async function check(id: number, name: string, body: () => Promise<Outcome>): Promise<void> {
    ctx.checkInterrupted();
    const started = Date.now();
    let outcome: Outcome;
    try {
      outcome = await body();
    } catch (err) {
      if (ctx.signal.aborted) throw new InterruptedError();
      throw err;
    }
    const result: CheckResult = {
      id,
      name,
      status: outcome.status,
      ms: Date.now() - started,
      detail: outcome.detail,
      ...(outcome.mode ? { mode: outcome.mode, failure: AUDIT_FAILURES[outcome.mode] } : {}),
      ...(outcome.fix ? { fix: outcome.fix } : {}),
    };
    checks.push(result);
    onCheck?.(result);
  }

  await check(1, 'drain', async () => {
    const o = await checkDrain(ctx, opts.app);
    state.drainOk = o.status === 'pass';
    return o;
  });
  await check(2, 'role settings', async () => {
    const o = await checkRoleSettings(opts.owner, ctx.config.audit.roles);
    state.rolesOk = o.status === 'pass';
    return o;
  });
  await check(3, 'history triggers', () => checkTriggers(opts.owner, ctx.config.audit.triggers));
  await check(4, 'append-only grants', () => checkAppendOnly(opts.owner, role));
  await check(5, 'tracer insert', async () => {
    const o = await insertTracer(opts.owner, opts.appClient, role, tracer);
    if (o.status === 'pass') state.insertedAt = Date.now();
    return o;
  });
  await check(6, 'tracer in S3', async () => {
    if (state.insertedAt === undefined) return skipped('no tracer was inserted (check 5)');
    if (!state.drainOk) return skipped('the API app has no current drain (check 1): the tracer cannot reach S3');
    if (!state.rolesOk) return skipped(`the role settings are missing (check 2): ${role}'s statements are not logged`);
    return findTracer(ctx, opts.app, tracer, state.insertedAt, opts.timeoutSeconds);
  });
  if (opts.triggerTest) await check(7, 'trigger capture', () => triggerTest(opts.owner, tracer));

  const pgaudit = await pgauditStatus(opts.owner);
  return { app: opts.app, tracer, checks, pgaudit, ok: checks.every((c) => c.status !== 'fail') };
}

async function query<R extends object>(client: Client, sql: string, params: unknown[] = [], action = 'run the audit query'): Promise<R[]> {
  try {
    return (await client.query<R>(sql, params)).rows;
  } catch (err) {
    throw postgresError(err, action);
  }
}

/** Check 1 (A): the API app has exactly its current drain (SSM drain_url + app=<app>). */
export async function checkDrain(ctx: Context, app: string): Promise<Outcome> {
  const drainUrl = await readDrainUrl(ctx);
  const heroku = await ctx.heroku();
  const drains = classifyDrains(await heroku.listDrains(app), desiredDrainUrl(drainUrl, app));
  const current = drains.find((d) => d.class === 'current');
  if (current) return pass(`${app} has its current drain ${current.drain.id}`);
  const others = drains.length === 0 ? 'no drains at all' : `${drains.length} other drain${drains.length === 1 ? '' : 's'} (${drains.map((d) => d.class).join(', ')})`;
  return fail('A', `${app} has no current drain to the receiver: ${others}`, `raxx-ops drains wire --app ${app}`);
}

/** The value of one setting in a `setconfig` array (`{log_statement=mod,…}`). */
function settingOf(config: string[] | null | undefined, name: string): string | undefined {
  for (const entry of config ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.slice(0, eq) === name) return entry.slice(eq + 1);
  }
  return undefined;
}

export interface RoleSetting {
  role: string;
  exists: boolean;
  /** log_statement at login: the role's setting in this database, else its role-wide one. */
  logStatement: string | undefined;
}

/** Reads each role's login-time log_statement from pg_db_role_setting. */
export async function readRoleSettings(owner: Client, roles: string[]): Promise<RoleSetting[]> {
  const rows = await query<{ rolname: string; setdatabase: number | null; setconfig: string[] | null; this_db: number }>(
    owner,
    `SELECT r.rolname, s.setdatabase, s.setconfig, (SELECT oid FROM pg_database WHERE datname = current_database())::int AS this_db
       FROM pg_roles r
       LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid
      WHERE r.rolname = ANY($1::text[])`,
    [roles],
    'read pg_db_role_setting',
  );
  return roles.map((role) => {
    const mine = rows.filter((r) => r.rolname === role);
    const inDb = mine.find((r) => r.setdatabase !== null && r.setdatabase !== 0 && r.setdatabase === r.this_db);
    const global = mine.find((r) => r.setdatabase === 0);
    return { role, exists: mine.length > 0, logStatement: settingOf(inDb?.setconfig, 'log_statement') ?? settingOf(global?.setconfig, 'log_statement') };
  });
}

/** `mod` logs every INSERT, UPDATE, DELETE (and DDL); `all` does too. */
export function logsDml(value: string | undefined): boolean {
  return value === 'mod' || value === 'all';
}

export function alterRoleSql(role: string): string {
  return `ALTER ROLE ${quoteIdent(role)} SET log_statement TO 'mod';`;
}

/** Check 2 (B). */
export async function checkRoleSettings(owner: Client, roles: string[]): Promise<Outcome> {
  const settings = await readRoleSettings(owner, roles);
  const missing = settings.filter((s) => !s.exists);
  if (missing.length > 0) {
    return fail('migration', `role ${missing.map((s) => s.role).join(' and ')} does not exist`, 'apply migration 0051 (it creates the audited roles)');
  }
  const bad = settings.filter((s) => !logsDml(s.logStatement));
  if (bad.length > 0) {
    return fail(
      'B',
      bad.map((s) => `${s.role}: log_statement is ${s.logStatement ? `'${s.logStatement}'` : 'not set'}`).join('; '),
      `raxx-ops audit fix-roles (or: ${bad.map((s) => alterRoleSql(s.role)).join(' ')}), then restart the dynos`,
    );
  }
  return pass(settings.map((s) => `${s.role}: log_statement=${s.logStatement}`).join(', '));
}

/** Check 3 (C): each trigger exists and fires in normal operation ('O'; 'A' fires always). */
export async function checkTriggers(owner: Client, triggers: string[]): Promise<Outcome> {
  const rows = await query<{ tgname: string; relname: string; tgenabled: string }>(
    owner,
    `SELECT t.tgname, c.relname, t.tgenabled::text AS tgenabled
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal AND t.tgname = ANY($1::text[])`,
    [triggers],
    'read pg_trigger',
  );
  const missing = triggers.filter((t) => !rows.some((r) => r.tgname === t));
  if (missing.length > 0) {
    const many = missing.length > 1;
    return fail('C', `trigger${many ? 's' : ''} ${missing.join(', ')} ${many ? 'do' : 'does'} not exist: migration 0051 is not applied`, 'apply migration 0051 (it creates the *_history tables and their triggers)');
  }
  const disabled = rows.filter((r) => r.tgenabled !== 'O' && r.tgenabled !== 'A');
  if (disabled.length > 0) {
    const why = (e: string) => (e === 'D' ? 'disabled' : e === 'R' ? 'fires only on replicas' : `tgenabled=${e}`);
    return fail('C', disabled.map((r) => `${r.tgname} on ${r.relname} is ${why(r.tgenabled)}`).join('; '), disabled.map((r) => `ALTER TABLE ${quoteIdent(r.relname)} ENABLE TRIGGER ${quoteIdent(r.tgname)};`).join(' '));
  }
  return pass(rows.map((r) => `${r.tgname} on ${r.relname}`).join(', ') + ' enabled');
}

/** Check 4: the app role holds no UPDATE, DELETE or TRUNCATE on any *_history table. */
export async function checkAppendOnly(owner: Client, role: string): Promise<Outcome> {
  const exists = await query<{ n: number }>(owner, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1`, [role], 'read pg_roles');
  if (!exists[0]?.n) return fail('migration', `role ${role} does not exist`, 'apply migration 0051 (it creates the audited roles and grants)');
  const rows = await query<{ tbl: string; upd: boolean; del: boolean; trunc: boolean }>(
    owner,
    `SELECT format('%I.%I', n.nspname, c.relname) AS tbl,
            has_table_privilege($1, c.oid, 'UPDATE') AS upd,
            has_table_privilege($1, c.oid, 'DELETE') AS del,
            has_table_privilege($1, c.oid, 'TRUNCATE') AS trunc
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relname LIKE '%\\_history'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1`,
    [role],
    'read table privileges',
  );
  if (rows.length === 0) return fail('migration', 'no *_history table exists', 'apply migration 0051 (it creates the *_history tables)');
  const open = rows.filter((r) => r.upd || r.del || r.trunc);
  if (open.length > 0) {
    const privs = (r: (typeof rows)[number]) => [r.upd && 'UPDATE', r.del && 'DELETE', r.trunc && 'TRUNCATE'].filter(Boolean).join(', ');
    return fail(
      'append-only',
      open.map((r) => `${role} may ${privs(r)} ${r.tbl}`).join('; '),
      open.map((r) => `REVOKE ${privs(r)} ON ${r.tbl} FROM ${quoteIdent(role)};`).join(' ') + ' (and find who granted it: a grant to PUBLIC or a role it is member of counts too)',
    );
  }
  return pass(`${role} cannot UPDATE, DELETE or TRUNCATE ${rows.map((r) => r.tbl).join(', ')}`);
}

/**
 * The runbook's tracer row (dml-audit.txt, smoke test step 1), column for column; only the id
 * differs: `pgaudit-smoke-<epoch>` plus a random suffix, so two runs in one second never
 * collide on the primary key. docs/runbooks/dml-audit.txt holds the runbook's text, and a test
 * holds these to it.
 */
export const TRACER_COLUMNS = ['id', 'dimension', 'customer_id', 'actor_id', 'actor_type', 'action', 'at_utc'] as const;
/** The values after the id, as SQL literals. */
export const TRACER_VALUES = ["'system_automated'", '0', "'sre-smoke'", "'system_actor'", "'smoke.pgaudit_check'", 'NOW()'] as const;

/** Plain SQL text (no parameters), so the server logs the tracer on the statement line itself. */
export function tracerInsertSql(tracer: string): string {
  if (!/^pgaudit-smoke-\d+-[0-9a-f]+$/.test(tracer)) throw new Error(`bad tracer ${tracer}`);
  return `INSERT INTO customer_audit_events (${TRACER_COLUMNS.join(', ')}) VALUES ('${tracer}', ${TRACER_VALUES.join(', ')})`;
}

/**
 * Check 5: the tracer INSERT, in the app role's own session. One autocommit statement sent as
 * plain SQL text (no parameters), so the server logs `statement: INSERT … 'pgaudit-smoke-…'`
 * on one line and no transaction is ever left open; the owner's session then sees the row,
 * which proves it was committed.
 */
export async function insertTracer(owner: Client, appClient: Client, role: string, tracer: string): Promise<Outcome> {
  const who = await query<{ u: string }>(appClient, 'SELECT current_user AS u', [], 'read current_user');
  if (who[0]?.u !== role) {
    return fail('tracer', `the app credential logs in as ${who[0]?.u ?? '?'}, not ${role}: the role's log_statement would not apply`, `pass ${role}'s own URL with --app-database-url or RAPTOR_APP_DATABASE_URL`);
  }
  try {
    await appClient.query(tracerInsertSql(tracer));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01') return fail('migration', 'table customer_audit_events does not exist: migration 0051 is not applied', 'apply migration 0051');
    if (code === '42501') return fail('tracer', `${role} may not INSERT into customer_audit_events: ${(err as Error).message}`, `GRANT INSERT ON customer_audit_events TO ${quoteIdent(role)};`);
    if (code && /^(22|23|42)/.test(code)) return fail('tracer', `the tracer INSERT failed: ${(err as Error).message}`, 'compare customer_audit_events with migration 0051');
    throw postgresError(err, 'insert the tracer');
  }
  const seen = await query<{ n: number }>(owner, `SELECT count(*)::int AS n FROM customer_audit_events WHERE id = $1`, [tracer], 'read the tracer back');
  if (!seen[0]?.n) return fail('tracer', 'the tracer row is not visible to other sessions: it was not committed', 'check for a trigger or rule on customer_audit_events that swallows rows');
  return pass(`inserted and committed ${tracer} as ${role}`);
}

/** A drain line that is the tracer's logged INSERT statement. */
export function isTracerStatement(line: string, tracer: string): boolean {
  return line.includes(tracer) && /\bINSERT\b/i.test(line);
}

/** Objects read at once while looking for the tracer (a busy app writes many per second). */
const SCAN_CONCURRENCY = 16;
/** How far before the insert an object's time may be: clocks differ, and a batch is keyed by its first line. */
const CLOCK_LEEWAY_MS = 60_000;

/**
 * Check 6: polls the API app's drain objects written since the insert (with a minute of
 * leeway) until the tracer's statement line appears or time runs out. Each object is read
 * once; the new ones of each poll are read concurrently.
 */
export async function findTracer(ctx: Context, app: string, tracer: string, insertedAt: number, timeoutSeconds: number): Promise<Outcome> {
  const store = new LogStore({ s3: () => ctx.aws.s3(), target: () => ctx.aws.s3Target(), bucket: ctx.config.drain.bucket, keyPrefix: ctx.config.drain.keyPrefix, endpoint: ctx.aws.endpointOf('S3') });
  const deadline = insertedAt + timeoutSeconds * 1000;
  if (!ctx.out.json) ctx.out.info(`waiting up to ${timeoutSeconds} s for the tracer in ${app}'s drain objects…`);
  // Each concurrent scan listens on the cancellation signal: more than Node's default 10 at once.
  setMaxListeners(SCAN_CONCURRENCY + 10, ctx.signal);
  const seen = new Set<string>();
  const window = () => ({ start: insertedAt - CLOCK_LEEWAY_MS, end: Date.now() + 10 * 60_000 });
  const holdsTracer = async (obj: LogObject) =>
    (
      await store.scan(obj, ctx.signal, () => {
        let hit = false;
        return {
          line(text) {
            if (isTracerStatement(text, tracer)) hit = true;
            return !hit;
          },
          result: () => hit,
        };
      })
    ).value;
  for (;;) {
    ctx.checkInterrupted();
    const fresh: LogObject[] = [];
    for await (const obj of store.list(app, window(), ctx.signal)) if (!seen.has(obj.key)) fresh.push(obj);
    for (let i = 0; i < fresh.length; i += SCAN_CONCURRENCY) {
      const batch = fresh.slice(i, i + SCAN_CONCURRENCY);
      const hits = await Promise.all(batch.map(holdsTracer));
      for (const o of batch) seen.add(o.key);
      const at = hits.indexOf(true);
      if (at >= 0) return pass(`found in s3://${ctx.config.drain.bucket}/${batch[at]!.key} after ${((Date.now() - insertedAt) / 1000).toFixed(1)} s`);
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())), ctx.signal);
  }
  return fail(
    'delivery',
    `no drain object of ${app} holds the tracer's INSERT after ${timeoutSeconds} s (${seen.size} object${seen.size === 1 ? '' : 's'} read)`,
    `sessions opened before the role setting keep the old value: restart the dynos (heroku ps:restart --app ${app}); then \`raxx-ops drains test --app ${app}\` for the drain itself, and \`raxx-ops logs grep -F ${tracer} --app ${app} --since 15m\` later`,
  );
}

/**
 * Check 7: the runbook's trigger test, as the DB owner (as the runbook says): a users row with
 * its columns (email, email_verified_at) inserted inside a transaction, the users_history rows
 * that same transaction wrote read back (by xmin: nothing else of the history row is assumed
 * but `operation`), then rolled back, so nothing stays behind.
 */
export async function triggerTest(owner: Client, tracer: string): Promise<Outcome> {
  const email = `${tracer}@smoke.invalid`;
  try {
    await owner.query('BEGIN');
    try {
      await owner.query('INSERT INTO users (email, email_verified_at) VALUES ($1, NULL)', [email]);
      const rows = (await owner.query<{ operation: string }>(`SELECT operation FROM users_history WHERE xmin::text::bigint = txid_current() % 4294967296`)).rows;
      if (rows.some((r) => r.operation === 'INSERT')) return pass('a users INSERT by the owner was captured in users_history as INSERT (rolled back)');
      return fail('capture', rows.length ? `users_history holds ${rows.map((r) => r.operation).join(', ')}, not INSERT` : 'users_history holds no row for the inserted user', 'ALTER TABLE users ENABLE TRIGGER trg_users_history; or re-apply migration 0051');
    } finally {
      await owner.query('ROLLBACK').catch(() => undefined);
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42P01' || code === '42703') return fail('migration', `${(err as Error).message}: migration 0051 is not applied`, 'apply migration 0051');
    if (code === '42501') return fail('capture', `the trigger test needs INSERT on users: ${(err as Error).message}`, "run it with the owner's credential (--database-url)");
    if (code && /^(22|23|42)/.test(code)) return fail('capture', `the trigger test failed: ${(err as Error).message}`, 'compare users and users_history with migration 0051');
    throw postgresError(err, 'run the trigger test');
  }
}

/** Native pgaudit (the runbook's Shield-plan upgrade path), for information. */
export async function pgauditStatus(owner: Client): Promise<{ available: boolean; installed: boolean }> {
  const rows = await query<{ installed: string | null }>(owner, `SELECT installed_version AS installed FROM pg_available_extensions WHERE name = 'pgaudit'`, [], 'read pg_available_extensions');
  return { available: rows.length > 0, installed: Boolean(rows[0]?.installed) };
}

export interface FixPlan {
  role: string;
  exists: boolean;
  before: string | undefined;
  change: boolean;
}

export async function planFixRoles(owner: Client, roles: string[]): Promise<FixPlan[]> {
  return (await readRoleSettings(owner, roles)).map((s) => ({ role: s.role, exists: s.exists, before: s.logStatement, change: s.exists && s.logStatement !== 'mod' }));
}

export async function applyFixRole(owner: Client, role: string): Promise<void> {
  try {
    await owner.query(alterRoleSql(role));
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new ServiceError('Postgres', `Postgres refused ${alterRoleSql(role)} ${(err as Error).message}`, {
        code: '42501',
        hint: 'the owner credential may not change this role: run the ALTER ROLE as the database owner (Heroku: the default credential)',
        cause: err,
      });
    }
    throw postgresError(err, `ALTER ROLE ${role}`);
  }
}
