// `raxx-ops logs compact`: one object per finished app-day under compacted/, with a manifest,
// so months of logs are one GET per app-day for grep, fetch and query. Idempotent: a day whose
// manifest matches its listing is left alone; late objects are picked up by the next run.
// Raw objects are never deleted (the bucket's lifecycle does that).
import { z } from 'zod';
import type { CompactOutcome } from '@raxx/log-format/compacted';
import { UsageError } from '../../lib/core/errors.js';
import { DAY_MS, startOfDay } from '../../lib/core/time-window.js';
import { createCommand, flag, option } from '../define.js';
import * as opt from '../options.js';
import { resolveApps } from '../apps.js';
import { concurrency, formatBytes, windowOf } from './shared.js';
import { openStore } from '../../lib/logs/scan.js';

export default createCommand({
  description: 'write one object per finished UTC app-day under compacted/ with a manifest, for fast searches and `logs query` over months',
  notes: `Only finished UTC days are compacted (today is left for tomorrow's run). A day whose manifest still
matches its listing (the same keys with the same ETags) is skipped; one with late objects, or
objects uploaded again under the same keys, is compacted again. The receiver
package ships the same compactor as a second Lambda handler for a daily schedule
(docs/query.md).
A closed day (past 01:15 UTC the next day, when the receiver can no longer add to it) whose
manifest was made after that is not listed again: --verify lists it, and compacts it again
when objects were uploaded or restored by hand since.`,
  examples: [
    ['raxx-ops logs compact --since 30d', 'every app of --env, the last 30 finished days'],
    ['raxx-ops logs compact --app raxx-api-prod --date 2025-06-01', 'one app-day'],
    ['raxx-ops logs compact --since 7d --dry-run --json', 'what would be written'],
    ['raxx-ops logs compact --since 30d --verify', 'list closed days too: finds objects uploaded by hand'],
  ],
  options: {
    app: opt.apps,
    date: option(z.string().optional(), 'one UTC day (YYYY-MM-DD)', { value: '<YYYY-MM-DD>' }),
    since: option(z.string().optional(), 'the finished days since then: 30d, or a date', { value: '<time>' }),
    until: option(z.string().optional(), 'with --since: the days before this one (default: up to today)', { value: '<time>' }),
    force: flag('compact again even when the manifest matches'),
    verify: flag('list closed days too, whose manifests are otherwise trusted: finds objects uploaded or restored by hand since'),
    dryRun: opt.dryRun,
    concurrency: option(concurrency.default(32), 'objects read at once (1-64)', { value: '<n>' }),
  },
  async handler(args, ctx) {
    const { out } = ctx;
    if ((args.date === undefined) === (args.since === undefined)) {
      throw new UsageError('give --date D or --since 30d', { hint: 'see raxx-ops logs compact --help' });
    }
    const apps = resolveApps(args.app, ctx);
    const window = windowOf({ date: args.date, since: args.since, until: args.until }, ctx);
    const today = startOfDay(ctx.now().getTime());
    const days: number[] = [];
    for (let d = startOfDay(window.start); d < window.end && d < today; d += DAY_MS) days.push(d);
    if (days.length === 0) throw new UsageError('no finished UTC day in that window (today is compacted tomorrow)', { hint: 'use --date with a past day, or --since 2d' });

    const store = openStore(ctx);
    const progress = await out.progress(`compact: ${apps.length} app(s) × ${days.length} day(s)`);
    const c = out.color;
    let done = 0;
    const results = await (async () => {
      try {
        const { compactDays } = await import('../../lib/logs/compaction.js');
        return await compactDays({
          ctx,
          store,
          apps,
          days,
          force: args.force,
          verify: args.verify,
          dryRun: args.dryRun,
          concurrency: args.concurrency,
          onResult: (r) => {
            progress.update(`compact: ${++done}/${apps.length * days.length} app-days`);
            if (!out.json) out.line(describe(r, c));
          },
        });
      } catch (err) {
        ctx.checkInterrupted();
        throw err;
      } finally {
        progress.stop();
      }
    })();
    if (out.json) out.data({ dryRun: args.dryRun, days: results });
    else {
      const written = results.filter((r) => r.status === 'compacted' || r.status === 'would-compact');
      out.info(`${args.dryRun ? 'would compact' : 'compacted'} ${written.length} of ${results.length} app-days; ${results.filter((r) => r.status === 'up-to-date').length} already up to date`);
    }
  },
});

function describe(r: CompactOutcome, c: { app(s: string): string; ok(s: string): string; dim(s: string): string }): string {
  const head = `${c.app(r.app)}  ${r.day}  `;
  switch (r.status) {
    case 'compacted':
    case 'would-compact':
      return `${head}${c.ok(r.status)}: ${r.objects} objects, ${r.lines} lines, ${formatBytes(r.bytes)}${r.late ? ` (${r.late} late)` : ''}${r.changed ? ` (${r.changed} changed since its manifest)` : ''}${r.closed ? ', closed' : ''}`;
    case 'up-to-date':
      return `${head}${c.dim('up to date')}: ${r.objects} objects, ${r.lines} lines${r.closed ? ', closed' : ''}`;
    case 'empty':
      return `${head}${c.dim('no objects')}`;
    case 'not-finished':
      return `${head}${c.dim('not finished')}`;
  }
}
