// The Postgres DML audit trail, checked link by link: the API app's drain, the roles'
// `log_statement = 'mod'`, the `*_history` triggers and grants, a tracer INSERT made while
// logged in as `raptor_app` (role settings apply only at login, so the runbook's SET ROLE
// test can never log its tracer), and that tracer's statement line in the drain bucket.
// Each check reports pass / fail / skipped with its duration; a failure names the runbook's
// failure mode and the fix.
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import type { Context } from '../run/context.js';
import { readDrainUrl } from '../drains/settings.js';
import { classifyDrains, desiredDrainUrl } from '../drains/plan.js';
import { InterruptedError } from '../core/errors.js';
import { AUDIT_FAILURES, fail, pass, skipped, type CheckResult, type Outcome } from './check.js';
import { checkAppendOnly, checkRoleSettings, checkTriggers, pgauditStatus, triggerTest } from './database.js';
import { findTracer, insertTracer } from './tracer.js';

export type { CheckResult };

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
