// `raxx-ops drains wire`: replaces wire-heroku-log-drain.sh. Every app ends with exactly its
// current drain (SSM drain_url + app=<app>). One GET per app, a POST only where the current
// drain is missing, a DELETE only for what --prune removes; a second run changes nothing.
import { combinedFailure } from '../../lib/core/errors.js';
import { applyWire, checkRateLimit, failedOutcomes, listAppDrains, planWire, printPlan, spareAccepted, succeeded, wireJson, type WireRun } from '../../lib/drains/ops.js';
import { plural } from '../../lib/core/output.js';
import { printScope, scopeOf } from '../../lib/run/scope.js';
import { createCommand, flag } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';

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
    // Refused before anything is read when --env has no drain settings of its own.
    const scope = scopeOf(ctx, ['drain.ssmPrefix'], { apps: resolveApps(args.app, ctx), ssm: ['drainUrl'] });
    const { apps, heroku, listed, drainUrl } = await listAppDrains(ctx, resolveApps(args.app, ctx));
    let plans = planWire(listed, Boolean(args.prune));
    printScope(ctx, scope);
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
    const failures = [...failedOutcomes(run.plans), ...failedOutcomes(run.results ?? [])];
    if (failures.length > 0) {
      throw combinedFailure(`wiring failed for ${plural(failures.length, 'app')} of ${apps.length}: ${failures.map((f) => f.subject).join(', ')}`, failures, apps.length, {
        hint: `${failures.length < apps.length ? 'the other apps are wired; ' : ''}fix the cause and run \`raxx-ops drains wire\` again (it only adds what is missing)`,
      });
    }
  },
});
