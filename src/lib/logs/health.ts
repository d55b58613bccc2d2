// The health model of `logs status`: the runbooks' "how to tell it's broken" from the bucket listing
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
//
// An app's health is its health now: the silence still going since its newest object. An app
// that recovered is healthy, its earlier gaps listed; the days keep their own health as a
// record. Nothing before an app's first object ever is a silence: a newly wired app is not
// critical for the hours (or days) before its first object.
import { utcDate } from '@raxx/log-format/object-key';
import type { LogObject } from './store.js';
import { DAY_MS, iso, startOfDay } from '../core/time-window.js';

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
  /** The app's oldest object ever, when looked up (null: it has none). */
  firstObject?: string | null;
  /** Health now: from the silence still going, not the worst moment of the days listed. */
  health: Health;
  reasons: string[];
  /** Silences longer than the warning threshold that have ended, oldest first. */
  gaps: Silence[];
  days: DayStatus[];
}

/** The health of one app's days, from object times alone (pure: tests feed it timelines). */
export function assess(
  app: string,
  days: { day: number; objects: Pick<LogObject, 'time' | 'size' | 'flags'>[] }[],
  /** firstObject: the app's oldest object ever (null: none; undefined: not looked up). */
  opts: { now: number; warn: number; critical: number; firstObject?: number | null | undefined; wiredAt?: number | undefined },
): AppStatus {
  const { now } = opts;
  const times = days.flatMap((d) => d.objects.map((o) => o.time)).sort((a, b) => a - b);
  const newest = times.length > 0 ? times[times.length - 1]! : undefined;
  const sinceNewest = newest === undefined ? null : Math.max(0, Math.floor((now - newest) / 60_000));
  const firstDay = days[0]?.day ?? startOfDay(now);
  // Silence is counted from the oldest midnight listed, or from the app's first object ever
  // when that came later: before it the app had no drain to be silent on.
  // An app without any object whose drain was created today is newly wired: counted from then,
  // and a warning (never critical) until its first object arrives.
  const wired = opts.firstObject === null && times.length === 0 && opts.wiredAt !== undefined && opts.wiredAt >= startOfDay(now) ? opts.wiredAt : undefined;
  const origin =
    typeof opts.firstObject === 'number' && opts.firstObject > firstDay ? Math.min(opts.firstObject, times[0] ?? opts.firstObject) : wired !== undefined ? Math.max(firstDay, wired) : firstDay;
  const before0 = wired !== undefined ? `before its drain was created (${iso(origin)})` : `before the app's first object (${iso(origin)})`;

  const result: DayStatus[] = days.map(({ day, objects }) => {
    const end = day + DAY_MS;
    const isToday = now >= day && now < end;
    const own = objects.map((o) => o.time).sort((a, b) => a - b);
    if (end <= origin) {
      const reasons = [`${before0}: newly wired`];
      return { day: utcDate(day), objects: 0, bytes: 0, first: null, last: null, longestSilence: null, minutesSinceNewest: isToday ? sinceNewest : null, partial: isToday, flagged: {}, health: 'healthy', reasons };
    }
    // The silence around this day: from the object before it (or the start of the record)
    // through its objects to the next object after it (or now).
    const before = lastBefore(times, day) ?? origin;
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
    if (wired !== undefined) {
      health = 'warning';
      reasons.push(`newly wired at ${iso(wired)}; no object yet`);
    } else if (!isToday && own.length === 0) {
      health = 'critical';
      reasons.push('missing day: no objects');
    }
    if (wired !== undefined) {
      // not critical before its first object
    } else if (longest && longest.minutes > opts.critical) {
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
  // Now: the silence still going, from the newest object (or from the start of the record).
  const silentNow = Math.floor((now - (newest ?? origin)) / 60_000);
  // Batches flagged today (clock skew, malformed) are part of now too.
  const flaggedToday = Object.values(result.find((d) => d.partial)?.flagged ?? {}).reduce((a, b) => a + b, 0);
  let health: Health = wired !== undefined ? 'warning' : silentNow > opts.critical ? 'critical' : silentNow > opts.warn ? 'warning' : 'healthy';
  const reasons: string[] = [];
  if (flaggedToday > 0) {
    if (health === 'healthy') health = 'warning';
    reasons.push(`${flaggedToday} flagged batch${flaggedToday === 1 ? '' : 'es'} today`);
  }
  if (wired !== undefined) reasons.push(`newly wired at ${iso(wired)}; no object yet`);
  else if (health !== 'healthy') reasons.push(newest === undefined ? `no object since ${iso(origin)} (${formatMinutes(silentNow)})` : `silent ${formatMinutes(silentNow)} (ongoing)`);
  const points = [origin, ...times];
  const gaps: Silence[] = [];
  for (let i = 1; i < points.length; i++) {
    const minutes = Math.floor((points[i]! - points[i - 1]!) / 60_000);
    if (minutes > opts.warn) gaps.push({ minutes, from: iso(points[i - 1]!), to: iso(points[i]!), ongoing: false });
  }
  if (health === 'healthy' && gaps.length > 0) reasons.push(`recovered; earlier: ${gaps.map((g) => `silent ${formatMinutes(g.minutes)} from ${g.from.slice(0, 16).replace('T', ' ')}`).join(', ')}`);
  return {
    app,
    newest: newest === undefined ? null : iso(newest),
    minutesSinceNewest: sinceNewest,
    ...(opts.firstObject !== undefined ? { firstObject: opts.firstObject === null ? null : iso(opts.firstObject) } : {}),
    health,
    reasons,
    gaps,
    days: result,
  };
}

/**
 * When the newest drain (not an add-on's) of each app without any object was created: a drain
 * from today makes it a newly wired app. Best effort: without a Heroku token, nothing is known.
 */
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

export function worstOf(hs: Health[]): Health {
  return hs.includes('critical') ? 'critical' : hs.includes('warning') ? 'warning' : 'healthy';
}

export function formatMinutes(m: number): string {
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const r = m % 60;
  if (h < 48) return r ? `${h} h ${r} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
