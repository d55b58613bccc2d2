// `raxx-ops drains remove`: the runbook's `heroku drains:remove` loops. --stale cleans up,
// --all is the emergency stop (every drain to the receiver), --id removes one drain. Add-on
// drains are never removed here (only removing the add-on does that).
import { z } from 'zod';
import { describeDrain, removePlan, type RemovePlan, type RemoveSelector } from '../../lib/drains/plan.js';
import { UsageError, combinedFailure } from '../../lib/core/errors.js';
import { maskUrl } from '../../lib/core/secrets.js';
import { guardRemovals } from '../../lib/drains/guard.js';
import { printScope } from '../../lib/run/scope.js';
import { createCommand, flag, option } from '../define.js';
import * as opt from '../options.js';
import { deleteDrains, failedOutcomes, forEachApp, listAppDrains, succeeded, type Outcome } from '../../lib/drains/ops.js';
import { plural } from '../../lib/core/output.js';
import { resolveApps } from '../apps.js';

export default createCommand({
  description: 'remove drains: stale ones, every drain to the receiver (emergency stop), or one by id; asks first',
  examples: [
    ['raxx-ops drains remove --stale --dry-run', 'what a clean-up would remove'],
    ['raxx-ops drains remove --all --yes', 'emergency stop: no app sends to the receiver any more'],
    ['raxx-ops drains remove --id 5a6f… --app raxx-api-prod', 'one drain'],
  ],
  // The emergency stop goes on when S3 cannot be reached to take the lease.
  lease: { name: 'drains', when: (a) => !a.dryRun, bestEffort: true },
  options: {
    ...opt.leaseOptions,
    stale: flag('drains to the receiver with another token or app'),
    all: flag('emergency stop: every drain pointing at the receiver endpoint'),
    includeForeign: flag('with --all: every drain of the app, third-party ones too (add-on drains excepted)'),
    id: option(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'not a drain id').optional(), 'one drain, by id (or its d.<uuid> token)', { value: '<id>' }),
    app: opt.apps,
    dryRun: opt.dryRun,
  },
  async handler(args, ctx) {
    const chosen = [args.stale, args.all, args.id !== undefined].filter(Boolean).length;
    if (chosen !== 1) throw new UsageError('choose exactly one of --stale, --all or --id ID', { hint: 'see raxx-ops drains remove --help' });
    if (args.includeForeign && !args.all) throw new UsageError('--include-foreign only goes with --all', { hint: 'see raxx-ops drains remove --help' });
    const { out } = ctx;
    const c = out.color;
    const selector: RemoveSelector = args.stale ? { kind: 'stale' } : args.all ? { kind: 'all', includeForeign: Boolean(args.includeForeign) } : { kind: 'id', id: args.id! };
    // --all --include-foreign and --id need no receiver endpoint (the SSM URL only names the
    // classes shown). The emergency stop must work with SSM down: receiver drains are then recognised by the
    // function's URL (or drain.receiverUrl), and foreign drains still stay.
    const mode = selector.kind === 'stale' ? 'required' : selector.kind === 'all' && !selector.includeForeign ? 'fallback' : 'optional';
    const { apps, heroku, listed, drainUrl } = await listAppDrains(ctx, resolveApps(args.app, ctx), mode);
    let plans: Outcome<RemovePlan>[] = listed.map((r) => (r.ok ? { app: r.app, ok: true, value: removePlan(r.app, r.value.drains, selector) } : r));
    const ready = succeeded(plans);
    let toRemove = ready.filter((p) => p.remove.length > 0);
    const total = toRemove.reduce((n, p) => n + p.remove.length, 0);

    if (selector.kind === 'id' && total === 0 && ready.every((p) => p.skipped.length === 0) && failedOutcomes(plans).length === 0) {
      throw new UsageError(`no drain ${selector.id} on ${apps.join(', ')}`, { hint: 'see the ids with `raxx-ops drains list`; pass --app for the app it belongs to' });
    }

    if (!out.json) {
      // Only the apps' drains change; the environment says which apps those are.
      printScope(ctx, { environment: ctx.config.env, resources: [], apps });
      out.line(args.dryRun ? 'would remove (dry run, nothing will change):' : 'to remove:');
      for (const p of plans) {
        if (!p.ok) {
          out.line(`  ${c.app(p.app)}  ${c.bad('cannot list drains')}: ${p.error.message}`);
          continue;
        }
        if (p.value.remove.length === 0) out.line(`  ${c.app(p.app)}  nothing`);
        for (const d of p.value.remove) out.line(`  ${c.app(p.app)}  ${d.drain.id}  ${maskUrl(d.drain.url)} (${d.class}${d.reason ? `: ${d.reason}` : ''})`);
        for (const s of p.value.skipped) out.line(`  ${c.app(p.app)}  ${c.dim(`skip ${s.drain.drain.id}: ${s.why}`)}`);
      }
    }

    let removed: Outcome<{ id: string; outcome: string }[]>[] = [];
    if (!args.dryRun && total > 0) {
      const what = selector.kind === 'all' ? (selector.includeForeign ? 'every drain (foreign too)' : 'every drain to the receiver') : selector.kind === 'stale' ? 'the stale drains' : `drain ${selector.id}`;
      await ctx.confirm(`remove ${what}: ${plural(total, 'drain')} on ${plural(toRemove.length, 'app')}?`);
      if (selector.kind === 'stale') {
        // A clean-up, not an emergency: look again, and never remove a drain that still works.
        const { spared } = await guardRemovals(ctx, drainUrl!, toRemove);
        for (const s of spared) out.warn(`${s.app}: not removing ${s.drain.drain.id}: ${s.why}`);
        const keep = new Set(spared.map((s) => s.drain));
        toRemove = toRemove.map((p) => ({ ...p, remove: p.remove.filter((d) => !keep.has(d)) })).filter((p) => p.remove.length > 0);
        plans = plans.map((p) => (p.ok ? { ...p, value: { ...p.value, remove: p.value.remove.filter((d) => !keep.has(d)) } } : p));
      }
      removed = await forEachApp(ctx, toRemove, (p) => deleteDrains(heroku, p.app, p.remove.map((d) => d.drain.id)));
      if (!out.json) {
        out.line('removed:');
        for (const r of removed) {
          if (!r.ok) out.line(`  ${c.app(r.app)}  ${c.bad('failed')}: ${r.error.message}`);
          else for (const d of r.value) out.line(`  ${c.app(r.app)}  ${d.id}${d.outcome === 'removed' ? '' : ` (${d.outcome})`}`);
        }
      }
    } else if (!out.json && !args.dryRun) {
      out.line('nothing to remove');
    }

    if (out.json) {
      const done = new Map(removed.map((r) => [r.app, r]));
      out.data({
        scope: { environment: ctx.config.env, resources: [], apps },
        dryRun: Boolean(args.dryRun),
        apps: plans.map((p) => {
          if (!p.ok) return { app: p.app, status: 'failed', error: p.error.message };
          const r = done.get(p.app);
          return {
            app: p.app,
            plan: p.value.remove.map(describeDrain),
            skipped: p.value.skipped.map((s) => ({ ...describeDrain(s.drain), why: s.why })),
            status: args.dryRun ? 'planned' : !r ? 'unchanged' : r.ok ? 'removed' : 'failed',
            ...(r?.ok ? { removed: r.value.map((d) => d.id) } : {}),
            ...(r && !r.ok ? { error: r.error.message } : {}),
          };
        }),
      });
    }
    const failures = [...failedOutcomes(plans), ...failedOutcomes(removed)];
    if (failures.length > 0) {
      throw combinedFailure(`removing drains failed for ${plural(failures.length, 'app')}: ${failures.map((f) => f.subject).join(', ')}`, failures, apps.length, {
        hint: 'the other apps are done; run the same command again for the rest',
      });
    }
  },
});
