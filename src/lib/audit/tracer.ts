// The smoke test's tracer: the runbook's INSERT, made in the app role's own session, and the
// statement line it must produce in the API app's drain objects.
import { branch } from '../core/abort.js';
import type { Client } from 'pg';
import type { Context } from '../run/context.js';
import { LogStore, type LogObject } from '../logs/store.js';
import { postgresError, quoteIdent } from '../postgres/connect.js';
import { sleep } from '../core/sleep.js';
import { fail, pass, query, type Outcome } from './check.js';

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
  const seen = new Set<string>();
  const window = () => ({ start: insertedAt - CLOCK_LEEWAY_MS, end: Date.now() + 10 * 60_000 });
  const holdsTracer = async (obj: LogObject) =>
    (
      await store.scan(obj, branch(ctx.signal), () => {
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
