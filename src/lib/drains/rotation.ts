// The steps of `drains rotate` that act on Heroku and the function beyond one call: which
// drains a rotation moves, the old drains removed from a fresh look (step 7) and the added ones
// taken back (step 5's rollback). The command keeps the steps, their order and their rollbacks.
import type { Context } from '../run/context.js';
import { readDrainSettings } from './settings.js';
import { classifyDrains, desiredDrainUrl, receiverStrays, sameDrainUrl, tokenOfUrl, wirePlan, type ClassifiedDrain, type WirePlan } from './plan.js';
import { asUserError, ServiceError, combinedFailure } from '../core/errors.js';
import type { Drain, HerokuApi } from '../heroku/client.js';
import { changedBySomeoneElse, getReceiverFunction } from './receiver-function.js';
import { deleteDrain, deleteDrains, failedOutcomes, forEachApp, listClassified, succeeded, type AppDrains } from './ops.js';

/** The drains to the receiver a rotation moves: its endpoint's (current or stale) and other paths on its host; not an add-on's. */
export function movable(drains: ClassifiedDrain[], receiverUrl: string): ClassifiedDrain[] {
  return [...drains.filter((d) => d.class === 'current' || d.class === 'stale'), ...receiverStrays(drains, receiverUrl).filter((d) => d.class === 'foreign')];
}

/** An app's drains classified against the drain URL that carries the token the run moves to. */
export function reclassify(l: AppDrains, drainUrl: string): AppDrains {
  const desired = desiredDrainUrl(drainUrl, l.app);
  return { ...l, desired, drains: classifyDrains(l.drains.map((d) => d.drain), desired) };
}

/** The app's drains as they are after wiring: the added drain is its current one. */
export function withAdded(l: AppDrains, added: Drain | undefined): AppDrains {
  if (!added) return l;
  return { ...l, drains: classifyDrains([...l.drains.map((d) => d.drain), added], l.desired) };
}

/**
 * Step 7: the old drains, from a fresh look. The plan was read before the rotation started, and
 * someone may have changed things since: the function must still take this run's token as its
 * DRAIN_TOKEN and SSM must still carry it, and then only drains whose token the function will
 * not accept once this run drops the old one are removed (never one with the new token).
 */
export async function removeOld(ctx: Context, heroku: HerokuApi, apps: string[], newToken: string, drainUrl: string): Promise<number> {
  const fn = await getReceiverFunction(ctx);
  if (fn.variables.DRAIN_TOKEN !== newToken) throw changedBySomeoneElse(ctx, 'made it accept the new token; no drain was removed');
  const now = await readDrainSettings(ctx);
  if (tokenOfUrl(now.url) !== newToken) {
    throw new ServiceError('raxx-ops', 'SSM drain_url no longer carries the new token (someone changed it during the rotation); no drain was removed', {
      code: 'DrainUrlChanged',
      hint: 'see `raxx-ops drains list` and `raxx-ops drains test`; the function still accepts both tokens, so nothing is rejected. Run `raxx-ops drains rotate` again once the other change has finished',
    });
  }
  const listed = await listClassified(ctx, heroku, apps, drainUrl);
  const outcomes = await forEachApp(ctx, listed, async (l) => {
    if (!l.ok) throw l.error;
    const stale = wirePlan(l.app, l.value.drains, l.value.desired!, { prune: true }).remove;
    const strays = receiverStrays(l.value.drains, drainUrl).filter((d) => d.class === 'foreign');
    const old = [...stale, ...strays].filter((d) => tokenOfUrl(d.drain.url) !== newToken);
    return (await deleteDrains(heroku, l.app, old.map((d) => d.drain.id))).length;
  });
  const failures = failedOutcomes(outcomes);
  if (failures.length > 0) throw combinedFailure(`removing the old drains failed for ${failures.map((f) => f.subject).join(', ')}`, failures, outcomes.length);
  return succeeded(outcomes).reduce((n, removed) => n + removed, 0);
}

/**
 * Step 5's rollback: the drains it added, and any a POST created although it reported failure
 * (or was cut short). Tries every app; throws when one is left, so SSM and the function keep
 * accepting its token.
 */
export async function removeAdded(heroku: HerokuApi, wiring: WirePlan[], added: { app: string; id: string }[]): Promise<string> {
  const said: string[] = [];
  const left: string[] = [];
  for (const a of added) {
    try {
      await deleteDrain(heroku, a.app, a.id);
      said.push(`removed the new drain ${a.id} of ${a.app}`);
    } catch (err) {
      left.push(`could not remove the new drain ${a.id} of ${a.app}: ${asUserError(err).message}`);
    }
  }
  const addedApps = new Set(added.map((a) => a.app));
  for (const plan of wiring.filter((p) => p.add !== undefined && !addedApps.has(p.app))) {
    try {
      for (const d of (await heroku.listDrains(plan.app)).filter((x) => sameDrainUrl(x.url, plan.add!))) {
        await deleteDrain(heroku, plan.app, d.id);
        said.push(`removed the new drain ${d.id} of ${plan.app} (its POST had reported a failure)`);
      }
    } catch (err) {
      left.push(`could not check ${plan.app} for a new drain left by its failed POST: ${asUserError(err).message}`);
    }
  }
  if (left.length > 0) throw new ServiceError('Heroku', [...said, ...left].join('; '));
  return said.length ? said.join('; ') : 'no drain had been added';
}
