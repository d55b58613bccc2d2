// The drain operations the drains commands share — listing each app's drains, classifying,
// planning and applying the wiring, removing, probing — so that each command file reads like the
// runbook step it replaces and no command imports another. Apps run a few at a time; one failing
// does not stop the others, and the per-app outcomes end in one PartialFailureError.
import type { Context } from '../run/context.js';
import { readDrainUrl } from './settings.js';
import { guardRemovals } from './guard.js';
import { probeDrain, type ProbeResult } from './probe.js';
import { classifyDrains, describeDrain, desiredDrainUrl, planChanges, sameDrainUrl, wirePlan, type ClassifiedDrain, type WirePlan } from './plan.js';
import { asUserError, ConfigError, ServiceError, type UserError, InterruptedError } from '../core/errors.js';
import { UnknownOutcomeError, type Drain, type HerokuApi } from '../heroku/client.js';
import { maskUrl } from '../core/secrets.js';

/** Apps are independent; a few at a time keeps well inside Heroku's rate limit and sockets. */
const APP_CONCURRENCY = 4;

export type Outcome<T> = { app: string; ok: true; value: T } | { app: string; ok: false; error: UserError };

/**
 * Runs `fn` for each app (an app name, or anything naming one in `app`), a few at a time; one
 * failing does not stop the others. On Ctrl-C no further app starts and InterruptedError is
 * thrown only once the running ones have finished, so a caller that undoes its work on failure
 * (rotate) is not racing requests still in flight.
 */
export async function forEachApp<I extends string | { app: string }, T>(ctx: Context, items: readonly I[], fn: (item: I) => Promise<T>): Promise<Outcome<T>[]> {
  const results = new Array<Outcome<T>>(items.length);
  let next = 0;
  let interrupted: InterruptedError | undefined;
  async function worker() {
    while (next < items.length && !interrupted) {
      const i = next++;
      const item = items[i]!;
      const app = typeof item === 'string' ? item : item.app;
      try {
        ctx.checkInterrupted();
        results[i] = { app, ok: true, value: await fn(item) };
      } catch (err) {
        if (err instanceof InterruptedError) {
          interrupted = err;
          return;
        }
        results[i] = { app, ok: false, error: asUserError(err) };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(APP_CONCURRENCY, items.length) }, worker));
  if (interrupted) throw interrupted;
  return results;
}

export interface AppDrains {
  app: string;
  /** The desired drain URL, when the SSM drain URL was read. */
  desired: string | undefined;
  drains: ClassifiedDrain[];
}

/** One GET per app: its drains, classified against its desired URL. */
export function listClassified(ctx: Context, heroku: HerokuApi, apps: string[], drainUrl: string | undefined): Promise<Outcome<AppDrains>[]> {
  return forEachApp(ctx, apps, async (app) => {
    const desired = drainUrl === undefined ? undefined : desiredDrainUrl(drainUrl, app);
    const drains = await heroku.listDrains(app);
    return { app, desired, drains: classifyDrains(drains, desired) };
  });
}

/**
 * How list, wire, remove and test start: the apps, the Heroku client (its token is local, so
 * a missing one is reported before any network call), the SSM drain URL, then one drain list
 * per app. With `drainUrl: 'optional'` an unreadable SSM parameter is no error: every receiver
 * drain is then classed foreign.
 */
export async function listAppDrains(ctx: Context, apps: string[], drainUrl: 'required' | 'optional' | 'fallback' = 'required') {
  const heroku = await ctx.heroku();
  const url =
    drainUrl === 'required'
      ? await readDrainUrl(ctx)
      : drainUrl === 'fallback'
        ? await readDrainUrl(ctx).catch((err: unknown) => receiverEndpoint(ctx, err))
        : await readDrainUrl(ctx).catch((err: unknown) => {
            ctx.out.debug(`going on without the SSM drain URL: ${(err as Error).message}`);
            return undefined;
          });
  const listed = await listClassified(ctx, heroku, apps, url);
  return { apps, heroku, listed, drainUrl: url };
}

/**
 * The receiver's endpoint when SSM cannot be read, for the emergency stop: the function's own
 * URL from Lambda, else the last known one in the configuration (drain.receiverUrl). Receiver
 * drains are recognised by that endpoint (scheme, host and path); the token does not matter
 * to "every drain to the receiver", and foreign drains are never touched.
 */
async function receiverEndpoint(ctx: Context, cause: unknown): Promise<string> {
  const { receiverFunctionUrl } = await import('./receiver-function.js');
  const fromLambda = await receiverFunctionUrl(ctx);
  const base = fromLambda ?? (ctx.config.drain.receiverUrl || undefined);
  if (!base) {
    throw new ConfigError(`cannot tell receiver drains from others: SSM failed (${(cause as Error).message}) and neither Lambda nor drain.receiverUrl gives the receiver's URL`, {
      hint: 'set drain.receiverUrl in the config file to the Function URL, or use --include-foreign to remove every drain (add-on drains excepted)',
      cause,
    });
  }
  ctx.out.warn(`SSM could not be read (${(cause as Error).message.split('\n')[0]}); recognising receiver drains by ${fromLambda ? "the function's URL" : 'drain.receiverUrl'} ${new URL(base).host}`);
  const u = new URL(base);
  u.search = '';
  u.searchParams.set('token', 'unknown');
  return u.toString();
}

/** The values of the outcomes that succeeded. */
export function succeeded<T>(outcomes: Outcome<T>[]): T[] {
  return outcomes.flatMap((o) => (o.ok ? [o.value] : []));
}

/** The outcomes that failed, as subject and error (combinedFailure() turns them into one error). */
export function failedOutcomes(outcomes: Outcome<unknown>[]): { subject: string; error: UserError }[] {
  return outcomes.filter((o): o is Extract<Outcome<unknown>, { ok: false }> => !o.ok).map((o) => ({ subject: o.app, error: o.error }));
}

/** Deletes a drain; a 404 after our own list means it is already gone (removed meanwhile, or by a DELETE whose answer was lost). */
export async function deleteDrain(heroku: HerokuApi, app: string, id: string): Promise<'removed' | 'already gone'> {
  try {
    await heroku.removeDrain(app, id);
    return 'removed';
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'not_found') return 'already gone';
    throw err;
  }
}

/** Deletes an app's drains one after another (a failure stops the rest of that app's). */
export async function deleteDrains(heroku: HerokuApi, app: string, ids: string[]): Promise<{ id: string; outcome: 'removed' | 'already gone' }[]> {
  const done: { id: string; outcome: 'removed' | 'already gone' }[] = [];
  for (const id of ids) done.push({ id, outcome: await deleteDrain(heroku, app, id) });
  return done;
}

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
export async function spareAccepted(ctx: Context, drainUrl: string, plans: Outcome<WirePlan>[]): Promise<Outcome<WirePlan>[]> {
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

/** Probe each app whose drains are known; apps without a current drain fail with mode A. */
export function testApps(ctx: Context, listed: AppDrains[], timeoutMs: number) {
  return forEachApp(ctx, listed, async (l): Promise<ProbeResult> => {
    const current = l.drains.find((d) => d.class === 'current');
    if (!current) return { app: l.app, ok: false, mode: 'A', message: 'no current drain to the receiver', ms: 0 };
    return probeDrain(ctx, { app: l.app, url: current.drain.url, drainToken: current.drain.token, timeoutMs });
  });
}
