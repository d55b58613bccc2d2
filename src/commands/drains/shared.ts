// What the drains commands share: which apps, one drain list per app in parallel, and the
// per-app failure bookkeeping that ends in a PartialFailureError.
import { z } from 'zod';
import { appName } from '../../lib/config.js';
import type { Context } from '../../lib/context.js';
import { classifyDrains, desiredDrainUrl, type ClassifiedDrain } from '../../lib/drains.js';
import { ServiceError, UserError, InterruptedError } from '../../lib/errors.js';
import type { HerokuApi } from '../../lib/heroku.js';

export const appsFlag = z.array(appName).optional();

/** Apps given with --app (deduplicated, in order), else every app of --env. */
export function resolveApps(apps: string[] | undefined, ctx: Context): string[] {
  return apps && apps.length > 0 ? [...new Set(apps)] : ctx.config.apps;
}

/** Seconds as a positive number, from a commander string. */
export const seconds = z.coerce.number().positive('must be a positive number of seconds').max(3600, 'at most 3600 seconds');

/** Apps are independent; a few at a time keeps well inside Heroku's rate limit and sockets. */
export const APP_CONCURRENCY = 4;

export type Outcome<T> = { app: string; ok: true; value: T } | { app: string; ok: false; error: UserError };

export async function forEachApp<T>(ctx: Context, apps: string[], fn: (app: string) => Promise<T>, concurrency = APP_CONCURRENCY): Promise<Outcome<T>[]> {
  const results: Outcome<T>[] = new Array(apps.length);
  let next = 0;
  async function worker() {
    while (next < apps.length) {
      const i = next++;
      const app = apps[i]!;
      try {
        ctx.checkInterrupted();
        results[i] = { app, ok: true, value: await fn(app) };
      } catch (err) {
        if (err instanceof InterruptedError) throw err;
        results[i] = { app, ok: false, error: asUserError(err) };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, apps.length) }, worker));
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

export function failuresOf(outcomes: Outcome<unknown>[]): { subject: string; error: UserError }[] {
  return outcomes.filter((o): o is Extract<Outcome<unknown>, { ok: false }> => !o.ok).map((o) => ({ subject: o.app, error: o.error }));
}

/** Deletes a drain; a 404 after our own list means it is already gone (a retried DELETE). */
export async function deleteDrain(heroku: HerokuApi, app: string, id: string): Promise<'removed' | 'already gone'> {
  try {
    await heroku.removeDrain(app, id);
    return 'removed';
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'not_found') return 'already gone';
    throw err;
  }
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
