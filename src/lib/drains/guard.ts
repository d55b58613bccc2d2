// The last look before drains are removed. A plan is made from SSM and drain lists read a moment
// (or a confirmation) earlier; a rotation may have moved on since, turning yesterday's "stale"
// drain into the one that works. So SSM and the function are read again right before the
// DELETEs, and a drain whose token the function accepts is never removed on a guess.
import type { Context } from '../run/context.js';
import { readDrainUrl } from './settings.js';
import { sameDrainUrl, tokenOfUrl, type ClassifiedDrain } from './plan.js';
import { ConfigError, ServiceError } from '../core/errors.js';
import { getReceiverFunction } from './receiver-function.js';

type Ctx = Pick<Context, 'aws' | 'config' | 'signal'>;

export interface Guarded<P extends { app: string; remove: ClassifiedDrain[] }> {
  plans: P[];
  /** Drains taken out of the plans: the function accepts their token. */
  spared: { app: string; drain: ClassifiedDrain; why: string }[];
}

/** The tokens the receiver function accepts now (DRAIN_TOKEN and DRAIN_TOKEN_PREVIOUS). */
export async function acceptedTokens(ctx: Ctx): Promise<Set<string>> {
  const fn = await getReceiverFunction(ctx).catch((err: unknown) => {
    const message = `cannot tell which drains still work: the receiver function could not be read (${(err as Error).message.split('\n')[0]}); nothing was removed`;
    const hint = 'removing a drain whose token the function accepts would drop its batches: fix access to Lambda (check drain.functionName with `raxx-ops config show`), then run again';
    throw err instanceof ServiceError ? new ServiceError('Lambda', message, { hint, cause: err }) : new ConfigError(message, { hint, cause: err });
  });
  return new Set([fn.variables.DRAIN_TOKEN, fn.variables.DRAIN_TOKEN_PREVIOUS].filter((t): t is string => Boolean(t)));
}

/**
 * For `drains wire --prune` and `drains remove --stale`: refuses when SSM drain_url is no longer
 * the one the plan was made from (a rotation ran meanwhile), and takes out of each plan every drain
 * that is stale only by its token when the function accepts that token now.
 */
export async function guardRemovals<P extends { app: string; remove: ClassifiedDrain[] }>(ctx: Ctx, plannedFrom: string, plans: P[]): Promise<Guarded<P>> {
  const now = await readDrainUrl(ctx);
  if (!sameDrainUrl(now, plannedFrom)) {
    throw new ServiceError('raxx-ops', 'SSM drain_url changed since this run read it (a token rotation ran meanwhile); nothing was removed', {
      code: 'DrainUrlChanged',
      hint: 'see `raxx-ops drains list`; run the command again once the rotation has finished, so that it plans from the new drain URL',
    });
  }
  const accepted = await acceptedTokens(ctx);
  const spared: Guarded<P>['spared'] = [];
  const guarded = plans.map((p) => {
    const remove = p.remove.filter((d) => {
      // Only a drain that differs from the app's current one by its token can be the one that
      // works after a rotation; a copy for another app or a duplicate goes as planned.
      const token = tokenOfUrl(d.drain.url);
      if (d.reason !== 'other token' || token === undefined || !accepted.has(token)) return true;
      spared.push({ app: p.app, drain: d, why: 'the receiver function accepts its token (a rotation in progress?)' });
      return false;
    });
    return { ...p, remove };
  });
  return { plans: guarded, spared };
}
