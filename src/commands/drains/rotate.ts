// `raxx-ops drains rotate`: the runbook's "taint + apply + wire + remove", without its window of
// rejected batches (a 403 makes Logplex drop a batch for good). The function accepts the old
// and the new token while the drains move over; the old one is dropped only once every app's
// new drain has delivered a test batch to S3 and the old drains are gone.
//
// Safety rule for every step and every rollback: neither SSM nor any drain ever holds a token
// the function does not accept. Until the old drains are removed a failure rolls back (added
// drains, then SSM, then the function; the step runner stops at the first rollback that fails,
// so the function keeps accepting both tokens while anything may hold the new one); after that
// it stops and a rerun finishes the job.
//
// Repair (failure mode B): when the function, SSM and the drains disagree (a token changed by
// hand, a rotation killed half-way, a drain left on an old token), the same steps run from what
// the drains carry: the function accepts their token again from step 2, beside the new one, so
// every batch is taken while they move. A repair is never rolled back, since the state it
// started from refused batches; a failure stops with everything the function accepted still
// accepted, and a rerun goes on from there.
import { randomBytes } from 'node:crypto';
import type { Context } from '../../lib/run/context.js';
import { readDrainSettings, writeDrainSettings, type DrainSettings } from '../../lib/drains/settings.js';
import { planTokens, type TokenPlan } from '../../lib/drains/tokens.js';
import { describeDrain, receiverStrays, tokenOfUrl, withToken, type WirePlan } from '../../lib/drains/plan.js';
import { CheckFailedError, combinedFailure } from '../../lib/core/errors.js';
import type { Drain } from '../../lib/heroku/client.js';
import { changedBySomeoneElse, getReceiverFunction, unchangedSince, updateReceiverEnvironment, type ReceiverFunctionState } from '../../lib/drains/receiver-function.js';
import { maskUrl, registerSecret } from '../../lib/core/secrets.js';
import { scopeOf } from '../../lib/run/scope.js';
import { runSteps } from '../../lib/run/step-runner.js';
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { FAILURE_MODES, probeDrain, type FailureMode } from '../../lib/drains/probe.js';
import { sleep } from '../../lib/core/sleep.js';
import { applyWire, checkRateLimit, failedOutcomes, listClassified, planWire, printPlan, succeeded, testApps, wireJson } from '../../lib/drains/ops.js';
import { plural } from '../../lib/core/output.js';
import { movable, reclassify, removeAdded, removeOld, withAdded } from '../../lib/drains/rotation.js';

export default createCommand({
  description: "new drain token with no window of rejected batches: function accepts both, SSM, wire, test, remove old drains, drop the old token; repairs failure mode B from the drains' token",
  examples: [
    ['raxx-ops drains rotate --dry-run', 'the steps (and whether it is a repair), without changing anything'],
    ['raxx-ops drains rotate --yes', 'rotate the production drain token'],
  ],
  lease: { name: 'drains', when: (a) => !a.dryRun },
  options: {
    ...opt.leaseOptions,
    dryRun: opt.dryRun,
    timeout: opt.timeout(30, "per test batch: how long to wait for the receiver's 200 (403s retried while the new token propagates) and its S3 object"),
    grace: opt.durationOption('s', { maxMs: 600_000 }, 15, 'how long the old token stays accepted after the old drains are removed, for batches in flight'),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    const c = out.color;
    const apps = ctx.config.apps;
    // Refused before anything is read when --env has no drain settings of its own.
    const scope = scopeOf(ctx, ['drain.functionName', 'drain.ssmPrefix'], { apps });
    const dryRun = Boolean(args.dryRun);
    const timeoutMs = args.timeout * 1000;

    // Where things stand. Nothing is changed before all of this has been read; the Heroku
    // token first, as it needs no network.
    const heroku = await ctx.heroku();
    const settings = await readDrainSettings(ctx);
    const urlToken = tokenOfUrl(settings.url);
    const fn = await getReceiverFunction(ctx);
    const original = { current: fn.variables.DRAIN_TOKEN, previous: fn.variables.DRAIN_TOKEN_PREVIOUS };
    const before = await listClassified(ctx, heroku, apps, settings.url);
    const listFailures = failedOutcomes(before);
    if (listFailures.length > 0) {
      throw combinedFailure(`cannot list the drains of ${plural(listFailures.length, 'app')}; nothing was changed`, listFailures, before.length);
    }
    // What the drains carry decides which tokens the function keeps accepting (any mix of
    // hand-changed function, SSM and drains): see planTokens.
    const tokens = planTokens({
      ...original,
      urlToken,
      ssmToken: settings.token,
      drains: succeeded(before).flatMap((l) => movable(l.drains, settings.url).map((d) => ({ app: l.app, token: tokenOfUrl(d.drain.url) }))),
    });
    const resuming = tokens.kind === 'resume';
    /** The apps whose drains carry a token (how a token is named in output: never by value). */
    const carriers = (token: string | undefined) => (token === undefined ? [] : succeeded(before).filter((l) => movable(l.drains, settings.url).some((d) => tokenOfUrl(d.drain.url) === token)).map((l) => l.app));
    const repair = tokens.kind === 'repair' || (resuming && tokens.findings.length > 0);
    const oldToken = tokens.kind === 'resume' ? tokens.oldToken : tokens.keep;
    const newToken = tokens.kind === 'resume' ? tokens.newToken : randomBytes(32).toString('hex');
    registerSecret(newToken);
    const newSettings: DrainSettings = { url: withToken(settings.url, newToken), token: newToken };
    const ssmDone = resuming && urlToken === newToken && settings.token === newToken;

    const listed = before.map((o) => (o.ok ? { ...o, value: reclassify(o.value, newSettings.url) } : o));
    const appDrains = succeeded(listed);
    // Step 5 only adds the new drains; the whole change per app also removes the old (now
    // stale) ones, in step 7, once every app has delivered a test batch through its new drain.
    const plans = planWire(listed, false);
    const fullPlans = planWire(listed, true);

    // Drains to the receiver's host the classifier does not recognise (another path, an add-on):
    // named here, removed in step 7 with the old ones when they carry another token; an add-on's
    // can only be removed with the add-on, so it is flagged.
    const strays = appDrains.flatMap((l) => receiverStrays(l.drains, settings.url).filter((d) => tokenOfUrl(d.drain.url) !== newToken).map((d) => ({ app: l.app, d })));
    if (!out.json) {
      if (repair) printRepair(ctx, apps, tokens, carriers(oldToken), oldToken !== undefined && (oldToken === original.current || oldToken === original.previous));
      else out.line(resuming ? 'resuming a rotation that stopped before it finished (the function still accepts the previous token)' : `rotating the drain token of ${apps.join(', ')}`);
      printPlan(ctx, fullPlans, dryRun);
      for (const { app, d } of strays) {
        out.line(
          d.class === 'addon'
            ? `  ${c.app(app)}  ${c.warn('stray')}   ${d.drain.id}  ${maskUrl(d.drain.url)} (add-on ${d.drain.addon?.name ?? '(unnamed)'} sends to the receiver: its token is refused after step 8; remove or reconfigure the add-on)`
            : `  ${c.app(app)}  ${c.warn('stray')}   ${d.drain.id}  ${maskUrl(d.drain.url)} (the receiver's host, another path: removed in step 7 with the old drains)`,
        );
      }
      out.line(c.dim('  (old drains are removed only after every app delivered a test batch through its new one)'));
    }
    for (const { app, d } of strays.filter((s) => s.d.class === 'addon')) out.warn(`${app}: the add-on drain ${d.drain.id} sends to the receiver; rotation cannot move it and its token will be refused`);
    if (!dryRun) checkRateLimit(heroku, fullPlans);

    /** The plans whose POSTs were started (step 5), and the drains they created as each lands. */
    const wiring: WirePlan[] = [];
    const added: { app: string; id: string }[] = [];
    const addedByApp = new Map<string, Drain | undefined>();
    /** The function as step 2 left it, read back once live. */
    let applied: ReceiverFunctionState | undefined;
    /** Where a later step sent the new token (a write of it may still land after a Ctrl-C). */
    let newTokenSentOn: string | undefined;

    await runSteps(ctx, {
      title: '',
      scope,
      subject: 'rotation',
      dryRun,
      json: () => ({ mode: tokens.kind, resuming, repair: repair ? repairJson(tokens, carriers(oldToken)) : null, apps, strays: strays.map(({ app, d }) => ({ app, ...describeDrain(d) })), ...(dryRun ? { plan: wireJson({ plans: fullPlans, results: undefined }, true).apps } : {}) }),
      confirm: () => ctx.confirm(`${repair ? 'repair' : 'rotate'} the drain token of ${plural(apps.length, 'app')} (${apps.join(', ')})?`),
      rolledBackHint: 'rolled back: the old token and drains work as before. Fix the cause and run `raxx-ops drains rotate` again',
      resumeHint: (step) =>
        repair && step <= 2 && !resuming
          ? "if the function's update did not take, the drains it refused are refused still; run `raxx-ops drains rotate` again (it starts from what is true now)"
          : step >= 7
          ? 'every app already delivers through its new drain and the function still accepts the old token, so no batch is rejected; run `raxx-ops drains rotate` again to finish (it resumes)'
          : 'the function accepts both tokens, so no batch is rejected; run `raxx-ops drains rotate` again to finish (it resumes)',
      steps: [
        {
          name: 'generate a new token',
          detail: resuming ? 'reusing the token the function already accepts' : undefined,
          done: resuming,
          // Generated above, in memory only: nothing outside changes yet.
          apply: () => Promise.resolve(),
        },
        {
          name: 'function accepts the old and the new token',
          detail: repair && !resuming ? slotDetail(carriers(oldToken), oldToken !== undefined && (oldToken === original.current || oldToken === original.previous)) : undefined,
          done: resuming,
          async apply() {
            // Against the state the tokens were derived from (its RevisionId), not a fresh read.
            await updateReceiverEnvironment(ctx, { DRAIN_TOKEN: newToken, DRAIN_TOKEN_PREVIOUS: oldToken ?? null }, fn);
            // What the update left (the RevisionId changes again once it is live): the rollback
            // undoes only this state, never a later change by someone else.
            applied = await getReceiverFunction(ctx);
            return 'DRAIN_TOKEN is the new token, DRAIN_TOKEN_PREVIOUS the old one; update live';
          },
          // A repair is not undone: the state before it refused the drains' batches, and the
          // function now accepts both their token and the new one, which nothing else knows.
          rollback: repair ? undefined : async ({ unknownOutcome }) => {
            // A later write with no answer (SSM, a drain) may still land with the new token: the
            // function keeps accepting it, so nothing is refused.
            if (unknownOutcome && newTokenSentOn) return `the function keeps accepting the old and the new token: a write to ${newTokenSentOn} got no answer and may still land with the new one`;
            const now = await getReceiverFunction(ctx);
            if (now.variables.DRAIN_TOKEN === original.current && now.variables.DRAIN_TOKEN_PREVIOUS === original.previous) {
              // Its own update unanswered: should it land, the function accepts both tokens, which is safe.
              return unknownOutcome ? "the function's tokens read unchanged; its update got no answer and may still land (accepting both tokens)" : "the function's tokens were not changed";
            }
            // Ours when it is the state the apply left, or (an update that failed or was cut
            // short before it could be read back) when it holds exactly the tokens we wrote.
            const ours = applied
              ? unchangedSince(applied, now)
              : now.variables.DRAIN_TOKEN === newToken && now.variables.DRAIN_TOKEN_PREVIOUS === oldToken;
            if (!ours) throw changedBySomeoneElse(ctx, applied ? 'set its tokens' : 'read it');
            await updateReceiverEnvironment(ctx, { DRAIN_TOKEN: original.current ?? null, DRAIN_TOKEN_PREVIOUS: original.previous ?? null }, now);
            return "restored the function's DRAIN_TOKEN and DRAIN_TOKEN_PREVIOUS";
          },
        },
        {
          name: 'receiver accepts the new token',
          async apply() {
            const first = appDrains[0]!;
            const check = await probeDrain(ctx, { app: first.app, url: first.desired!, timeoutMs, retry403Ms: timeoutMs });
            if (!check.ok) throw probeFailure(check.app, check.mode, check.message);
            // A repair also proves that the drains' own token is taken again.
            if (repair && oldToken !== undefined && carriers(oldToken).length > 0) {
              const kept = await probeDrain(ctx, { app: first.app, url: withToken(first.desired!, oldToken), timeoutMs, retry403Ms: timeoutMs });
              if (!kept.ok) throw probeFailure(kept.app, kept.mode, `with the drains' token: ${kept.message}`);
              return `test batches for ${check.app} stored, with the new token and with the drains' token`;
            }
            return `test batch for ${check.app} stored`;
          },
        },
        {
          name: 'SSM drain_url and drain_token hold the new token',
          done: ssmDone,
          apply: () => {
            newTokenSentOn = 'SSM';
            return writeDrainSettings(ctx, newSettings);
          },
          // In a repair the function keeps accepting the new token, so SSM holding it is fine.
          rollback: repair ? undefined : async ({ unknownOutcome }) => {
            // A write that failed may have changed nothing: read before writing back, so an SSM
            // that refuses writes does not turn into a failed rollback.
            const now = await readDrainSettings(ctx);
            if (now.url === settings.url && now.token === settings.token) {
              return unknownOutcome ? 'SSM drain_url and drain_token read unchanged; a write got no answer and may still land (the function keeps accepting its token)' : 'SSM drain_url and drain_token were not changed';
            }
            await writeDrainSettings(ctx, settings);
            return 'restored SSM drain_url and drain_token';
          },
        },
        {
          name: 'wire every app with the new drain URL',
          async apply() {
            newTokenSentOn = 'SSM or a drain';
            wiring.push(...succeeded(plans));
            const results = await applyWire(ctx, heroku, plans, (app, drain) => added.push({ app, id: drain.id }));
            const wireFailures = failedOutcomes(results);
            if (wireFailures.length > 0) throw combinedFailure(`wiring failed for ${wireFailures.map((f) => f.subject).join(', ')}`, wireFailures, results.length);
            for (const r of succeeded(results)) addedByApp.set(r.app, r.added);
            return added.length ? `added ${plural(added.length, 'drain')}` : 'every app already had it';
          },
          // In a repair an added drain may be its app's only one the function accepts: kept.
          rollback: repair ? undefined : () => removeAdded(heroku, wiring, added),
        },
        {
          name: 'test every app through its new drain',
          async apply() {
            const probed = await testApps(ctx, appDrains.map((l) => withAdded(l, addedByApp.get(l.app))), timeoutMs);
            const probeErrors = failedOutcomes(probed);
            if (probeErrors.length > 0) throw combinedFailure(`testing failed for ${probeErrors.map((f) => f.subject).join(', ')}`, probeErrors, probed.length);
            const failed = succeeded(probed).filter((p) => !p.ok);
            if (failed.length > 0) throw probeFailure(failed.map((f) => f.app).join(', '), failed[0]!.mode, failed.map((f) => `${f.app}: ${f.message}`).join('; '));
            return `${plural(probed.length, 'app')} delivered a test batch to S3`;
          },
        },
        {
          // From here on the new drains are proven; a failure stops without undoing anything.
          name: 'remove the old drains',
          pointOfNoReturn: true,
          async apply() {
            const removed = await removeOld(ctx, heroku, apps, newToken, newSettings.url);
            return removed ? `removed ${plural(removed, 'drain')}` : 'none left';
          },
        },
        {
          name: 'function drops the old token',
          async apply() {
            if (args.grace > 0) {
              if (!out.json) out.line(`  waiting ${args.grace} s for batches already sent to the old drains`);
              // Ctrl-C during the wait stops the run here: going on early would refuse those batches.
              await sleep(args.grace * 1000, ctx.signal);
            }
            // Only while the function still has this run's tokens: if someone rotated since,
            // their DRAIN_TOKEN_PREVIOUS is what their drains may still carry.
            const now = await getReceiverFunction(ctx);
            if (now.variables.DRAIN_TOKEN !== newToken) throw changedBySomeoneElse(ctx, 'made it accept the new token (its DRAIN_TOKEN is another one now)');
            if (now.variables.DRAIN_TOKEN_PREVIOUS === undefined) return 'the old token was already dropped';
            if (now.variables.DRAIN_TOKEN_PREVIOUS !== oldToken) throw changedBySomeoneElse(ctx, 'made it accept the new token (its DRAIN_TOKEN_PREVIOUS is another one now)');
            await updateReceiverEnvironment(ctx, { DRAIN_TOKEN_PREVIOUS: null }, now);
          },
        },
      ],
    });
    if (!dryRun && !out.json) {
      out.line(
        c.ok(
          repair
            ? `repaired: SSM, the function and every app's drains hold one ${resuming ? '' : 'new '}token; any other is rejected from now on`
            : 'rotated: every app sends with the new token; the old one is rejected from now on',
        ),
      );
    }
  },
});

/** What the function keeps accepting beside the new token while the drains move. */
function keepDetail(keptBy: string[], acceptedNow: boolean): string {
  if (keptBy.length === 0) return 'no drain carries a token: the function keeps the token of SSM (or its own) beside the new one until the end';
  return `the function ${acceptedNow ? 'keeps accepting' : 'accepts again, from step 2,'} the token the drains of ${keptBy.join(', ')} carry, beside the new one: none of their batches is refused while they move`;
}

/** Step 2 of a repair, in the plan: what DRAIN_TOKEN_PREVIOUS becomes. */
function slotDetail(keptBy: string[], acceptedNow: boolean): string {
  if (keptBy.length === 0) return "DRAIN_TOKEN_PREVIOUS: SSM's token (or the function's own); no drain carries one";
  return `DRAIN_TOKEN_PREVIOUS: the token the drains of ${keptBy.join(', ')} carry${acceptedNow ? '' : ' (refused now)'}`;
}

/** The plan's head when the state was mixed: that this is a repair, what was found, and which tokens stay accepted. */
function printRepair(ctx: Context, apps: string[], tokens: TokenPlan, keptBy: string[], keptAccepted: boolean): void {
  const { out } = ctx;
  const c = out.color;
  out.line(`${c.warn('repair')} (failure mode B): the drain tokens of ${apps.join(', ')} are out of line`);
  for (const f of tokens.findings) out.line(`  - ${f}`);
  if (tokens.kind === 'resume') {
    out.line("  the function already accepts the two tokens the drains carry: every drain moves to its DRAIN_TOKEN, then DRAIN_TOKEN_PREVIOUS is dropped; no batch it takes now is refused");
  } else {
    out.line(`  ${keepDetail(keptBy, keptAccepted)}; then every drain moves to a new token`);
  }
  for (const g of tokens.refused) {
    out.line(`  ${c.warn('refused')}: the drains of ${g.apps.join(', ')} carry a token the function refuses now; with two slots taken it cannot accept it too, so they stay refused until step 5 adds their app's new drain`);
  }
}

function repairJson(tokens: TokenPlan, keptBy: string[]) {
  return { findings: tokens.findings, keptFor: tokens.kind === 'resume' ? null : keptBy, refused: tokens.refused };
}

function probeFailure(subject: string, mode: FailureMode | undefined, message: string): CheckFailedError {
  return new CheckFailedError(`${subject}: ${message}${mode ? ` (failure mode ${mode}: ${FAILURE_MODES[mode].what})` : ''}`);
}

