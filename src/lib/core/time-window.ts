// The time window a `logs` command reads: `--date YYYY-MM-DD` (UTC), `--since` / `--until`
// (an ISO time, a clock time on --date, or relative to now like `30m`, `2h`, `3d`). All
// times are UTC milliseconds; the window is [start, end). The day prefixes a window touches
// are the receiver's business (object-key's dayPrefixesBetween), and so are UTC days.
import { DATE_PATTERN, DAY_MS, startOfUtcDay, tryParseDay, utcDate } from '@raxx/log-format/object-key';
import { UsageError } from './errors.js';

export { DAY_MS, startOfUtcDay as startOfDay };

export interface TimeWindow {
  /** First millisecond in the window. */
  start: number;
  /** First millisecond after the window. */
  end: number;
}

export interface WindowFlags {
  date?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

// At most 7 digits: a count that large already reaches past any retention, and no arithmetic
// on it can overflow or make an invalid Date.
// A point in time back from now, not a duration flag's value (core/duration.ts): it takes days
// and their spellings (`3d`, `2 days`), which no duration flag needs.
const RELATIVE_RE = /^(\d{1,7})\s*(s|sec|m|min|h|hr|d|day)s?$/i;
const CLOCK_RE = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** Midnight UTC of a `YYYY-MM-DD` date, rejecting dates that do not exist (2025-02-30). */
export function parseDate(value: string, flag = '--date'): number {
  const ms = tryParseDay(value.trim());
  if (ms === undefined) {
    throw new UsageError(`${flag}: "${value}" is not a date (YYYY-MM-DD, UTC)`, { hint: `e.g. ${flag} ${utcDate(Date.now())}` });
  }
  return ms;
}

/**
 * A point in time: `30m` / `2h` / `3d` before now, a clock time (`14:30`) on the base day,
 * a date (midnight UTC) or an ISO time (UTC unless it carries an offset).
 */
export function parseTime(value: string, flag: string, now: number, baseDay: number): number {
  const v = value.trim();
  const rel = RELATIVE_RE.exec(v);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()[0]!]!;
  if (v.toLowerCase() === 'now') return now;
  const clock = CLOCK_RE.exec(v);
  if (clock) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h <= 24 && m < 60 && s < 60 && !(h === 24 && (m > 0 || s > 0))) return baseDay + ((h * 60 + m) * 60 + s) * 1000;
  }
  if (DATE_PATTERN.test(v)) return parseDate(v, flag);
  // Date.parse, like Date.UTC, rolls a day that does not exist into the next month.
  if (ISO_RE.test(v) && tryParseDay(v.slice(0, 10)) !== undefined) {
    const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(v);
    const ms = Date.parse(hasZone ? v : `${v.replace(' ', 'T')}Z`);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`${flag}: "${value}" is not a time`, {
    hint: `use a relative time (${flag} 30m, 2h, 3d), a clock time on --date (${flag} 14:30) or an ISO time (${flag} 2025-06-01T14:30:00Z)`,
  });
}

/**
 * The window the flags describe:
 * - nothing: today (UTC);  `--date D`: that whole day;
 * - `--since S`: from S to the end of today;  `--until U`: from the start of U's day to U;
 * - with `--date`, clock times are on that day and the window never leaves it.
 */
export function resolveWindow(flags: WindowFlags, now: Date, maxDays = 400): TimeWindow {
  const w = windowOfFlags(flags, now);
  // A window is read one day prefix at a time: one reaching back past what the bucket keeps
  // (a typo such as --since 9999999h) would list hundreds of thousands of empty prefixes.
  const nowMs = now.getTime();
  const oldest = startOfUtcDay(nowMs) - maxDays * DAY_MS;
  if (w.start < oldest || w.end - w.start > (maxDays + 1) * DAY_MS || w.end > startOfUtcDay(nowMs) + 2 * DAY_MS + maxDays * DAY_MS) {
    throw new UsageError(`the window ${describeWindowSafe(w)} reaches outside the ${maxDays} days the drain bucket keeps (drain.retentionDays)`, {
      hint: `choose a window within the last ${maxDays} days, e.g. --since 2h or --date ${utcDate(nowMs)}`,
    });
  }
  return w;
}

function describeWindowSafe(w: TimeWindow): string {
  const valid = (ms: number) => Number.isFinite(ms) && Math.abs(ms) <= 8.64e15;
  return valid(w.start) && valid(w.end) ? describeWindow(w) : 'asked for';
}

function windowOfFlags(flags: WindowFlags, now: Date): TimeWindow {
  const nowMs = now.getTime();
  const today = startOfUtcDay(nowMs);
  const day = flags.date !== undefined ? parseDate(flags.date) : undefined;
  const base = day ?? today;
  const since = flags.since !== undefined ? parseTime(flags.since, '--since', nowMs, base) : undefined;
  const until = flags.until !== undefined ? parseTime(flags.until, '--until', nowMs, base) : undefined;
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError(`--since ${flags.since} (${iso(since)}) is not before --until ${flags.until} (${iso(until)})`, {
      hint: 'swap them, or leave --until out to read up to now',
    });
  }
  let start: number;
  let end: number;
  if (day !== undefined) {
    start = Math.max(day, since ?? day);
    end = Math.min(day + DAY_MS, until ?? day + DAY_MS);
    if (start >= end) {
      throw new UsageError(`--since/--until fall outside --date ${flags.date}`, { hint: 'use clock times (--since 14:00) with --date, or leave --date out' });
    }
  } else if (since !== undefined) {
    start = since;
    end = until ?? Math.max(today + DAY_MS, since + 1);
  } else if (until !== undefined) {
    start = startOfUtcDay(until - 1);
    end = until;
  } else {
    start = today;
    end = today + DAY_MS;
  }
  return { start, end };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** `2025-06-01T14:00:00Z → 2025-06-01T16:00:00Z`, for messages. */
export function describeWindow(w: TimeWindow): string {
  const short = (ms: number) => iso(ms).replace('.000Z', 'Z');
  return `${short(w.start)} → ${short(w.end)}`;
}
