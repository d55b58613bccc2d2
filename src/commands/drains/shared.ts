// What the drains commands share: which apps, one drain list per app in parallel, and the
// per-app failure bookkeeping that ends in a PartialFailureError.
import type { Context } from '../../lib/context.js';
import { readDrainUrl } from '../../lib/drain-settings.js';
import { classifyDrains, desiredDrainUrl, type ClassifiedDrain } from '../../lib/drains.js';
import { ConfigError, ServiceError, UserError, InterruptedError } from '../../lib/errors.js';
import type { HerokuApi } from '../../lib/heroku.js';
import { resolveApps } from '../apps.js';

/** Seconds as a positive number, from a commander string. */

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
  const results: Outcome<T>[] = new Array(items.length);
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

export function asUserError(err: unknown): UserError {
  if (err instanceof UserError) return err;
  return new ServiceError('raxx-ops', (err as Error)?.message ?? String(err), { cause: err });
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
export async function listAppDrains(ctx: Context, appFlag: string[] | undefined, drainUrl: 'required' | 'optional' | 'fallback' = 'required') {
  const apps = resolveApps(appFlag, ctx);
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
  const { receiverFunctionUrl } = await import('../../lib/receiver-function.js');
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

export function failuresOf(outcomes: Outcome<unknown>[]): { subject: string; error: UserError }[] {
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

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
