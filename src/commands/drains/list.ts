// `raxx-ops drains list`: the runbook's `heroku drains --json` per app, with each drain
// marked current / stale / foreign / addon and every token masked.
import { describeDrain } from '../../lib/drains/plan.js';
import { combinedFailure } from '../../lib/core/errors.js';
import { maskUrl } from '../../lib/core/secrets.js';
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { failedOutcomes, listAppDrains } from '../../lib/drains/ops.js';
import { plural } from '../../lib/core/output.js';
import { padCell } from '../../lib/core/table.js';
import { resolveApps } from '../apps.js';

export default createCommand({
  description: "each app's drains with their class (current / stale / foreign / addon), id and creation time; tokens masked",
  examples: [
    ['raxx-ops drains list', 'every production app'],
    ['raxx-ops drains list --app raxx-api-prod --json', 'one app, as JSON'],
  ],
  options: { app: opt.apps },
  async handler(args, ctx) {
    const { out } = ctx;
    const { listed: results } = await listAppDrains(ctx, resolveApps(args.app, ctx));

    if (out.json) {
      out.data({
        apps: results.map((r) =>
          r.ok
            ? { app: r.app, desired: r.value.desired ? maskUrl(r.value.desired) : null, drains: r.value.drains.map(describeDrain) }
            : { app: r.app, error: r.error.message },
        ),
      });
    } else {
      const c = out.color;
      for (const r of results) {
        if (!r.ok) {
          out.line(`${c.app(r.app)}  ${c.bad('error')} ${r.error.message}`);
          continue;
        }
        const { drains } = r.value;
        const current = drains.some((d) => d.class === 'current');
        out.line(`${c.app(r.app)}  ${plural(drains.length, 'drain')}${current ? '' : `  ${c.warn('not wired (no current drain)')}`}`);
        for (const d of drains) {
          const v = describeDrain(d);
          const cls = d.class === 'current' ? c.ok(v.class) : d.class === 'stale' ? c.warn(v.class) : c.dim(v.class);
          const extra = [v.reason, v.addon ? `add-on ${v.addon}` : undefined].filter(Boolean).join(', ');
          out.line(`  ${padCell(cls, 8)} ${v.id}  ${v.created_at}  ${v.url}${extra ? `  ${c.dim(`(${extra})`)}` : ''}`);
        }
      }
    }
    const failures = failedOutcomes(results);
    if (failures.length > 0) {
      throw combinedFailure(`could not list the drains of ${plural(failures.length, 'app')}: ${failures.map((f) => f.subject).join(', ')}`, failures, results.length);
    }
  },
});
