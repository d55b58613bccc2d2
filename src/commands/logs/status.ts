// `raxx-ops logs status`: the runbooks' "how to tell it's broken" from the bucket listing
// alone (no GETs): per app and UTC day the objects, bytes, first and last object, the longest
// silence, the minutes since the newest object, and a health (the model: lib/logs/health.ts).
import { z } from 'zod';
import { CheckFailedError, UsageError } from '../../lib/core/errors.js';
import type { LogObject } from '../../lib/logs/store.js';
import type { SourceStatus } from '../../lib/shipping/status.js';
import type { RunRecord } from '../../lib/shipping/history.js';
import type { Output } from '../../lib/core/output.js';
import { columnWidths, tableRow } from '../../lib/core/table.js';
import { orderedPool } from '../../lib/core/ordered-pool.js';
import { DAY_MS, iso, startOfDay } from '../../lib/core/time-window.js';
import { sourceName } from '../../lib/core/config.js';
import { createCommand, flag, option } from '../define.js';
import { resolveApps } from '../apps.js';
import * as opt from '../options.js';
import { formatBytes, listingConcurrency } from './shared.js';
import { openStore } from '../../lib/logs/scan.js';
import { assess, formatMinutes, worstOf, type AppStatus, type Health } from '../../lib/logs/health.js';
import { shippedSources, shippingHistory } from '../../lib/shipping/status.js';
import { drainsCreated } from '../../lib/drains/created.js';
// Whole minutes: the thresholds are compared with, and reported as, minutes of silence.
const minutes = () => opt.duration('m', { minMs: 60_000, whole: true });

export default createCommand({
  description: 'per app and UTC day, from the listing alone: objects, bytes, first and last object, longest silence, minutes since the newest object, health; exit 1 when anything is critical',
  notes: `Health: healthy; warning when the drain was silent longer than the warning threshold;
critical when silent longer than the critical threshold, or when a past day has no object.
Today is judged up to now: its silence includes the time since the newest object. An app's
health (and the exit code) is its health now: a recovered app is healthy with its earlier
gaps listed; nothing before an app's first object counts (a newly wired app).
Shipped log sources (logs ship) are judged over the 7 UTC days before today: a missing day is a
warning for an optional source and critical for a required one. --history adds each source's
last shipping runs (outcome, lines, size, attempts, duration, who), failed ones included.`,
  examples: [
    ['raxx-ops logs status', 'every production app, yesterday and today'],
    ['raxx-ops logs status --app raxx-api-prod --days 7', 'a week, with missing days'],
    ['raxx-ops logs status --warn-silent-minutes 5 --json', 'a tighter threshold, as JSON'],
    ['raxx-ops logs status --source auth --history', "the auth source's days and its last shipping runs"],
  ],
  options: {
    app: opt.apps,
    days: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(366, 'at most 366').default(2), 'how many UTC days, ending today', { value: '<n>' }),
    warnSilentMinutes: option(minutes().optional(), 'a silence longer than this is a warning (minutes, or a duration: 2h)', { value: '<n>', defaultText: 'health.warnSilentMinutes, 15' }),
    criticalSilentMinutes: option(minutes().optional(), 'a silence longer than this is critical (minutes, or a duration: 2h)', { value: '<n>', defaultText: 'health.criticalSilentMinutes, 120' }),
    concurrency: option(listingConcurrency.default(16), 'listings run at once (1-64)', { value: '<n>' }),
    source: option(z.array(sourceName).optional(), 'a shipped log source, judged over its last 7 days (repeatable; default: every declared source, unless --app is given)', { value: '<source>', repeatable: true }),
    notify: flag('post a summary to SLACK_WEBHOOK_URL when the health is warning or critical'),
    history: flag("add each shipped source's last runs (logs ship), failures included"),
    runs: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'at most 1000').default(10), 'how many runs --history shows per source', { value: '<n>' }),
  },
  async handler(args, ctx) {
    const { out, config } = ctx;
    // --source alone shows only sources; --app alone only apps; neither, both.
    const apps = args.source && !args.app ? [] : resolveApps(args.app, ctx);
    const sourceNames = args.source ?? (args.app ? [] : config.logSources.map((s) => s.name));
    const webhook = args.notify ? (await import('../../lib/slack/notify.js')).requireWebhook(ctx.env) : undefined;
    const warn = args.warnSilentMinutes ?? config.health.warnSilentMinutes;
    const critical = args.criticalSilentMinutes ?? config.health.criticalSilentMinutes;
    if (critical <= warn) {
      throw new UsageError(`the critical threshold (${critical} min) must be above the warning threshold (${warn} min)`, {
        hint: 'set --critical-silent-minutes above --warn-silent-minutes',
      });
    }
    const now = ctx.now().getTime();
    const today = startOfDay(now);
    const days = Array.from({ length: args.days }, (_, i) => today - (args.days - 1 - i) * DAY_MS);

    const store = openStore(ctx);
    const progress = await out.progress(`status: listing ${apps.length} app(s) × ${days.length} day(s)`);
    const listed = new Map<string, LogObject[]>();
    // Each app's oldest object ever (one small listing each), in parallel with the days.
    const firsts = new Map<string, number | null>();
    const oldest = Promise.all(apps.map(async (app) => firsts.set(app, await store.oldest(app, ctx.signal))));
    oldest.catch(() => undefined);
    try {
      const jobs = apps.flatMap((app) => days.map((day) => ({ app, day })));
      let done = 0;
      for await (const { item, value } of orderedPool(jobs, ({ app, day }, signal) => store.listDay(app, day, signal), { concurrency: args.concurrency, signal: ctx.signal })) {
        listed.set(`${item.app}/${item.day}`, value);
        progress.update(`status: listed ${++done}/${jobs.length} app-days`);
      }
      await oldest;
    } catch (err) {
      ctx.checkInterrupted();
      throw err;
    } finally {
      progress.stop();
    }

    const wiredAt = await drainsCreated(ctx, apps.filter((app) => firsts.get(app) === null));
    const statuses = apps.map((app) => assess(app, days.map((day) => ({ day, objects: listed.get(`${app}/${day}`) ?? [] })), { now, warn, critical, firstObject: firsts.get(app), wiredAt: wiredAt.get(app) }));
    const sources = await shippedSources(ctx, sourceNames);
    const history = args.history ? await shippingHistory(ctx, sourceNames, args.runs) : undefined;
    const worst = worstOf([...statuses.map((s) => s.health), ...sources.map((s) => s.health)]);

    if (out.json) {
      out.data({ now: iso(now), thresholds: { warnSilentMinutes: warn, criticalSilentMinutes: critical }, health: worst, apps: statuses, sources, ...(history ? { history } : {}) });
    } else {
      if (statuses.length > 0) printTable(ctx.out, statuses);
      if (sources.length > 0) printSources(ctx.out, sources);
      if (history) printHistory(ctx.out, history);
    }
    if (webhook && worst !== 'healthy') {
      const { notify } = await import('../../lib/slack/notify.js');
      await notify(webhook, notification(config.env, worst, statuses, sources), out, ctx.signal, ctx.env);
    }
    if (worst === 'critical') {
      const bad = [...statuses.filter((s) => s.health === 'critical').map((s) => s.app), ...sources.filter((s) => s.health === 'critical').map((s) => `${s.source} (missing ${s.missing.join(', ')})`)];
      const appCritical = statuses.some((s) => s.health === 'critical');
      throw new CheckFailedError(`critical: ${bad.join(', ')}`, {
        hint: appCritical
          ? 'the drain may be broken: check `raxx-ops drains list` and `raxx-ops drains test --app <app>`, and the receiver function\'s errors'
          : 'a required source missed a day: check its shipping job, then `raxx-ops logs ship <source> <file> --date <day>` (docs/shipping.md)',
      });
    }
  },
});

function printTable(out: Output, statuses: AppStatus[]): void {
  const c = out.color;
  const time = (s: string | null) => (s ? s.slice(11, 19) : '-');
  const rows: string[][] = [['APP', 'DAY', 'OBJECTS', 'BYTES', 'FIRST', 'LAST', 'LONGEST SILENCE', 'SINCE NEWEST', 'HEALTH']];
  const healths: Health[] = [];
  for (const s of statuses) {
    for (const d of s.days) {
      const silence = d.longestSilence ? `${formatMinutes(d.longestSilence.minutes)} from ${d.longestSilence.from.slice(0, 16).replace('T', ' ')}${d.longestSilence.ongoing ? ' (ongoing)' : ''}` : '-';
      rows.push([
        s.app,
        d.day + (d.partial ? '*' : ''),
        String(d.objects),
        formatBytes(d.bytes),
        time(d.first),
        time(d.last),
        silence,
        d.minutesSinceNewest === null ? '-' : formatMinutes(d.minutesSinceNewest),
        d.health + (d.reasons.length ? `: ${d.reasons.join('; ')}` : ''),
      ]);
      healths.push(d.health);
    }
  }
  const widths = columnWidths(rows);
  rows.forEach((r, n) => {
    if (n === 0) return out.line(c.dim(tableRow(r, widths)));
    const h = healths[n - 1]!;
    const last = r.length - 1;
    const health = h === 'healthy' ? c.ok(r[last]!) : h === 'warning' ? c.warn(r[last]!) : c.bad(r[last]!);
    out.line(tableRow([c.app(r[0]!), ...r.slice(1, last), health], widths));
  });
  out.line(c.dim('* today, up to now (UTC)'));
  // Health is about now; the rows above are the record of each day.
  for (const s of statuses) {
    const text = s.health + (s.reasons.length ? `: ${s.reasons.join('; ')}` : '');
    out.line(`now  ${c.app(s.app)}  ${s.health === 'healthy' ? c.ok(text) : s.health === 'warning' ? c.warn(text) : c.bad(text)}`);
  }
}




function printHistory(out: Output, history: { source: string; runs: RunRecord[]; total: number }[]): void {
  const c = out.color;
  for (const h of history) {
    out.line('');
    out.line(c.dim(`${h.source}: last ${h.runs.length} of ${h.total} shipping run(s), newest first`));
    if (h.runs.length === 0) {
      out.line('  (no runs recorded: `raxx-ops logs ship` records each one)');
      continue;
    }
    const rows = [['STARTED', 'DAY', 'OUTCOME', 'LINES', 'SIZE', 'ATTEMPTS', 'TOOK', 'BY', 'ERROR']];
    for (const r of h.runs) {
      rows.push([r.startedAt.slice(0, 19) + 'Z', r.day, r.outcome, r.lines === null ? '-' : String(r.lines), r.bytes === null ? '-' : formatBytes(r.bytes), String(r.attempts), `${(r.durationMs / 1000).toFixed(1)} s`, `${r.by} (${r.via})`, r.error ?? '']);
    }
    const widths = columnWidths(rows);
    rows.forEach((r, n) => {
      if (n === 0) return out.line(c.dim(tableRow(r, widths, { trimEnd: true })));
      const cells = h.runs[n - 1]!.outcome === 'failed' ? r.map((cell, i) => (i === 2 ? c.bad(cell) : cell)) : r;
      out.line(tableRow(cells, widths, { trimEnd: true }));
    });
  }
}

function printSources(out: Output, sources: SourceStatus[]): void {
  const c = out.color;
  const rows = [['SOURCE', 'REQUIRED', 'DAYS', 'ENTRIES', 'BYTES', 'MISSING', 'HEALTH']];
  for (const s of sources) {
    rows.push([s.source, s.required ? 'yes' : 'no', `${s.days[0]?.day ?? ''}..${s.days[s.days.length - 1]?.day ?? ''}`, String(s.entries), formatBytes(s.bytes), s.missing.length ? s.missing.join(', ') : '-', s.health]);
  }
  const widths = columnWidths(rows);
  out.line('');
  rows.forEach((r, n) => {
    if (n === 0) return out.line(c.dim(tableRow(r, widths)));
    const h = sources[n - 1]!.health;
    const last = r.length - 1;
    const health = h === 'healthy' ? c.ok(r[last]!) : h === 'warning' ? c.warn(r[last]!) : c.bad(r[last]!);
    out.line(tableRow([...r.slice(0, last), health], widths));
  });
}

/** The Slack summary: the health, then each app and source that is not healthy. */
function notification(env: string, worst: Health, apps: AppStatus[], sources: SourceStatus[]): string {
  const lines = [`raxx-ops logs status (--env ${env}): ${worst}`];
  for (const a of apps.filter((x) => x.health !== 'healthy')) {
    const reasons = a.days.filter((d) => d.health !== 'healthy').map((d) => `${d.day}: ${d.reasons.join('; ')}`);
    lines.push(`• app ${a.app}: ${a.health} (${reasons.join(' | ')})`);
  }
  for (const s of sources.filter((x) => x.health !== 'healthy')) {
    lines.push(`• source ${s.source}${s.required ? ' (required)' : ''}: ${s.health}, missing ${s.missing.join(', ')}`);
  }
  return lines.join('\n');
}
