// The DML audit schema of migration 0051, derived from the runbook's own text
// (docs/runbooks/dml-audit.txt) rather than written by hand: the tracer INSERT names
// customer_audit_events' columns, the trigger check names the triggers, the pgaudit labels name
// the *_history tables, the trigger test names users' and users_history's columns, the
// escalation section names the trigger functions, and the access-control table names the
// grants. What the runbook leaves out (column types, a history row's copy of the row) is
// inferred from the values it inserts and marked below; nothing else is invented.
import { readFileSync } from 'node:fs';

export const RUNBOOK = readFileSync(new URL('../../docs/runbooks/dml-audit.txt', import.meta.url), 'utf8');

/** The runbook's statement `INSERT INTO <table> (cols) VALUES (values)`: columns and top-level value expressions. */
export function parseInsert(text: string, table: string): { columns: string[]; values: string[] } {
  const at = new RegExp(`INSERT INTO ${table}\\s*\\(([^)]*)\\)\\s*VALUES\\s*\\(`).exec(text);
  if (!at) throw new Error(`the runbook has no INSERT INTO ${table}`);
  const values: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text.slice(at.index + at[0].length)) {
    if (ch === "'") quoted = !quoted;
    if (!quoted && ch === '(') depth++;
    if (!quoted && ch === ')' && depth-- === 0) break;
    if (!quoted && ch === ',' && depth === 0) {
      values.push(current.trim());
      current = '';
    } else current += ch;
  }
  values.push(current.trim());
  return { columns: at[1]!.split(',').map((c) => c.trim()), values };
}

/** The smoke test's tracer: step 1 of "Smoke test — verify end-to-end DML logging". */
export function runbookTracer(text = RUNBOOK): { columns: string[]; values: string[] } {
  return parseInsert(text, 'customer_audit_events');
}

const all = (re: RegExp, text: string) => [...new Set([...text.matchAll(re)].map((m) => m[1]!))];

export interface RunbookSchema {
  roles: string[];
  triggers: { name: string; table: string }[];
  historyTables: string[];
  grants: { role: string; privileges: string[] }[];
  sql: string;
}

/** A column type from the value the runbook inserts (the runbook gives no types). */
function typeOf(value: string, column: string): string {
  if (/^'.*'$/.test(value) || value.includes('||')) return 'text';
  if (/^-?\d+$/.test(value)) return 'bigint';
  if (/^now\(\)$/i.test(value) || /_at(_utc)?$/.test(column)) return 'timestamptz';
  return 'text';
}

export function runbookSchema(text = RUNBOOK): RunbookSchema {
  const roles = all(/ALTER ROLE (\w+) SET log_statement TO 'mod'/g, text);
  const triggerBlock = /WHERE tgname IN \(([^)]*)\)/.exec(text)?.[1] ?? '';
  const triggers = all(/'(trg_(\w+)_history)'/g, triggerBlock).map((name) => ({ name, table: /^trg_(\w+)_history$/.exec(name)![1]! }));
  const historyTables = all(/SECURITY LABEL FOR pgaudit ON TABLE (\w+_history)/g, text);
  const fnPattern = /Any Sentry error involving (fn_capture_)\*(_history)/.exec(text);
  if (roles.length === 0 || triggers.length === 0 || historyTables.length === 0 || !fnPattern) throw new Error('the runbook no longer names the roles, triggers, history tables or trigger functions');
  const fn = (table: string) => `${fnPattern[1]}${table}${fnPattern[2]}`;

  // "Access control model": the *_history privileges of each database role.
  const grants: { role: string; privileges: string[] }[] = [];
  for (const m of text.matchAll(/^\| (\w+) \|[^|\n]*\|[^|\n]*\| ([^|\n]*) \|$/gm)) {
    const privileges = all(/\b(SELECT|INSERT|UPDATE|DELETE)\b/g, m[2]!);
    if (privileges.length) grants.push({ role: m[1]!, privileges });
  }

  const tracer = runbookTracer(text);
  const users = parseInsert(text, 'users');
  // The trigger test reads users_history by these two columns.
  const historyColumns = all(/\b(changed_at|operation)\b/g, /SELECT \* FROM users_history[\s\S]*?operation = 'INSERT'/.exec(text)?.[0] ?? '');
  if (historyColumns.length !== 2) throw new Error('the runbook no longer names users_history.changed_at and .operation');
  const baseTables = historyTables.map((h) => h.replace(/_history$/, ''));
  const loginRoles = new Set(roles);

  const sql = [
    '-- Derived from docs/runbooks/dml-audit.txt by test/support/audit-schema.ts.',
    ...grants.map((g) => g.role).concat(roles).filter((r, i, a) => a.indexOf(r) === i).map((r) => `CREATE ROLE ${r} ${loginRoles.has(r) ? 'LOGIN' : 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE;`),
    ...roles.map((r) => `ALTER ROLE ${r} SET log_statement TO 'mod';`),
    `CREATE TABLE customer_audit_events (${tracer.columns.map((c, i) => `${c} ${typeOf(tracer.values[i]!, c)} NOT NULL${c === 'id' ? ' PRIMARY KEY' : ''}`).join(', ')});`,
    // users' columns are the trigger test's; ON CONFLICT DO NOTHING implies the e-mail is unique.
    `CREATE TABLE users (id bigserial PRIMARY KEY, ${users.columns.map((c, i) => `${c} ${typeOf(users.values[i]!, c)}${c === 'email' ? ' NOT NULL UNIQUE' : ''}`).join(', ')});`,
    ...baseTables.filter((t) => t !== 'users').map((t) => `CREATE TABLE ${t} (id bigserial PRIMARY KEY);`),
    // Assumed: a history row keeps a copy of the row (the runbook names only operation and changed_at).
    ...historyTables.map((h) => `CREATE TABLE ${h} (history_id bigserial PRIMARY KEY, operation text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')), changed_at timestamptz NOT NULL DEFAULT now(), row_data jsonb NOT NULL);`),
    ...triggers.flatMap(({ name, table }) => [
      `CREATE FUNCTION ${fn(table)}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  INSERT INTO ${table}_history (operation, row_data) VALUES (TG_OP, to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
  RETURN NULL;
END;
$$;`,
      `CREATE TRIGGER ${name} AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn(table)}();`,
    ]),
    // The application (the tracer's author) reads and writes its tables and audit events.
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ${baseTables.join(', ')} TO ${roles[0]};`,
    `GRANT SELECT, INSERT ON customer_audit_events TO ${roles[0]};`,
    `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${roles[0]};`,
    ...grants.map((g) => `GRANT ${g.privileges.join(', ')} ON ${historyTables.join(', ')} TO ${g.role};`),
  ].join('\n');
  return { roles, triggers, historyTables, grants, sql };
}

/**
 * A database `name` in the cluster built from the runbook's schema by a non-superuser owner
 * (as on Heroku), with passwords for the owner and the two login roles. Returns their URLs.
 */
export async function loadAuditDatabase(cluster: { url: string; port: number }, name: string, pw: { owner: string; app: string; archiver: string }): Promise<{ owner: string; app: string; superuser: string }> {
  const { default: pg } = await import('pg');
  const boot = new pg.Client({ connectionString: cluster.url });
  await boot.connect();
  try {
    await boot.query(`CREATE ROLE ${name}_owner LOGIN CREATEROLE PASSWORD '${pw.owner}'`);
    await boot.query(`GRANT SET ON PARAMETER log_statement TO ${name}_owner`);
    await boot.query(`CREATE DATABASE ${name} OWNER ${name}_owner`);
  } finally {
    await boot.end();
  }
  const url = (who: string) => `postgres://${who}@127.0.0.1:${cluster.port}/${name}`;
  const owner = new pg.Client({ connectionString: url(`${name}_owner:${pw.owner}`) });
  await owner.connect();
  try {
    await owner.query(runbookSchema().sql);
    await owner.query(`ALTER ROLE raptor_app PASSWORD '${pw.app}'`);
    await owner.query(`ALTER ROLE audit_archiver PASSWORD '${pw.archiver}'`);
  } finally {
    await owner.end();
  }
  return { owner: url(`${name}_owner:${pw.owner}`), app: url(`raptor_app:${pw.app}`), superuser: cluster.url.replace(/\/postgres$/, `/${name}`) };
}
