// `raxx-ops drains test`: the runbook's curl smoke test, per app. The app must have its
// current drain (else failure mode A); a synthetic Logplex batch goes to that drain's URL and
// must be answered 200 and land in S3 under its deterministic key.
import type { Context } from '../../lib/run/context.js';
import { CheckFailedError, combinedFailure } from '../../lib/core/errors.js';
import { createCommand } from '../define.js';
import * as opt from '../options.js';
import { FAILURE_MODES, fixFor, type ProbeResult } from '../../lib/drains/probe.js';
import { failedOutcomes, listAppDrains, succeeded, testApps } from '../../lib/drains/ops.js';
import { plural } from '../../lib/core/output.js';
import { resolveApps } from '../apps.js';

function printProbe(ctx: Context, r: ProbeResult): void {
  const c = ctx.out.color;
  if (r.ok) ctx.out.line(`  ${c.app(r.app)}  ${c.ok('ok')}  ${r.message} (${r.ms} ms)`);
  else ctx.out.line(`  ${c.app(r.app)}  ${c.bad('FAILED')}  ${r.mode ? `[${r.mode}] ` : ''}${r.message}${r.mode ? ` — ${FAILURE_MODES[r.mode].what}; fix: ${fixFor(r.mode, [r.app])}` : ''}`);
}

export default createCommand({
  description: "send a synthetic Logplex batch to each app's drain URL, expect 200 and wait for its object in S3; names the failure mode (A-D)",
  examples: [
    ['raxx-ops drains test --app raxx-api-prod', 'one app, end to end'],
    ['raxx-ops --env staging drains test --json', 'the staging app, as JSON'],
  ],
  options: { app: opt.apps, timeout: opt.timeout(30, 'how long to wait for the answer and the S3 object') },
  async handler(args, ctx) {
    const { out } = ctx;
    const { apps, listed } = await listAppDrains(ctx, resolveApps(args.app, ctx));
    const probed = await testApps(ctx, succeeded(listed), args.timeout * 1000);
    const results = succeeded(probed);
    // Apps that could not be listed or probed at all (Heroku or S3 failed), as opposed to a
    // probe that ran and found a failure mode.
    const errors = [...failedOutcomes(listed), ...failedOutcomes(probed)];

    if (out.json) {
      out.data({
        apps: apps.map((app) => {
          const r = results.find((x) => x.app === app);
          if (r) return { ...r, ...(r.mode ? { failure: FAILURE_MODES[r.mode].what, fix: fixFor(r.mode, [app]) } : {}) };
          const err = errors.find((f) => f.subject === app);
          return { app, ok: false, message: err?.error.message ?? 'not tested' };
        }),
      });
    } else {
      for (const r of results) printProbe(ctx, r);
    }

    const failed = results.filter((r) => !r.ok);
    const modes = [...new Set(failed.flatMap((r) => (r.mode ? [r.mode] : [])))];
    const summary = `drain test failed for ${failed.map((r) => r.app).join(', ')}${modes.length ? ` (failure mode ${modes.join(', ')})` : ''}`;
    if (errors.length > 0) {
      // The apps whose test ran and failed are listed too; the exit code is the errors' (4 or 3).
      const checks = failed.map((r) => ({ subject: r.app, error: new CheckFailedError(r.message, { hint: r.mode ? fixFor(r.mode, [r.app]) : undefined }) }));
      throw combinedFailure(`could not test ${plural(errors.length, 'app')}: ${errors.map((f) => f.subject).join(', ')}${failed.length ? `; ${summary}` : ''}`, [...errors, ...checks], apps.length);
    }
    if (failed.length > 0) {
      const only = modes.length === 1 ? modes[0]! : undefined;
      throw new CheckFailedError(summary, { hint: only ? fixFor(only, failed.filter((r) => r.mode === only).map((r) => r.app)) : 'see each app above' });
    }
  },
});
