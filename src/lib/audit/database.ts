// The checks made in the database as its owner: each role's login-time log_statement (and the
// ALTER ROLE that fixes it), the *_history triggers, the append-only grants, the runbook's
// trigger test and whether native pgaudit is there.
import type { Client } from 'pg';
import { ServiceError } from '../core/errors.js';
import { postgresError, quoteIdent } from '../postgres/connect.js';
import { fail, pass, query, type Outcome } from './check.js';

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
