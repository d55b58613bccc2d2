// `raxx-ops drains wire`: replaces wire-heroku-log-drain.sh. Every app ends with exactly its
// current drain (SSM drain_url + app=<app>). One GET per app, a POST only where the current
// drain is missing, a DELETE only for what --prune removes; a second run changes nothing.
import type { Context } from '../../lib/context.js';
import { describeDrain, planChanges, sameDrainUrl, wirePlan, type WirePlan } from '../../lib/drains.js';
import { ServiceError, failureOf } from '../../lib/errors.js';
import { UnknownOutcomeError, type Drain, type HerokuApi } from '../../lib/heroku.js';
import { maskUrl } from '../../lib/secrets.js';
import { guardRemovals } from '../../lib/drain-guard.js';
import { createCommand, flag } from '../define.js';
import * as opt from '../options.js';
import { deleteDrains, failuresOf, forEachApp, listAppDrains, plural, succeeded, type AppDrains, type Outcome } from './shared.js';

export interface WireResult {
  app: string;
  added: Drain | undefined;
  removed: string[];
}

export interface WireRun {
  plans: Outcome<WirePlan>[];
  results: Outcome<WireResult>[] | undefined;
}

/** Each listed app's plan; `drains rotate` plans from the drains it listed before changing anything. */
export function planWire(listed: Outcome<AppDrains>[], prune: boolean): Outcome<WirePlan>[] {
  return listed.map((r) => (r.ok ? { app: r.app, ok: true, value: wirePlan(r.app, r.value.drains, r.value.desired!, { prune }) } : r));
}

/**
 * Heroku refuses every request once the account's pool is empty (429) and refills it at about
 * 75 a minute: rather than stop half-way through the apps, refuse before the first change.
 */
export function checkRateLimit(heroku: HerokuApi, plans: Outcome<WirePlan>[]): void {
  const needed = plans.reduce((n, p) => n + (p.ok ? planChanges(p.value) : 0), 0);
  const left = heroku.rateLimitRemaining;
  if (left !== undefined && needed > 0 && left < needed) {
    throw new ServiceError('Heroku', `Heroku rate limit: ${left} requests left for this account, the plan needs ${needed}; nothing was changed`, {
      code: 'rate_limit',
      hint: 'the pool refills at about 75 requests a minute; wait a minute and run again',
    });
  }
}

/**
 * Applies the plans of the apps that could be planned, in parallel. `onAdded` hears of each
 * drain as soon as it exists, even when the run is then interrupted (rotate removes them again).
 */
export function applyWire(ctx: Context, heroku: HerokuApi, plans: Outcome<WirePlan>[], onAdded?: (app: string, drain: Drain) => void): Promise<Outcome<WireResult>[]> {
  return forEachApp(ctx, succeeded(plans), (plan) => applyPlan(heroku, plan, onAdded));
}

/**
 * POSTs a drain. When the answer is lost (time-out, broken connection) or a 5xx (the change may
 * have been made anyway), the app's drains are listed before anything else happens: a drain that
 * landed is tracked like any added one, so nothing is left behind that nobody knows of.
 */
async function addSettled(heroku: HerokuApi, app: string, url: string): Promise<Drain> {
  try {
    return await heroku.addDrain(app, url);
  } catch (err) {
    const status = (err as { cause?: { statusCode?: number } }).cause?.statusCode;
    if (!(err instanceof UnknownOutcomeError) && !(err instanceof ServiceError && status !== undefined && status >= 500)) throw err;
    let landed: Drain | undefined;
    try {
      landed = (await heroku.listDrains(app)).find((d) => sameDrainUrl(d.url, url));
    } catch (listErr) {
      throw new ServiceError('Heroku', `${(err as Error).message}; listing ${app}'s drains to find out failed too (${(listErr as Error).message})`, {
        code: 'UnknownOutcome',
        hint: `see \`raxx-ops drains list --app ${app}\`; run the command again: it adds or removes only what is still needed`,
        cause: err,
      });
    }
    if (landed) return landed;
    throw err;
  }
}

/** The current drain first, then the stale ones: the app is never without a drain. */
async function applyPlan(heroku: HerokuApi, plan: WirePlan, onAdded?: (app: string, drain: Drain) => void): Promise<WireResult> {
  const result: WireResult = { app: plan.app, added: undefined, removed: [] };
  if (plan.add) {
    result.added = await addSettled(heroku, plan.app, plan.add);
    onAdded?.(plan.app, result.added);
  }
  result.removed = (await deleteDrains(heroku, plan.app, plan.remove.map((d) => d.drain.id))).map((d) => d.id);
  return result;
}

/**
 * The last look before pruning (a rotation may have run since the plan was read): stops if SSM
 * drain_url changed, and keeps every drain whose token the function accepts now.
 */
async function spareAccepted(ctx: Context, drainUrl: string, plans: Outcome<WirePlan>[]): Promise<Outcome<WirePlan>[]> {
  const { spared } = await guardRemovals(ctx, drainUrl, succeeded(plans));
  for (const s of spared) ctx.out.warn(`${s.app}: not removing ${s.drain.drain.id}: ${s.why}`);
  const keep = new Set(spared.map((s) => s.drain));
  return plans.map((p) => (p.ok ? { ...p, value: { ...p.value, remove: p.value.remove.filter((d) => !keep.has(d)), keep: [...p.value.keep, ...p.value.remove.filter((d) => keep.has(d))] } } : p));
}

export function printPlan(ctx: Context, plans: Outcome<WirePlan>[], dryRun: boolean): void {
  const { out } = ctx;
  if (out.json) return;
  const c = out.color;
  out.line(dryRun ? 'plan (dry run, nothing will change):' : 'plan:');
  for (const p of plans) {
    if (!p.ok) {
      out.line(`  ${c.app(p.app)}  ${c.bad('cannot list drains')}: ${p.error.message}`);
      continue;
    }
    const plan = p.value;
    if (planChanges(plan) === 0) {
      out.line(`  ${c.app(plan.app)}  up to date`);
    } else {
      out.line(`  ${c.app(plan.app)}`);
      if (plan.add) out.line(`    ${c.ok('add')}     ${maskUrl(plan.add)}`);
      for (const d of plan.remove) out.line(`    ${c.warn('remove')}  ${d.drain.id}  ${maskUrl(d.drain.url)} (stale: ${d.reason})`);
    }
    const untouched = plan.keep.filter((d) => d.class !== 'current');
    for (const d of untouched) out.line(`    ${c.dim(`keep    ${d.drain.id}  ${maskUrl(d.drain.url)} (${d.class}${d.reason ? `: ${d.reason}` : ''})`)}`);
  }
}

export function wireJson(run: WireRun, dryRun: boolean) {
  const results = new Map((run.results ?? []).map((r) => [r.app, r]));
  return {
    dryRun,
    apps: run.plans.map((p) => {
      if (!p.ok) return { app: p.app, status: 'failed', error: p.error.message };
      const r = results.get(p.app);
      return {
        app: p.app,
        desired: maskUrl(p.value.desired),
        plan: { add: p.value.add ? maskUrl(p.value.add) : null, remove: p.value.remove.map(describeDrain), keep: p.value.keep.map(describeDrain) },
        status: dryRun ? 'planned' : !r ? 'failed' : r.ok ? (planChanges(p.value) === 0 ? 'unchanged' : 'changed') : 'failed',
        ...(r && !r.ok ? { error: r.error.message } : {}),
        ...(r && r.ok ? { added: r.value.added ? r.value.added.id : null, removed: r.value.removed } : {}),
      };
    }),
  };
}

export default createCommand({
  description: 'give every app exactly its current drain (SSM drain_url + app=<app>); adds only what is missing, never touches foreign or add-on drains',
  examples: [
    ['raxx-ops drains wire --dry-run', 'what would change on every production app'],
    ['raxx-ops drains wire --prune', 'wire every app and drop stale drains (asks first)'],
    ['raxx-ops --env staging drains wire', 'the staging app'],
  ],
  lease: { name: 'drains', when: (a) => !a.dryRun },
  options: {
    ...opt.leaseOptions,
    app: opt.apps,
    prune: flag('also remove stale drains (the receiver with another token or app); asks first'),
    dryRun: opt.dryRun,
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const dryRun = Boolean(args.dryRun);
    const { apps, heroku, listed, drainUrl } = await listAppDrains(ctx, args.app);
    let plans = planWire(listed, Boolean(args.prune));
    printPlan(ctx, plans, dryRun);
    if (!dryRun) checkRateLimit(heroku, plans);
    // Pruning deletes drains, so it asks first, as `drains remove --stale` does.
    const pruning = succeeded(plans).reduce((n, p) => n + p.remove.length, 0);
    if (!dryRun && pruning > 0) {
      await ctx.confirm(`remove ${plural(pruning, 'stale drain')} while wiring?`);
      plans = await spareAccepted(ctx, drainUrl!, plans);
    }
    const run: WireRun = { plans, results: dryRun ? undefined : await applyWire(ctx, heroku, plans) };

    if (out.json) out.data(wireJson(run, dryRun));
    else if (run.results && run.results.length > 0) {
      const c = out.color;
      out.line('result:');
      for (const r of run.results) {
        if (!r.ok) out.line(`  ${c.app(r.app)}  ${c.bad('failed')}: ${r.error.message}`);
        else if (!r.value.added && r.value.removed.length === 0) out.line(`  ${c.app(r.app)}  ${c.ok('ok')}, unchanged`);
        else {
          const parts = [r.value.added ? `added ${r.value.added.id}` : undefined, r.value.removed.length ? `removed ${r.value.removed.join(', ')}` : undefined].filter(Boolean);
          out.line(`  ${c.app(r.app)}  ${c.ok('ok')}, ${parts.join('; ')}`);
        }
      }
    }
    const failures = [...failuresOf(run.plans), ...failuresOf(run.results ?? [])];
    if (failures.length > 0) {
      throw failureOf(`wiring failed for ${plural(failures.length, 'app')} of ${apps.length}: ${failures.map((f) => f.subject).join(', ')}`, failures, apps.length, {
        hint: `${failures.length < apps.length ? 'the other apps are wired; ' : ''}fix the cause and run \`raxx-ops drains wire\` again (it only adds what is missing)`,
      });
    }
  },
});
