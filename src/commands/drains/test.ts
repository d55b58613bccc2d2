// `raxx-ops drains test`: the runbook's curl smoke test, per app. The app must have its
// current drain (else failure mode A); a synthetic Logplex batch goes to that URL and must be
// answered 200 and land in S3 under its deterministic key.
import { z } from 'zod';
import type { Context } from '../../lib/context.js';
import { readDrainUrl } from '../../lib/drain-settings.js';
import { CheckFailedError, PartialFailureError } from '../../lib/errors.js';
import { defineCommand } from '../command.js';
import { FAILURE_MODES, probeDrain, type ProbeResult } from './probe.js';
import { appsFlag, failuresOf, forEachApp, listClassified, plural, resolveApps, seconds, type AppDrains } from './shared.js';

/** Probe each app whose drains are known; apps without a current drain fail with mode A. */
export async function testApps(ctx: Context, listed: AppDrains[], timeoutMs: number) {
  return forEachApp(ctx, listed.map((l) => l.app), async (app): Promise<ProbeResult> => {
    const l = listed.find((x) => x.app === app)!;
    const current = l.drains.find((d) => d.class === 'current');
    if (!current || !l.desired) return { app, ok: false, mode: 'A', message: 'no current drain to the receiver', ms: 0 };
    return probeDrain(ctx, { app, url: l.desired, drainToken: current.drain.token, timeoutMs });
  });
}

export function printProbe(ctx: Context, r: ProbeResult): void {
  const c = ctx.out.color;
  if (r.ok) ctx.out.line(`  ${c.app(r.app)}  ${c.ok('ok')}  ${r.message} (${r.ms} ms)`);
  else ctx.out.line(`  ${c.app(r.app)}  ${c.bad('FAILED')}  ${r.mode ? `[${r.mode}] ` : ''}${r.message}${r.mode ? ` — ${FAILURE_MODES[r.mode].what}; fix: ${FAILURE_MODES[r.mode].fix.replace('<app>', r.app)}` : ''}`);
}

export default defineCommand({
  args: z.object({ app: appsFlag, timeout: seconds.default(30) }),
  async run(args, ctx) {
    const { out } = ctx;
    const apps = resolveApps(args.app, ctx);
    // The token is local: a missing one is reported before any network call.
    const heroku = await ctx.heroku();
    const drainUrl = await readDrainUrl(ctx);
    const listed = await listClassified(ctx, heroku, apps, drainUrl);
    const ready = listed.flatMap((l) => (l.ok ? [l.value] : []));
    const probed = await testApps(ctx, ready, args.timeout * 1000);

    const results = probed.flatMap((p) => (p.ok ? [p.value] : []));
    if (out.json) {
      out.data({
        apps: apps.map((app) => {
          const r = results.find((x) => x.app === app);
          if (r) return { ...r, ...(r.mode ? { failure: FAILURE_MODES[r.mode].what, fix: FAILURE_MODES[r.mode].fix.replace('<app>', app) } : {}) };
          const err = [...failuresOf(listed), ...failuresOf(probed)].find((f) => f.subject === app);
          return { app, ok: false, message: err?.error.message ?? 'not tested' };
        }),
      });
    } else {
      for (const r of results) printProbe(ctx, r);
    }
    const errors = [...failuresOf(listed), ...failuresOf(probed)];
    if (errors.length > 0) {
      throw new PartialFailureError(`could not test ${plural(errors.length, 'app')}: ${errors.map((f) => f.subject).join(', ')}`, errors);
    }
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const modes = [...new Set(failed.map((r) => r.mode).filter(Boolean))];
      throw new CheckFailedError(`drain test failed for ${failed.map((r) => r.app).join(', ')}${modes.length ? ` (failure mode ${modes.join(', ')})` : ''}`, {
        hint: modes.length === 1 && modes[0] ? FAILURE_MODES[modes[0]].fix.replace('<app>', failed[0]!.app) : 'see each app above',
      });
    }
  },
});
