// `raxx-ops drains rotate`: the runbook's "taint + apply + wire + remove", without its window of
// rejected batches (a 403 makes Logplex drop a batch for good). The function accepts the old
// and the new token while the drains move over; the old one is dropped only once every app's
// new drain has delivered a test batch to S3 and the old drains are gone.
//
// Safety rule for every step and every rollback: neither SSM nor any drain ever holds a token
// the function does not accept. Until the old drains are removed a failure rolls back (added
// drains, then SSM, then the function); after that it stops and a rerun finishes the job.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Context } from '../../lib/context.js';
import { readDrainSettings, writeDrainSettings, type DrainSettings } from '../../lib/drain-settings.js';
import { classifyDrains, sameDrainUrl, tokenOfUrl, withToken, type WirePlan } from '../../lib/drains.js';
import { ConfigError, PartialFailureError, UserError, CheckFailedError, type ExitCode } from '../../lib/errors.js';
import type { Drain, HerokuApi } from '../../lib/heroku.js';
import { getReceiverFunction, updateReceiverEnvironment } from '../../lib/receiver-function.js';
import { registerSecret } from '../../lib/secrets.js';
import { createCommand, option } from '../define.js';
import * as opt from '../options.js';
import { FAILURE_MODES, probeDrain, type FailureMode } from './probe.js';
import { asUserError, deleteDrain, deleteDrains, failuresOf, forEachApp, listClassified, plural, succeeded, type AppDrains } from './shared.js';
import { sleep } from '../../lib/sleep.js';
import { testApps } from './test.js';
import { applyWire, checkRateLimit, planWire, printPlan, wireJson } from './wire.js';

const STEPS = [
  'generate a new token',
  'function accepts the old and the new token',
  'receiver accepts the new token',
  'SSM drain_url and drain_token hold the new token',
  'wire every app with the new drain URL',
  'test every app through its new drain',
  'remove the old drains',
  'function drops the old token',
] as const;

/** An error that keeps the exit code of its cause and says where the rotation stopped. */
class RotationStopped extends UserError {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, hint: string, cause: unknown) {
    super(message, { hint, cause });
    this.exitCode = exitCode;
  }
}

interface StepRecord {
  step: number;
  name: string;
  status: 'done' | 'skipped' | 'failed' | 'planned';
  detail?: string;
}

/** What the first phase changed, so that a failure can undo exactly that. */
interface Undo {
  /** The function's environment may have changed. */
  fn: boolean;
  /** SSM may have been written. */
  ssm: boolean;
  /** The plans whose POSTs were started (step 5). */
  wiring: WirePlan[];
  /** The drains those POSTs created, recorded as each one lands. */
  added: { app: string; id: string }[];
}

export default createCommand({
  description: 'new drain token with no window of rejected batches: function accepts both, SSM, wire, test, remove old drains, drop the old token',
  examples: [
    ['raxx-ops drains rotate --dry-run', 'the steps, without changing anything'],
    ['raxx-ops drains rotate --yes', 'rotate the production drain token'],
  ],
  lease: { name: 'drains', when: (a) => !a.dryRun },
  options: {
    ...opt.leaseOptions,
    dryRun: opt.dryRun,
    timeout: opt.timeout(30, "per test batch: how long to wait for the receiver's 200 (403s retried while the new token propagates) and its S3 object"),
    grace: option(
      z.coerce.number({ error: 'must be a number of seconds' }).min(0, 'must be 0 or more seconds').max(600, 'at most 600 seconds').default(15),
      'how long the old token stays accepted after the old drains are removed, for batches in flight',
      { value: '<seconds>' },
    ),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const c = out.color;
    const apps = ctx.config.apps;
    const timeoutMs = args.timeout * 1000;
    const steps: StepRecord[] = [];
    const record = (i: number, status: StepRecord['status'], detail?: string) => {
      const rec: StepRecord = { step: i + 1, name: STEPS[i]!, status, ...(detail ? { detail } : {}) };
      steps.push(rec);
      if (!out.json) {
        const mark = status === 'done' ? c.ok('done') : status === 'failed' ? c.bad('FAILED') : c.dim(status);
        out.line(`step ${rec.step}/${STEPS.length}  ${rec.name}: ${mark}${detail ? `  ${c.dim(detail)}` : ''}`);
      }
    };
    const rollbackLog: string[] = [];
    const say = (text: string) => {
      rollbackLog.push(text);
      if (!out.json) out.line(`  ${text}`);
    };

    // Where things stand. Nothing is changed before all of this has been read; the Heroku
    // token first, as it needs no network.
    const heroku = await ctx.heroku();
    const settings = await readDrainSettings(ctx);
    const urlToken = tokenOfUrl(settings.url);
    if (!urlToken) {
      throw new ConfigError('SSM drain_url carries no token (no ?token= and no password)', { hint: 'the receiver needs the token in the drain URL; fix the parameter first' });
    }
    if (urlToken !== settings.token) out.warn('SSM drain_token differs from the token in drain_url; drain_url is what the drains use, so rotation starts from it');
    const fn = await getReceiverFunction(ctx);
    const current = fn.variables.DRAIN_TOKEN;
    if (!current) {
      throw new ConfigError(`the receiver function ${ctx.config.drain.functionName} has no DRAIN_TOKEN`, { hint: 'it rejects every batch (failure mode B); set DRAIN_TOKEN to the token of SSM drain_url' });
    }
    const original = { current, previous: fn.variables.DRAIN_TOKEN_PREVIOUS };
    if (urlToken !== original.current && urlToken !== original.previous) {
      throw new ConfigError(`the receiver function does not accept the token in SSM drain_url: drains using it are rejected now (failure mode B)`, {
        hint: 'find which token is right (`raxx-ops drains test`); set the function\'s DRAIN_TOKEN or SSM drain_url to it, then rotate',
      });
    }
    // A rotation that stopped earlier left DRAIN_TOKEN_PREVIOUS set: finish it with the token it
    // had already made the function accept, rather than pushing the old one out of the window.
    const resuming = Boolean(original.previous);
    const oldToken = original.previous || original.current;
    const newToken = resuming ? original.current : randomBytes(32).toString('hex');
    registerSecret(newToken);
    const newSettings: DrainSettings = { url: withToken(settings.url, newToken), token: newToken };
    const ssmDone = resuming && urlToken === newToken && settings.token === newToken;

    const listed = await listClassified(ctx, heroku, apps, newSettings.url);
    const listFailures = failuresOf(listed);
    if (listFailures.length > 0) {
      throw new PartialFailureError(`cannot list the drains of ${plural(listFailures.length, 'app')}; nothing was changed`, listFailures);
    }
    const appDrains = succeeded(listed);
    // Step 5 only adds the new drains; the whole change per app also removes the old (now
    // stale) ones, in step 7, once every app has delivered a test batch through its new drain.
    const plans = planWire(listed, false);
    const fullPlans = planWire(listed, true);

    if (!out.json) {
      out.line(resuming ? 'resuming a rotation that stopped before it finished (the function still accepts the previous token)' : `rotating the drain token of ${apps.join(', ')}`);
      printPlan(ctx, fullPlans, Boolean(args.dryRun));
      out.line(c.dim('  (old drains are removed only after every app delivered a test batch through its new one)'));
    }
    if (args.dryRun) {
      STEPS.forEach((_, i) => record(i, (resuming && i < 2) || (ssmDone && i === 3) ? 'skipped' : 'planned'));
      if (out.json) out.data({ dryRun: true, resuming, apps, steps, plan: wireJson({ plans: fullPlans, results: undefined }, true).apps });
      return;
    }
    checkRateLimit(heroku, fullPlans);
    await ctx.confirm(`rotate the drain token of ${plural(apps.length, 'app')} (${apps.join(', ')})?`);

    let at = 0;
    /** Ends the run at step `at`: the JSON document, each app's failure, then the error. */
    const stopped = (err: unknown, json: Record<string, unknown>, hint: string): RotationStopped => {
      const error = asUserError(err);
      if (out.json) out.data({ dryRun: false, resuming, apps, steps, ...json });
      printFailures(ctx, error);
      return new RotationStopped(`rotation stopped at step ${at + 1} (${STEPS[at]}): ${error.message}`, error.exitCode, hint, err);
    };

    const undo: Undo = { fn: false, ssm: false, wiring: [], added: [] };
    try {
      at = 0;
      record(0, resuming ? 'skipped' : 'done', resuming ? 'reusing the token the function already accepts' : undefined);

      at = 1;
      if (resuming) record(1, 'skipped', 'already done');
      else {
        undo.fn = true;
        // Against the state the tokens were derived from, not a fresh read.
        await updateReceiverEnvironment(ctx, { DRAIN_TOKEN: newToken, DRAIN_TOKEN_PREVIOUS: oldToken }, fn);
        record(1, 'done', 'DRAIN_TOKEN is the new token, DRAIN_TOKEN_PREVIOUS the old one; update live');
      }

      at = 2;
      const first = appDrains[0]!;
      const check = await probeDrain(ctx, { app: first.app, url: first.desired!, timeoutMs, retry403Ms: timeoutMs });
      if (!check.ok) throw probeFailure(check.app, check.mode, check.message);
      record(2, 'done', `test batch for ${check.app} stored`);

      at = 3;
      if (ssmDone) record(3, 'skipped', 'already done');
      else {
        undo.ssm = true;
        await writeDrainSettings(ctx, newSettings);
        record(3, 'done');
      }

      at = 4;
      undo.wiring = succeeded(plans);
      const results = await applyWire(ctx, heroku, plans, (app, drain) => undo.added.push({ app, id: drain.id }));
      const wireFailures = failuresOf(results);
      if (wireFailures.length > 0) throw new PartialFailureError(`wiring failed for ${wireFailures.map((f) => f.subject).join(', ')}`, wireFailures);
      record(4, 'done', undo.added.length ? `added ${plural(undo.added.length, 'drain')}` : 'every app already had it');

      at = 5;
      const added = new Map(succeeded(results).map((r) => [r.app, r.added]));
      const probed = await testApps(ctx, appDrains.map((l) => withAdded(l, added.get(l.app))), timeoutMs);
      const probeErrors = failuresOf(probed);
      if (probeErrors.length > 0) throw new PartialFailureError(`testing failed for ${probeErrors.map((f) => f.subject).join(', ')}`, probeErrors);
      const failed = succeeded(probed).filter((p) => !p.ok);
      if (failed.length > 0) throw probeFailure(failed.map((f) => f.app).join(', '), failed[0]!.mode, failed.map((f) => `${f.app}: ${f.message}`).join('; '));
      record(5, 'done', `${plural(probed.length, 'app')} delivered a test batch to S3`);
    } catch (err) {
      record(at, 'failed', asUserError(err).message);
      const restored = await rollback(ctx, heroku, undo, settings, original, say);
      throw stopped(err, { rolledBack: restored, rollback: rollbackLog }, restored
        ? 'rolled back: the old token and drains work as before. Fix the cause and run `raxx-ops drains rotate` again'
        : 'the function accepts both tokens, so no batch is rejected; run `raxx-ops drains rotate` again to finish (it resumes)');
    }

    // From here on the new drains are proven; a failure stops without undoing anything.
    try {
      at = 6;
      const removed = await removeOld(ctx, heroku, succeeded(fullPlans));
      record(6, 'done', removed ? `removed ${plural(removed, 'drain')}` : 'none left');

      at = 7;
      if (args.grace > 0) {
        if (!out.json) out.line(`  waiting ${args.grace} s for batches already sent to the old drains`);
        await sleep(args.grace * 1000, ctx.signal);
        // Ctrl-C during the wait must not cut it short: those batches would be refused.
        ctx.checkInterrupted();
      }
      await updateReceiverEnvironment(ctx, { DRAIN_TOKEN_PREVIOUS: null });
      record(7, 'done');
    } catch (err) {
      record(at, 'failed', asUserError(err).message);
      throw stopped(err, { rolledBack: false },
        'every app already delivers through its new drain and the function still accepts the old token, so no batch is rejected; run `raxx-ops drains rotate` again to finish (it resumes)');
    }
    if (out.json) out.data({ dryRun: false, resuming, apps, steps });
    else out.line(c.ok('rotated: every app sends with the new token; the old one is rejected from now on'));
  },
});

function probeFailure(subject: string, mode: FailureMode | undefined, message: string): CheckFailedError {
  return new CheckFailedError(`${subject}: ${message}${mode ? ` (failure mode ${mode}: ${FAILURE_MODES[mode].what})` : ''}`);
}

/** The app's drains as they are after wiring: the added drain is its current one. */
function withAdded(l: AppDrains, added: Drain | undefined): AppDrains {
  if (!added) return l;
  return { ...l, drains: classifyDrains([...l.drains.map((d) => d.drain), added], l.desired) };
}

/** Step 7: the drains each plan removes (the stale ones: the old token's). */
async function removeOld(ctx: Context, heroku: HerokuApi, plans: WirePlan[]): Promise<number> {
  const outcomes = await forEachApp(ctx, plans, async (plan) => (await deleteDrains(heroku, plan.app, plan.remove.map((d) => d.drain.id))).length);
  const failures = failuresOf(outcomes);
  if (failures.length > 0) throw new PartialFailureError(`removing the old drains failed for ${failures.map((f) => f.subject).join(', ')}`, failures);
  return succeeded(outcomes).reduce((n, removed) => n + removed, 0);
}

/**
 * Undo in reverse order. The function goes back to accepting only the old token only when no
 * drain with the new token remains and SSM is back to the old URL: otherwise something would
 * hold a token the function rejects.
 */
async function rollback(
  ctx: Context,
  heroku: HerokuApi,
  undo: Undo,
  settings: DrainSettings,
  original: { current: string; previous: string | undefined },
  say: (text: string) => void,
): Promise<boolean> {
  // A POST that reported failure (or was cut short) may still have created its drain.
  const addedApps = new Set(undo.added.map((a) => a.app));
  const unsure = undo.wiring.filter((p) => p.add !== undefined && !addedApps.has(p.app));
  if (!undo.fn && !undo.ssm && undo.added.length === 0 && unsure.length === 0) {
    say('nothing to roll back: nothing was changed');
    return true;
  }
  say('rolling back:');
  let clean = true;
  for (const a of undo.added) {
    try {
      await deleteDrain(heroku, a.app, a.id);
      say(`removed the new drain ${a.id} of ${a.app}`);
    } catch (err) {
      clean = false;
      say(`could not remove the new drain ${a.id} of ${a.app}: ${asUserError(err).message}`);
    }
  }
  for (const plan of unsure) {
    try {
      for (const d of (await heroku.listDrains(plan.app)).filter((x) => sameDrainUrl(x.url, plan.add!))) {
        await deleteDrain(heroku, plan.app, d.id);
        say(`removed the new drain ${d.id} of ${plan.app} (its POST had reported a failure)`);
      }
    } catch (err) {
      clean = false;
      say(`could not check ${plan.app} for a new drain left by its failed POST: ${asUserError(err).message}`);
    }
  }
  if (undo.ssm) {
    try {
      // A write that failed may have changed nothing: read before writing back, so an SSM
      // that refuses writes does not turn into a failed rollback.
      const now = await readDrainSettings(ctx);
      if (now.url === settings.url && now.token === settings.token) say('SSM drain_url and drain_token were not changed');
      else {
        await writeDrainSettings(ctx, settings);
        say('restored SSM drain_url and drain_token');
      }
    } catch (err) {
      clean = false;
      say(`could not restore SSM drain_url and drain_token: ${asUserError(err).message}`);
    }
  }
  if (undo.fn) {
    if (!clean) {
      say('left the function accepting both tokens, so nothing that holds the new token is rejected');
      return false;
    }
    try {
      const changed = await updateReceiverEnvironment(ctx, { DRAIN_TOKEN: original.current, DRAIN_TOKEN_PREVIOUS: original.previous ?? null });
      say(changed ? "restored the function's DRAIN_TOKEN and DRAIN_TOKEN_PREVIOUS" : "the function's tokens were not changed");
    } catch (err) {
      say(`could not restore the function's environment (it accepts the old token either way): ${asUserError(err).message}`);
      return false;
    }
  }
  return clean;
}

function printFailures(ctx: Context, error: UserError): void {
  if (error instanceof PartialFailureError) for (const f of error.failures) ctx.out.error(`${f.subject}: ${f.error.message}`, f.error.hint);
}
