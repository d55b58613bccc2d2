// The two runbooks the drain checks do not cover: the DML audit (the checks of `audit smoke`
// that need no tracer: role settings, history triggers, append-only grants, read from the
// catalog as the owner) and the shipped log sources (the last 7 days, by the shipping
// runbook's health table, as `logs status` judges them).
import { branch } from '../core/abort.js';
import { checkAppendOnly, checkRoleSettings, checkTriggers } from '../audit/database.js';
import { appRole } from '../audit/smoke.js';
import { resolveSource } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { closePostgres, connectPostgres, parseDatabaseUrl } from '../postgres/connect.js';
import type { Facts } from './drain-checks.js';
import { fail, pass, warn, type Finding, type Mode } from './report.js';

/** How long the audit check waits for the database before it says so. */
const CONNECT_TIMEOUT_S = 10;

/** 10. Role settings, triggers and grants of the audit runbook, as the DB owner; skipped (warn) without a database URL. */
export async function checkAudit(f: Facts): Promise<Finding[]> {
  const { ctx } = f;
  let owner;
  try {
    owner = await f.opts.ownerUrl();
  } catch (err) {
    // No URL anywhere is a gap in what doctor could see, not a fault of the audit trail.
    if (err instanceof ConfigError && /^no DATABASE_URL/.test(err.message)) return [warn(`not checked: ${err.message}`, err.hint)];
    throw err;
  }
  parseDatabaseUrl(owner.url, owner);
  let client: Awaited<ReturnType<typeof connectPostgres>> | undefined;
  const onAbort = () => void closePostgres(client);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    client = await connectPostgres(owner.url, { source: owner.source, badUrl: owner.badUrl, timeoutSeconds: CONNECT_TIMEOUT_S, applicationName: 'raxx-ops doctor', signal: ctx.signal });
    const c = client;
    const checks: [string, () => ReturnType<typeof checkRoleSettings>][] = [
      ['role settings', () => checkRoleSettings(c, ctx.config.audit.roles)],
      ['history triggers', () => checkTriggers(c, ctx.config.audit.triggers)],
      ['append-only grants', () => checkAppendOnly(c, appRole(ctx))],
    ];
    const findings: Finding[] = [];
    // One session: its queries run one after another.
    for (const [name, run] of checks) {
      const o = await run();
      const mode: Mode | undefined = o.mode === 'B' ? 'audit B' : o.mode === 'C' ? 'audit C' : undefined;
      findings.push(o.status === 'fail' ? fail(`${name}: ${o.detail}`, o.fix ?? 'see docs/audit.md', mode) : pass(`${name}: ${o.detail}`));
    }
    return findings;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await closePostgres(client);
  }
}

/** 11. Each declared log source over its last 7 days: a missing day is critical (fail) for a required source, a warning otherwise. */
export async function checkSources(f: Facts): Promise<{ findings: Finding[]; data?: object }> {
  const { ctx } = f;
  const names = ctx.config.logSources.map((s) => s.name);
  if (names.length === 0) return { findings: [pass('no shipped log sources declared (logSources in the config; docs/shipping.md)')] };
  const { lastDays } = await import('../shipping/layout.js');
  const { SOURCE_STATUS_DAYS, sourceStatus } = await import('../shipping/status.js');
  const s3 = await ctx.aws.s3();
  const days = lastDays(ctx.now().getTime(), SOURCE_STATUS_DAYS);
  const statuses = await Promise.all(names.map((name) => sourceStatus(s3, { source: resolveSource(ctx.config, name), keyPrefix: ctx.config.drain.keyPrefix, days, signal: branch(ctx.signal), endpoint: ctx.aws.endpointOf('S3') })));
  const span = `${days[0]}..${days[days.length - 1]}`;
  const findings = statuses.map((s): Finding => {
    const what = `${s.source}${s.required ? ' (required)' : ''}`;
    if (s.health === 'healthy') return pass(`${what}: every day of ${span} shipped, ${s.entries} entries`);
    const missing = `missing ${s.missing.join(', ')}`;
    const fix = `ship the day's files: raxx-ops logs ship ${s.source} <file>… (then raxx-ops logs status --source ${s.source}); the runbook's "Missing Auth Logs" steps if the files are not there`;
    return s.health === 'critical' ? fail(`${what}: ${missing} (critical: a required source must be present daily)`, fix) : warn(`${what}: ${missing} (optional source)`, fix);
  });
  return { findings, data: { sources: statuses.map((s) => ({ source: s.source, required: s.required, health: s.health, missing: s.missing, entries: s.entries })) } };
}
