// What a received body becomes in S3: which app it belongs to, its key, and the metadata
// that flags anything odd about it. Pure: the handler does the I/O.
import { createHash } from 'node:crypto';
import { parse, timestampMs, type SyslogMessage } from '@raxx/log-format/logplex';
import { buildObjectKey, FRAME_TIME_FUTURE_MS, FRAME_TIME_PAST_MS, isAppName, isObjectId, LOGPLEX_RETRY_HORIZON_MS, MAX_EPOCH_MS, UNKNOWN_APP, type KeyFlag } from '@raxx/log-format/object-key';

export { FRAME_TIME_FUTURE_MS, FRAME_TIME_PAST_MS, LOGPLEX_RETRY_HORIZON_MS };

/**
 * APP-NAMEs that Logplex itself puts in frames: `app` (dyno output), `heroku` (router and
 * platform), `logplex` (its own notices). They are valid app-name strings but name a source,
 * not a Heroku app, so they never pick the app folder.
 */
export const LOGPLEX_SOURCES: ReadonlySet<string> = new Set(['app', 'heroku', 'logplex']);

/** How the app was decided (stored as `app-source`). */
export type AppSource = 'query' | 'frame' | 'none' | 'query-invalid' | 'query-reserved' | 'frame-ambiguous' | 'not-allowed';

/** App sources that mean the batch named an app the receiver refused to file it under. */
export const REFUSED_APP_SOURCES: ReadonlySet<AppSource> = new Set(['query-invalid', 'query-reserved', 'not-allowed']);

export interface AppChoice {
  app: string;
  source: AppSource;
  /** The app the batch named when ALLOWED_APPS refused it. */
  claimed?: string | undefined;
}

/** `ok`, or why the body is not a clean Logplex batch (stored as `parse-status`). */
export type ParseStatus = 'ok' | 'count-mismatch' | 'malformed';

export interface BatchRequest {
  body: Buffer;
  /** `?app=` of the drain URL. */
  queryApp?: string | undefined;
  frameId?: string | undefined;
  msgCount?: string | undefined;
  drainToken?: string | undefined;
  receivedAt: number;
  keyPrefix: string;
  allowedApps?: ReadonlySet<string> | undefined;
  randomId: () => string;
}

export interface Batch {
  key: string;
  app: string;
  appSource: AppSource;
  /** The Frame-Id as used in the key (when one was sent). */
  frameId?: string | undefined;
  msgCount?: number | undefined;
  parsedCount: number;
  parseStatus: ParseStatus;
  metadata: Record<string, string>;
  /** The flags in the key (see object-key.ts). */
  flags: KeyFlag[];
  /**
   * Other keys an earlier attempt of this Frame-Id may have been stored under (within
   * Logplex's retry horizon): the write looks for them before writing `key`.
   */
  earlierKeys: string[];
  /** Set when a frame time was too far from the time of receipt to file the batch by. */
  clockSkew?: { frameTime: number } | undefined;
}

/**
 * A batch with a Frame-Id that is keyed by its receipt time is keyed by the start of its
 * receipt's quarter hour instead, so that a retry can compute every key an earlier attempt
 * may have used: at most two quarters (the horizon is shorter than one), never more. A
 * quarter divides a day, so the key stays on the receipt day.
 */
export const RECEIPT_SLOT_MS = 15 * 60_000;
/** Message times before this are a dyno clock that was never set, not a log line's time. */
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2000, 0, 1);
const DRAIN_TOKEN_ID = /^d\.[0-9a-f-]{36}$/i;

/**
 * The app a batch is stored under: `?app=` when it is a valid app name, else the one
 * APP-NAME of its frames that is an app name and not a Logplex source (the runbook's
 * synthetic test sends its app there), else `unknown`.
 *
 * With ALLOWED_APPS set, another app's batch is stored under `unknown` with the name it
 * claimed, and answered 200. Not a 4xx: Logplex drops 4xx batches for good, so a stale
 * allow-list would silently lose logs; nor a discard: the token holder is trusted to post,
 * ALLOWED_APPS only keeps stray names out of the bucket's app folders, where `logs status`
 * lists them. An operator finds them under `unknown/` with `claimed-app` in the metadata.
 */
export function resolveApp(queryApp: string | undefined, messages: readonly SyslogMessage[], allowed?: ReadonlySet<string>): AppChoice {
  let choice: AppChoice;
  if (queryApp !== undefined && queryApp !== '') {
    // `unknown` is the catch-all folder, not an app: a drain URL naming it is a mistake, and
    // its batches are kept there flagged (not refused: Logplex would drop them for good).
    choice = queryApp === UNKNOWN_APP ? { app: UNKNOWN_APP, source: 'query-reserved' } : isAppName(queryApp) ? { app: queryApp, source: 'query' } : { app: UNKNOWN_APP, source: 'query-invalid' };
  } else {
    let found: string | undefined;
    let ambiguous = false;
    for (const m of messages) {
      const name = m.appName;
      if (name === found || LOGPLEX_SOURCES.has(name) || name === UNKNOWN_APP || !isAppName(name)) continue;
      if (found !== undefined) {
        ambiguous = true;
        break;
      }
      found = name;
    }
    choice = ambiguous ? { app: UNKNOWN_APP, source: 'frame-ambiguous' } : found ? { app: found, source: 'frame' } : { app: UNKNOWN_APP, source: 'none' };
  }
  if (allowed && choice.app !== UNKNOWN_APP && !allowed.has(choice.app)) {
    return { app: UNKNOWN_APP, source: 'not-allowed', claimed: choice.app };
  }
  return choice;
}

/** Logplex-Msg-Count as a number; undefined when absent or not a count. */
export function parseMsgCount(header: string | undefined): number | undefined {
  const v = header?.trim();
  return v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined;
}

/** Logplex's own notices (`Error L10 (output buffer overflow)` …): app `heroku`, proc `logplex`. */
export function isLogplexNotice(m: SyslogMessage): boolean {
  return m.appName === 'heroku' && m.procid === 'logplex';
}

/**
 * The batch's own time: the first readable time of a message that is not one of Logplex's
 * notices. Logplex may put an L10 notice in front of a retried batch, so the notices' times
 * are not the batch's, and skipping them keeps this the same on every attempt.
 */
export function batchTime(messages: readonly SyslogMessage[]): number | undefined {
  for (const m of messages) {
    if (isLogplexNotice(m)) continue;
    const ms = timestampMs(m.timestamp);
    if (ms !== undefined && ms >= EARLIEST_PLAUSIBLE_MS && ms <= MAX_EPOCH_MS) return ms;
  }
  return undefined;
}

interface KeyTime {
  epochMs: number;
  source: 'message' | 'receipt';
  skew: boolean;
}

/** Where a Frame-Id batch of time `t` received at `receivedAt` is filed (see describeBatch). */
export function keyTime(t: number | undefined, receivedAt: number): KeyTime {
  if (t !== undefined && t >= receivedAt - FRAME_TIME_PAST_MS && t <= receivedAt + FRAME_TIME_FUTURE_MS) return { epochMs: t, source: 'message', skew: false };
  return { epochMs: Math.floor(receivedAt / RECEIPT_SLOT_MS) * RECEIPT_SLOT_MS, source: 'receipt', skew: t !== undefined };
}

/**
 * Every key time an attempt received in [receivedAt − horizon, receivedAt] would have chosen
 * for a batch of time `t`. keyTime() changes with the receipt time only where the window's
 * edges or a slot boundary are crossed, so its values at those points and at the interval's
 * ends are all it takes.
 */
export function earlierKeyTimes(t: number | undefined, receivedAt: number, horizon = LOGPLEX_RETRY_HORIZON_MS): KeyTime[] {
  const from = receivedAt - horizon;
  const points = [from, receivedAt];
  if (t !== undefined) points.push(t - FRAME_TIME_FUTURE_MS - 1, t - FRAME_TIME_FUTURE_MS, t + FRAME_TIME_PAST_MS, t + FRAME_TIME_PAST_MS + 1);
  for (let slot = Math.floor(receivedAt / RECEIPT_SLOT_MS) * RECEIPT_SLOT_MS; slot > from; slot -= RECEIPT_SLOT_MS) points.push(slot, slot - 1);
  const seen = new Map<string, KeyTime>();
  for (const p of points) {
    if (p < from || p > receivedAt) continue;
    const k = keyTime(t, p);
    seen.set(`${k.epochMs}/${k.skew}`, k);
  }
  return [...seen.values()];
}

/**
 * What a received body becomes.
 *
 * The key of a batch with a Logplex-Frame-Id is its dedup identity: the write is conditional
 * (If-None-Match), so a retry must find the key of the first attempt. Between attempts
 * Logplex may put an L10 notice in front and the receipt time moves on (possibly past a UTC
 * midnight); the rest of the body and the Frame-Id stay. So:
 * - the key's time is the batch's own time (batchTime: notices skipped) when it lies within
 *   the window around the receipt time; then it does not depend on the attempt at all;
 * - otherwise (clock skew, or no readable time) it is the start of the receipt's quarter
 *   hour, flagged `clock-skew` when a frame time was seen;
 * - near the window's edges or a quarter's boundary a retry's choice can differ from the
 *   first attempt's, so earlierKeys lists every key an attempt within Logplex's retry horizon
 *   may have used, and the write looks for those (HeadObject) before writing its own.
 * The key's flags come from the body minus Logplex's notices, so they too are the same on
 * every attempt. Batches without a Frame-Id keep a random id and their exact receipt time.
 */
export function describeBatch(req: BatchRequest): Batch {
  const parsed = parse(req.body);
  const { messages } = parsed;
  const choice = resolveApp(req.queryApp, messages, req.allowedApps);
  const msgCount = parseMsgCount(req.msgCount);
  const notices = messages.filter(isLogplexNotice).length;

  // A Frame-Id unfit for a key is hashed, which keeps it stable across attempts.
  const frameId = req.frameId?.trim() || undefined;
  const frameIdFits = frameId !== undefined && isObjectId(frameId);
  const id = frameId === undefined ? req.randomId() : frameIdFits ? frameId : createHash('sha256').update(frameId).digest('hex').slice(0, 32);

  const parseStatus: ParseStatus =
    parsed.errors.length > 0 || parsed.bytesUnparsed > 0 || messages.length === 0
      ? 'malformed'
      : // Logplex's count may or may not include the notices it added: either is a match.
        msgCount !== undefined && msgCount !== messages.length && msgCount !== messages.length - notices
        ? 'count-mismatch'
        : 'ok';
  const parseFlags: KeyFlag[] = parseStatus === 'ok' ? [] : [parseStatus];

  const t = frameId === undefined ? undefined : batchTime(messages);
  const chosen: KeyTime = frameId === undefined ? { epochMs: req.receivedAt, source: 'receipt', skew: false } : keyTime(t, req.receivedAt);
  const keyOf = (k: KeyTime) =>
    buildObjectKey({ prefix: req.keyPrefix, app: choice.app, epochMs: k.epochMs, id, flags: k.skew ? ['clock-skew', ...parseFlags] : parseFlags });
  const key = keyOf(chosen);
  const earlierKeys = frameId === undefined ? [] : [...new Set(earlierKeyTimes(t, req.receivedAt).map(keyOf))].filter((k) => k !== key);

  // S3 user metadata: ASCII only, 2 KB in all. Every value here is generated or validated.
  const metadata: Record<string, string> = {
    'parse-status': parseStatus,
    'parsed-count': String(messages.length),
    'app-source': choice.source,
    'time-source': chosen.source,
    'received-at': new Date(req.receivedAt).toISOString(),
  };
  if (chosen.skew && t !== undefined) {
    metadata['clock-skew'] = 'true';
    metadata['frame-time'] = new Date(t).toISOString();
  }
  if (msgCount !== undefined) metadata['msg-count'] = String(msgCount);
  if (notices > 0) metadata['logplex-notices'] = String(notices);
  if (frameId !== undefined) metadata['frame-id'] = frameIdFits ? frameId : `sha256:${id}`;
  if (choice.claimed) metadata['claimed-app'] = choice.claimed;
  if (parsed.errors.length > 0) {
    const first = parsed.errors[0]!;
    metadata['parse-errors'] = String(parsed.errors.length);
    metadata['first-parse-error'] = `at byte ${first.offset}: ${first.reason}`.slice(0, 200);
  }
  if (parsed.bytesUnparsed > 0) metadata['bytes-unparsed'] = String(parsed.bytesUnparsed);
  // Logplex's drain id (`d.<uuid>`, shown by `heroku drains`), not a credential: it lets an
  // operator map a batch stored under `unknown` back to its app.
  if (req.drainToken && DRAIN_TOKEN_ID.test(req.drainToken)) metadata['logplex-drain-token'] = req.drainToken;

  return {
    key,
    app: choice.app,
    appSource: choice.source,
    frameId: frameId === undefined ? undefined : id,
    msgCount,
    parsedCount: messages.length,
    parseStatus,
    metadata,
    flags: chosen.skew ? ['clock-skew', ...parseFlags] : parseFlags,
    earlierKeys,
    clockSkew: chosen.skew && t !== undefined ? { frameTime: t } : undefined,
  };
}
