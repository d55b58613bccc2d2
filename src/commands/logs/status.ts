// `raxx-ops logs status`: the runbooks' "how to tell it's broken" from the bucket listing
// alone (no GETs): per app and UTC day the objects, bytes, first and last object, the longest
// silence, the minutes since the newest object, and a health.
//
// Silence: the time between consecutive objects of an app, across midnight; a silence counts
// in full for every day it overlaps (a three-hour outage from 23:00 is critical on both days).
// Before the first object of the oldest day listed, the silence is counted from that midnight.
// Today is judged up to now: the time since the newest object is a silence that is still going.
// A past day without any object is "missing" (critical); today is never missing, it is judged
// by its silence, so a quiet first minute after midnight is not an alarm.
// Flagged batches (clock-skew, malformed, count-mismatch) are counted from the flags the
// receiver puts in their keys: still no GET. Any makes the day a warning.
import { z } from 'zod';
import { utcDate } from '@raxx/log-drain-receiver/object-key';
import { CheckFailedError, UsageError } from '../../lib/errors.js';
import type { LogObject } from '../../lib/log-store.js';
import type { Output } from '../../lib/output.js';
import { orderedPool } from '../../lib/ordered-pool.js';
import { DAY_MS, iso, startOfDay } from '../../lib/time-window.js';
import { createCommand, option } from '../define.js';
import { resolveApps } from '../apps.js';
import * as opt from '../options.js';
import { formatBytes, listingConcurrency, openStore } from './shared.js';

export type Health = 'healthy' | 'warning' | 'critical';

export interface Silence {
  minutes: number;
  from: string;
  to: string;
  /** The silence runs up to now: nothing has arrived since `from`. */
  ongoing: boolean;
}

export interface DayStatus {
  day: string;
  objects: number;
  bytes: number;
  first: string | null;
  last: string | null;
  longestSilence: Silence | null;
  /** Only for today: minutes since the app's newest object (null when there is none). */
  minutesSinceNewest: number | null;
  partial: boolean;
  /** Batches the receiver flagged, by flag (`clock-skew`, `malformed`, `count-mismatch`); empty when none. */
  flagged: Record<string, number>;
  health: Health;
  reasons: string[];
}

export interface AppStatus {
  app: string;
  newest: string | null;
  minutesSinceNewest: number | null;
  health: Health;
  days: DayStatus[];
}

const minutes = (label: string) => z.coerce.number({ error: `${label} must be a number of minutes` }).int('must be a whole number of minutes').positive('must be a positive number of minutes');

export default createCommand({
  description: 'per app and UTC day, from the listing alone: objects, bytes, first and last object, longest silence, minutes since the newest object, health; exit 1 when anything is critical',
  notes: `Health: healthy; warning when the drain was silent longer than the warning threshold;
critical when silent longer than the critical threshold, or when a past day has no object.
Today is judged up to now: its silence includes the time since the newest object.`,
  examples: [
    ['raxx-ops logs status', 'every production app, yesterday and today'],
    ['raxx-ops logs status --app raxx-api-prod --days 7', 'a week, with missing days'],
    ['raxx-ops logs status --warn-silent-minutes 5 --json', 'a tighter threshold, as JSON'],
  ],
  options: {
    app: opt.apps,
    days: option(z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(366, 'at most 366').default(2), 'how many UTC days, ending today', { value: '<n>' }),
    warnSilentMinutes: option(minutes('--warn-silent-minutes').optional(), 'a silence longer than this is a warning', { value: '<n>', defaultText: 'health.warnSilentMinutes, 15' }),
    criticalSilentMinutes: option(minutes('--critical-silent-minutes').optional(), 'a silence longer than this is critical', { value: '<n>', defaultText: 'health.criticalSilentMinutes, 120' }),
    concurrency: option(listingConcurrency.default(16), 'listings run at once (1-64)', { value: '<n>' }),
  },
  async handler(args, ctx) {
    const { out, config } = ctx;
    const apps = resolveApps(args.app, ctx);
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

    const store = await openStore(ctx);
    const progress = await out.progress(`status: listing ${apps.length} app(s) × ${days.length} day(s)`);
    const listed = new Map<string, LogObject[]>();
    try {
      const jobs = apps.flatMap((app) => days.map((day) => ({ app, day })));
      let done = 0;
      for await (const { item, value } of orderedPool(jobs, ({ app, day }, signal) => store.listDay(app, day, signal), { concurrency: args.concurrency, signal: ctx.signal })) {
        listed.set(`${item.app}/${item.day}`, value);
        progress.update(`status: listed ${++done}/${jobs.length} app-days`);
      }
    } catch (err) {
      ctx.checkInterrupted();
      throw err;
    } finally {
      progress.stop();
    }

    const statuses = apps.map((app) => assess(app, days.map((day) => ({ day, objects: listed.get(`${app}/${day}`) ?? [] })), { now, warn, critical }));
    const worst = worstOf(statuses.map((s) => s.health));

    if (out.json) {
      out.data({ now: iso(now), thresholds: { warnSilentMinutes: warn, criticalSilentMinutes: critical }, health: worst, apps: statuses });
    } else {
      printTable(ctx.out, statuses);
    }
    if (worst === 'critical') {
      const bad = statuses.filter((s) => s.health === 'critical').map((s) => s.app);
      throw new CheckFailedError(`critical: ${bad.join(', ')}`, {
        hint: 'the drain may be broken: check `raxx-ops drains list` and `raxx-ops drains test --app <app>`, and the receiver function\'s errors',
      });
    }
  },
});

/** The health of one app's days, from object times alone (pure: tests feed it timelines). */
export function assess(app: string, days: { day: number; objects: Pick<LogObject, 'time' | 'size' | 'flags'>[] }[], opts: { now: number; warn: number; critical: number }): AppStatus {
  const { now } = opts;
  const times = days.flatMap((d) => d.objects.map((o) => o.time)).sort((a, b) => a - b);
  const newest = times.length > 0 ? times[times.length - 1]! : undefined;
  const sinceNewest = newest === undefined ? null : Math.max(0, Math.floor((now - newest) / 60_000));
  const firstDay = days[0]?.day ?? startOfDay(now);

  const result: DayStatus[] = days.map(({ day, objects }) => {
    const end = day + DAY_MS;
    const isToday = now >= day && now < end;
    const own = objects.map((o) => o.time).sort((a, b) => a - b);
    // The silence around this day: from the object before it (or the oldest midnight listed)
    // through its objects to the next object after it (or now).
    const before = lastBefore(times, day) ?? firstDay;
    const after = firstAtOrAfter(times, end);
    const points = [before, ...own, after ?? Math.max(now, own[own.length - 1] ?? before)];
    // The widest gap in milliseconds, not whole minutes: of a 10.8- and a 10.2-minute gap,
    // the first is the longest silence even though both show as 10 min.
    const gapAt = (i: number) => points[i]! - points[i - 1]!;
    let widest = 1;
    for (let i = 2; i < points.length; i++) if (gapAt(i) > gapAt(widest)) widest = i;
    const longest: Silence | null =
      gapAt(widest) > 0
        ? { minutes: Math.floor(gapAt(widest) / 60_000), from: iso(points[widest - 1]!), to: iso(points[widest]!), ongoing: widest === points.length - 1 && after === undefined }
        : null;
    const reasons: string[] = [];
    let health: Health = 'healthy';
    if (!isToday && own.length === 0) {
      health = 'critical';
      reasons.push('missing day: no objects');
    }
    if (longest && longest.minutes > opts.critical) {
      health = 'critical';
      reasons.push(`silent ${formatMinutes(longest.minutes)} (> ${formatMinutes(opts.critical)})`);
    } else if (longest && longest.minutes > opts.warn) {
      if (health === 'healthy') health = 'warning';
      reasons.push(`silent ${formatMinutes(longest.minutes)} (> ${formatMinutes(opts.warn)})`);
    }
    const flagged: Record<string, number> = {};
    for (const o of objects) for (const f of o.flags ?? []) flagged[f] = (flagged[f] ?? 0) + 1;
    for (const [flag, n] of Object.entries(flagged)) {
      if (health === 'healthy') health = 'warning';
      reasons.push(`${n} batch${n === 1 ? '' : 'es'} flagged ${flag}`);
    }
    return {
      day: utcDate(day),
      objects: objects.length,
      bytes: objects.reduce((n, o) => n + o.size, 0),
      first: own.length > 0 ? iso(own[0]!) : null,
      last: own.length > 0 ? iso(own[own.length - 1]!) : null,
      longestSilence: longest,
      minutesSinceNewest: isToday ? sinceNewest : null,
      partial: isToday,
      flagged,
      health,
      reasons,
    };
  });
  return {
    app,
    newest: newest === undefined ? null : iso(newest),
    minutesSinceNewest: sinceNewest,
    health: worstOf(result.map((d) => d.health)),
    days: result,
  };
}

/** Index of the first element >= t in an ascending array (its length when there is none). */
function lowerBound(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lastBefore(sorted: number[], t: number): number | undefined {
  const i = lowerBound(sorted, t);
  return i > 0 ? sorted[i - 1] : undefined;
}

function firstAtOrAfter(sorted: number[], t: number): number | undefined {
  return sorted[lowerBound(sorted, t)];
}

function worstOf(hs: Health[]): Health {
  return hs.includes('critical') ? 'critical' : hs.includes('warning') ? 'warning' : 'healthy';
}

export function formatMinutes(m: number): string {
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const r = m % 60;
  if (h < 48) return r ? `${h} h ${r} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

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
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  rows.forEach((r, n) => {
    const cells = r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)));
    if (n === 0) {
      out.line(c.dim(cells.join('  ')));
      return;
    }
    const h = healths[n - 1]!;
    const last = cells.length - 1;
    cells[0] = c.app(r[0]!) + ' '.repeat(widths[0]! - r[0]!.length);
    cells[last] = h === 'healthy' ? c.ok(cells[last]!) : h === 'warning' ? c.warn(cells[last]!) : c.bad(cells[last]!);
    out.line(cells.join('  '));
  });
  out.line(c.dim('* today, up to now (UTC)'));
}
