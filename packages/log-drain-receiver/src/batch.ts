// What a received body becomes in S3: which app it belongs to, its key, and the metadata
// that flags anything odd about it. Pure: the handler does the I/O.
import { createHash } from 'node:crypto';
import { parse, timestampMs, type SyslogMessage } from './logplex.js';
import { buildObjectKey, isAppName, isObjectId, MAX_EPOCH_MS, UNKNOWN_APP } from './object-key.js';

/**
 * APP-NAMEs that Logplex itself puts in frames: `app` (dyno output), `heroku` (router and
 * platform), `logplex` (its own notices). They are valid app-name strings but name a source,
 * not a Heroku app, so they never pick the app folder.
 */
export const LOGPLEX_SOURCES: ReadonlySet<string> = new Set(['app', 'heroku', 'logplex']);

/** How the app was decided (stored as `app-source`). */
export type AppSource = 'query' | 'frame' | 'none' | 'query-invalid' | 'frame-ambiguous' | 'not-allowed';

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
  /** The Frame-Id as used in the key (when one was sent). */
  frameId?: string | undefined;
  msgCount?: number | undefined;
  parsedCount: number;
  parseStatus: ParseStatus;
  metadata: Record<string, string>;
}

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
    choice = isAppName(queryApp) ? { app: queryApp, source: 'query' } : { app: UNKNOWN_APP, source: 'query-invalid' };
  } else {
    let found: string | undefined;
    let ambiguous = false;
    for (const m of messages) {
      const name = m.appName;
      if (name === found || LOGPLEX_SOURCES.has(name) || !isAppName(name)) continue;
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

/** The first message time that can be a key's time; undefined when none can. */
export function firstMessageTime(messages: readonly SyslogMessage[]): number | undefined {
  for (const m of messages) {
    const ms = timestampMs(m.timestamp);
    if (ms !== undefined && ms >= EARLIEST_PLAUSIBLE_MS && ms <= MAX_EPOCH_MS) return ms;
  }
  return undefined;
}

export function describeBatch(req: BatchRequest): Batch {
  const parsed = parse(req.body);
  const { messages } = parsed;
  const choice = resolveApp(req.queryApp, messages, req.allowedApps);
  const msgCount = parseMsgCount(req.msgCount);

  // With a Frame-Id the key depends only on the request, so Logplex's retry finds the same
  // key and the conditional write stores it once. A Frame-Id unfit for a key is hashed, which
  // keeps that property. (Only a body with no readable timestamp at all falls back to the
  // time of receipt, so its retries may land twice, each copy carrying the same frame-id.)
  const frameId = req.frameId?.trim() || undefined;
  const frameIdFits = frameId !== undefined && isObjectId(frameId);
  const id = frameId === undefined ? req.randomId() : frameIdFits ? frameId : createHash('sha256').update(frameId).digest('hex').slice(0, 32);
  const messageTime = frameId === undefined ? undefined : firstMessageTime(messages);
  const epochMs = messageTime ?? req.receivedAt;

  const parseStatus: ParseStatus =
    parsed.errors.length > 0 || parsed.bytesUnparsed > 0 || messages.length === 0 ? 'malformed' : msgCount !== undefined && msgCount !== messages.length ? 'count-mismatch' : 'ok';

  // S3 user metadata: ASCII only, 2 KB in all. Every value here is generated or validated.
  const metadata: Record<string, string> = {
    'parse-status': parseStatus,
    'parsed-count': String(messages.length),
    'app-source': choice.source,
    'time-source': messageTime === undefined ? 'receipt' : 'message',
    'received-at': new Date(req.receivedAt).toISOString(),
  };
  if (msgCount !== undefined) metadata['msg-count'] = String(msgCount);
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
    key: buildObjectKey({ prefix: req.keyPrefix, app: choice.app, epochMs, id }),
    app: choice.app,
    frameId: frameId === undefined ? undefined : id,
    msgCount,
    parsedCount: messages.length,
    parseStatus,
    metadata,
  };
}
