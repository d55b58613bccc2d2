// The one definition of where a drain batch lives in S3:
//
//   <prefix><app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>[.<flag>…].gz      e.g.
//   logs/raxx-api-prod/2025/06/02/1748865600123-09C557EAFCFB6CF2740EE62F62971098.gz
//   logs/raxx-api-prod/2025/06/02/1748865600000-09C557EAFCFB6CF2740EE62F62971098.clock-skew.gz
//
// Flags (clock-skew, malformed, count-mismatch) mark a batch the receiver stored but found odd,
// so `logs status` can count them from a listing without reading any object. Keys written
// before flags existed (`<epoch_ms>-<id>.gz`) parse as unflagged.
//
// The date is the UTC day of epoch_ms; epoch_ms is zero-padded to 13 digits so that listing
// order (lexical) is time order within a day prefix, which lets readers start a listing at a
// time (StartAfter) and stop at the window's end. The CLI imports this module rather than
// re-describing the layout.

export const DEFAULT_KEY_PREFIX = 'logs/';
/** Where a batch goes when no app can be told (or the app is not allowed). */
export const UNKNOWN_APP = 'unknown';
/** Heroku's rule for app names. */
export const APP_NAME_PATTERN = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
/** A Logplex Frame-Id (32 hex digits) or a UUID: safe in a key, no `/` or `.`. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** The shape of a UTC day, `YYYY-MM-DD`; tryParseDay() also checks that the day exists. */
export const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const EPOCH_DIGITS = 13;
/** What a key may say about its batch, in the order they appear in a key. */
export const KEY_FLAGS = ['clock-skew', 'malformed', 'count-mismatch'] as const;
export type KeyFlag = (typeof KEY_FLAGS)[number];
/** The largest epoch_ms that fits 13 digits (year 2286). */
export const MAX_EPOCH_MS = 9_999_999_999_999;
export const DAY_MS = 86_400_000;
// The keying rule: which day a batch is filed under (the receiver's batch.ts applies it).
/**
 * The window around the time of receipt in which a frame's time files the batch: an hour
 * back (Logplex buffers, dynos lag), five minutes ahead (clocks drift a little). Outside it,
 * the frame's clock is wrong or the line is replayed, and the batch is filed on its receipt
 * day, where `logs status` and `logs grep` look, and flagged `clock-skew`.
 */
export const FRAME_TIME_PAST_MS = 60 * 60_000;
export const FRAME_TIME_FUTURE_MS = 5 * 60_000;
/**
 * How long after a first attempt Logplex may send the same Frame-Id again. Logplex retries a
 * failed or timed-out batch once, seconds later (its timeout is a few seconds); five minutes
 * is a wide margin. It must not exceed FRAME_TIME_FUTURE_MS: then a batch whose frames are
 * older than its receipt (every batch, with honest clocks) keys the same way for any attempt
 * in the horizon, and only batches near the window's edges pay for a lookup (see describeBatch in the receiver's batch.ts).
 */
export const LOGPLEX_RETRY_HORIZON_MS = 5 * 60_000;

/**
 * The longest a Lambda invocation can run (AWS's ceiling, whatever the function's own
 * timeout): a write the receiver started is answered, or never lands, within it.
 */
export const LAMBDA_MAX_RUN_MS = 15 * 60_000;
/**
 * When a UTC day closes for the receiver: a batch received after `day + 1 d + 1 h` cannot be
 * keyed into it (a frame time is used only within an hour before the receipt; a receipt time or
 * quarter-hour slot is on the receipt's own day), and the write of one received before then has
 * landed within LAMBDA_MAX_RUN_MS. So: 01:15 UTC the next day. A listing taken after it (by S3's
 * clock) holds every object the receiver will ever write into the day (docs/facts.md).
 */
export function acceptanceHorizon(day: number): number {
  return startOfUtcDay(day) + DAY_MS + FRAME_TIME_PAST_MS + LAMBDA_MAX_RUN_MS;
}

/** A point in time: a Date, epoch milliseconds, or a string Date.parse reads (`YYYY-MM-DD` is midnight UTC). */
export type Instant = Date | number | string;

export type ObjectKeyParts = {
  /** Default `logs/`; a missing trailing slash is added. */
  prefix?: string | undefined;
  app: string;
  /** Batch id: the Logplex Frame-Id, or a UUID when there is none. */
  id: string;
  epochMs: number;
  /** Marks written after the id; order does not matter, KEY_FLAGS order is used. */
  flags?: readonly KeyFlag[] | undefined;
};

export interface ParsedObjectKey {
  app: string;
  epochMs: number;
  id: string;
  /** UTC day, `YYYY-MM-DD`. */
  date: string;
  /** The key's flags. */
  flags: KeyFlag[];
}

export function isAppName(value: unknown): value is string {
  return typeof value === 'string' && APP_NAME_PATTERN.test(value);
}

export function isKeyFlag(value: unknown): value is KeyFlag {
  return (KEY_FLAGS as readonly unknown[]).includes(value);
}

export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * Why a key prefix is unsafe, or undefined when it is fine. A prefix is a folder path inside
 * the bucket: no `.`/`..` segments, no empty segment (`//`) or leading `/`, no backslash or
 * control character, so no value can make keys land outside it or look like another folder.
 */
export function keyPrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  if ([...prefix].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) return 'must not contain control characters';
  if (prefix.includes('\\')) return 'must not contain a backslash';
  if (prefix.startsWith('/')) return 'must not start with "/" (S3 keys have no root)';
  const segments = (prefix.endsWith('/') ? prefix.slice(0, -1) : prefix).split('/');
  if (segments.some((seg) => seg === '')) return 'must not contain an empty folder ("//")';
  if (segments.some((seg) => seg === '.' || seg === '..')) return 'must not contain "." or ".." folders';
  return undefined;
}

/** `logs` and `logs/` mean the same; `` puts apps at the bucket root; a leading `/` is dropped. */
export function normalizePrefix(prefix: string = DEFAULT_KEY_PREFIX): string {
  const p = prefix.replace(/^\/+/, '');
  return p === '' || p.endsWith('/') ? p : `${p}/`;
}

/** `YYYY-MM-DD` of an instant, in UTC. */
export function utcDate(at: Instant): string {
  return new Date(toEpochMs(at)).toISOString().slice(0, 10);
}

/** Midnight UTC of the day of an instant (epoch ms). */
export function startOfUtcDay(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}

export function buildObjectKey(parts: ObjectKeyParts): string {
  const { epochMs } = parts;
  if (!Number.isInteger(epochMs) || epochMs < 0 || epochMs > MAX_EPOCH_MS) throw new RangeError(`epoch ms out of range: ${epochMs}`);
  if (!isAppName(parts.app)) throw new RangeError(`not a Heroku app name: ${JSON.stringify(parts.app)}`);
  if (!isObjectId(parts.id)) throw new RangeError(`not a batch id (letters, digits, dashes): ${JSON.stringify(parts.id)}`);
  const flags = KEY_FLAGS.filter((f) => parts.flags?.includes(f));
  return `${dayPath(normalizePrefix(parts.prefix), parts.app, epochMs)}${epochDigits(epochMs)}-${parts.id}${flags.map((f) => `.${f}`).join('')}.gz`;
}

/** The batch id of a whole day's file shipped by `raxx-ops logs ship`. */
export const SHIPPED_DAY_ID = 'shipped';

/**
 * The key of a whole day's log file shipped for a source (`raxx-ops logs ship`), in this
 * layout so that the readers of drained batches read it too: one object per source and UTC
 * day, at the day's first millisecond, so shipping a day again lands on the same key.
 * `logs/auth/2025/06/01/1748736000000-shipped.gz`
 */
export function buildShippedDayKey(prefix: string | undefined, source: string, date: string): string {
  return buildObjectKey({ prefix, app: source, id: SHIPPED_DAY_ID, epochMs: parseDay(date) });
}

/**
 * `<dayPrefix><13-digit epoch_ms>`: a listing's StartAfter for the objects of a day prefix from
 * epochMs on. Every key of epochMs or later sorts after it, every earlier key before it.
 */
export function keyStartAt(dayPrefix: string, epochMs: number): string {
  return `${dayPrefix}${epochDigits(epochMs)}`;
}

/** A lexical slice of one day prefix's keys: after `startAfter` (when set) and before `before` (when set). */
export interface KeyRange {
  dayPrefix: string;
  startAfter?: string;
  before?: string;
}

/**
 * The window [since, until) of one app cut into at most `parts` ranges of equal time (more
 * where a day boundary cuts one), each within one day prefix. Keys sort by time within a day
 * prefix, so each range is a key interval that a listing can start at (StartAfter) and stop
 * at, and the ranges of a big day can be listed at once instead of page after page.
 */
export function keyRanges(prefix: string | undefined, app: string, since: Instant, until: Instant, parts = 1): KeyRange[] {
  const start = toEpochMs(since);
  const end = toEpochMs(until);
  const p = normalizePrefix(prefix);
  const n = Math.max(1, Math.floor(parts));
  const cuts = new Set<number>();
  for (let i = 0; i <= n; i++) cuts.add(start + Math.round(((end - start) * i) / n));
  for (let day = startOfUtcDay(start) + DAY_MS; day < end; day += DAY_MS) cuts.add(day);
  const points = [...cuts].sort((a, b) => a - b);
  const ranges: KeyRange[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i]!, points[i + 1]!];
    if (to <= from) continue;
    const midnight = startOfUtcDay(from);
    const day = dayPath(p, app, from);
    ranges.push({
      dayPrefix: day,
      // A range that starts at midnight or ends at the next one takes the whole day's edge,
      // keys outside the layout included (the reader counts them).
      ...(from > midnight ? { startAfter: keyStartAt(day, from) } : {}),
      ...(to < midnight + DAY_MS ? { before: keyStartAt(day, to) } : {}),
    });
  }
  return ranges;
}

/** The parts of a key of this layout, or undefined for any other key (checked strictly). */
export function parseObjectKey(key: string, prefix?: string): ParsedObjectKey | undefined {
  const p = normalizePrefix(prefix);
  if (!key.startsWith(p)) return undefined;
  const parts = key.slice(p.length).split('/');
  if (parts.length !== 5) return undefined;
  const [app, yyyy, mm, dd, file] = parts as [string, string, string, string, string];
  if (!isAppName(app) || !file.endsWith('.gz')) return undefined;
  const dash = file.indexOf('-');
  if (dash !== EPOCH_DIGITS) return undefined;
  const digits = file.slice(0, EPOCH_DIGITS);
  // The id holds no `.`, so whatever follows a `.` before `.gz` is a flag.
  const [id, ...flags] = file.slice(EPOCH_DIGITS + 1, -3).split('.') as [string, ...string[]];
  if (!/^\d{13}$/.test(digits) || !isObjectId(id) || !flags.every(isKeyFlag)) return undefined;
  const epochMs = Number(digits);
  // The day folders must be the key's own day: anything else was not written by this layout.
  const date = `${yyyy}-${mm}-${dd}`;
  if (dayOf(date) !== startOfUtcDay(epochMs)) return undefined;
  return { app, epochMs, id, date, flags };
}

/** The keys of one listing share their day: remember the last one parsed (this runs for every listed key). */
let lastDay: { date: string; ms: number | undefined } | undefined;
function dayOf(date: string): number | undefined {
  if (lastDay?.date !== date) lastDay = { date, ms: tryParseDay(date) };
  return lastDay.ms;
}

/** `<prefix><app>/`: every object of one app. */
export function appPrefix(prefix: string | undefined, app: string): string {
  return `${normalizePrefix(prefix)}${app}/`;
}

/** `<prefix><app>/YYYY/MM/DD/`: the objects of one app and UTC day (any instant of the day: `YYYY-MM-DD`, a Date, epoch ms). */
export function dayPrefix(prefix: string | undefined, app: string, day: Instant): string {
  return dayPath(normalizePrefix(prefix), app, toEpochMs(day));
}

/** The UTC days (`YYYY-MM-DD`) that the window [since, until) touches, oldest first. */
export function daysBetween(since: Instant, until: Instant): string[] {
  const start = toEpochMs(since);
  const end = toEpochMs(until);
  const days: string[] = [];
  for (let day = startOfUtcDay(start); day < end; day += DAY_MS) days.push(utcDate(day));
  return days;
}

/** The day prefixes of one app covering the window [since, until), oldest first. */
export function dayPrefixesBetween(prefix: string | undefined, app: string, since: Instant, until: Instant): string[] {
  const p = normalizePrefix(prefix);
  return daysBetween(since, until).map((d) => dayPath(p, app, parseDay(d)));
}

function epochDigits(epochMs: number): string {
  return String(epochMs).padStart(EPOCH_DIGITS, '0');
}

function dayPath(prefix: string, app: string, epochMs: number): string {
  const d = utcDate(epochMs);
  return `${prefix}${app}/${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/`;
}

/**
 * Midnight UTC of a `YYYY-MM-DD` date, or undefined when it is not one or the day does not
 * exist (2025-02-30: Date.UTC would roll it over into March).
 */
export function tryParseDay(date: string): number | undefined {
  const m = DATE_PATTERN.exec(date);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return !Number.isNaN(ms) && utcDate(ms) === date ? ms : undefined;
}

/** Midnight UTC of a `YYYY-MM-DD` date that exists. */
function parseDay(date: string): number {
  const ms = tryParseDay(date);
  if (ms === undefined) throw new RangeError(`not a date (YYYY-MM-DD, UTC): ${JSON.stringify(date)}`);
  return ms;
}

function toEpochMs(at: Instant): number {
  const ms = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : DATE_PATTERN.test(at) ? parseDay(at) : Date.parse(at);
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(at)}`);
  return ms;
}
