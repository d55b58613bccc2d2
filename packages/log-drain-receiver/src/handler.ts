// The Lambda: a Heroku Logplex HTTPS drain batch in (Function URL, payload 2.0), one gzip
// object in S3 out. Status codes are chosen for Logplex, which drops a batch answered 4xx
// (except 429) and retries 5xx and timeouts with the same Frame-Id:
//   403      wrong or missing token: the only 4xx a drain can cause;
//   200      stored, or already stored by an earlier attempt (412 on the conditional write),
//            including malformed bodies, count mismatches, clock skew and refused app names,
//            flagged in the key and the object metadata;
//   204      empty body: nothing to keep;
//   500      S3 failed, or the receiver is misconfigured: Logplex retries;
//   405/400  not a POST / not a Function URL event: never sent by Logplex;
//   413      over the Function URL's 6 MB payload: answered by the URL (or serve.ts), not here.
// Every answer but a plain store is logged with a phrase of log-phrases.ts and its reason.
import { randomUUID } from 'node:crypto';
import { authenticate } from './auth.js';
import { describeBatch, parseMsgCount, REFUSED_APP_SOURCES, type Batch } from './batch.js';
import { configFromEnv, ReceiverConfigError, type DrainTokens, type ReceiverConfig } from './config.js';
import { bodyBytes, header, parseEvent, queryParam, type FunctionUrlResult } from './event.js';
import { consoleSink, writeLog, type LogSink, type Outcome, type RequestLog } from './log.js';
import { DRAIN_APP_REFUSED, DRAIN_AUTH_FAILED, DRAIN_CLOCK_SKEW, DRAIN_DEDUP_UNCHECKED, DRAIN_MISCONFIGURED, DRAIN_REJECTED, DRAIN_WRITE_FAILED } from '@raxx/log-format/log-phrases';
import { keyPrefixProblem, normalizePrefix } from '@raxx/log-format/object-key';
import { createS3Client, errorCode, storeBatch, type S3Like } from './store.js';

export type { DrainTokens, ReceiverConfig } from './config.js';
export { configFromEnv, ReceiverConfigError } from './config.js';
export type { FunctionUrlEvent, FunctionUrlResult } from './event.js';
export type { LogSink, RequestLog } from './log.js';
export type { S3Like } from './store.js';
export { createS3Client } from './store.js';

export interface HandlerDeps {
  s3: S3Like;
  bucket: string;
  /** Read on every request, so a caller can rotate tokens while running. */
  tokens: () => DrainTokens;
  keyPrefix?: string | undefined;
  allowedApps?: Iterable<string> | undefined;
  /** Receipt time, epoch ms. */
  now?: () => number;
  /** Object id when a batch has no Frame-Id. */
  randomId?: () => string;
  log?: LogSink;
  /** How long a batch's gzip and S3 write may take before it is answered 500; default 4.5 s, under Logplex's 5 s. */
  writeTimeoutMs?: number;
}

export interface LambdaContext {
  awsRequestId?: string;
}

export type DrainHandler = (event: unknown, context?: LambdaContext) => Promise<FunctionUrlResult>;

const reply = (statusCode: number, body: string, headers: Record<string, string> = {}): FunctionUrlResult => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body: `${body}\n`,
});

export function createHandler(deps: HandlerDeps): DrainHandler {
  const prefixProblem = deps.keyPrefix === undefined ? undefined : keyPrefixProblem(deps.keyPrefix);
  if (prefixProblem) throw new RangeError(`key prefix ${prefixProblem}`);
  const keyPrefix = normalizePrefix(deps.keyPrefix);
  const allowedApps = deps.allowedApps ? new Set(deps.allowedApps) : undefined;
  const now = deps.now ?? Date.now;
  const randomId = deps.randomId ?? randomUUID;
  const sink = deps.log ?? consoleSink;
  const writeTimeoutMs = deps.writeTimeoutMs ?? 4_500;

  return async function handle(raw, context) {
    const started = performance.now();
    let requestId = context?.awsRequestId;
    const done = (result: FunctionUrlResult, outcome: Outcome, msg: string, fields: Partial<RequestLog> = {}): FunctionUrlResult => {
      const level = result.statusCode >= 500 ? 'error' : result.statusCode >= 400 ? 'warn' : 'info';
      writeLog(sink, { msg, outcome, status: result.statusCode, requestId, ...fields, level: fields.level ?? level, ms: Math.round((performance.now() - started) * 10) / 10 });
      return result;
    };

    const event = parseEvent(raw);
    if (!event) return done(reply(400, 'not a Function URL request'), 'bad-event', `${DRAIN_REJECTED}: not a Function URL (payload 2.0) event`);
    requestId ??= event.requestContext.requestId;
    const method = event.requestContext.http.method.toUpperCase();
    if (method !== 'POST') return done(reply(405, 'method not allowed', { allow: 'POST' }), 'method-not-allowed', `${DRAIN_REJECTED}: method ${method.replace(/[^A-Z]/g, '').slice(0, 16)} (only POST)`);

    const tokens = deps.tokens();
    if (!tokens.current) return done(reply(500, 'receiver misconfigured'), 'misconfigured', `${DRAIN_MISCONFIGURED}: DRAIN_TOKEN is empty`);
    const auth = authenticate(event, tokens);
    if (!auth.ok) return done(reply(403, 'forbidden'), 'auth-failed', `${DRAIN_AUTH_FAILED}: token_present=${auth.tokenPresent}`);

    const body = bodyBytes(event);
    if (body.length === 0) return done({ statusCode: 204 }, 'empty', 'drain batch empty: nothing stored', { bytes: 0, msgCount: parseMsgCount(header(event, 'logplex-msg-count')) });

    let fields: Partial<RequestLog> = { bytes: body.length };
    try {
      const batch = describeBatch({
        body,
        queryApp: queryParam(event, 'app'),
        frameId: header(event, 'logplex-frame-id'),
        msgCount: header(event, 'logplex-msg-count'),
        drainToken: header(event, 'logplex-drain-token'),
        receivedAt: now(),
        keyPrefix,
        allowedApps,
        randomId,
      });
      fields = logFields(batch, body.length);
      const result = await storeBatch(deps.s3, { bucket: deps.bucket, key: batch.key, earlierKeys: batch.earlierKeys, body, metadata: batch.metadata, timeoutMs: writeTimeoutMs });
      fields.key = result.key;
      const stored = result.outcome === 'stored';
      const notes = batchNotes(batch, result.unchecked);
      const msg = notes.length > 0 ? notes.join('; ') : stored ? 'drain batch stored' : 'drain batch already stored';
      return done(stored ? reply(200, 'stored') : reply(200, 'already stored'), result.outcome, msg, { ...fields, ...(notes.length > 0 ? { level: 'warn' as const } : {}) });
    } catch (err) {
      // Anything that kept the batch out of S3 is a 500, so Logplex sends it again.
      return done(reply(500, 'write failed'), 'write-failed', `${DRAIN_WRITE_FAILED}: ${errorCode(err)}`, fields);
    }
  };
}

function logFields(batch: Batch, bytes: number): Partial<RequestLog> {
  return {
    app: batch.app,
    key: batch.key,
    bytes,
    messages: batch.parsedCount,
    msgCount: batch.msgCount,
    parseStatus: batch.parseStatus,
    frameId: batch.frameId,
    ...(batch.flags.length > 0 ? { flags: batch.flags } : {}),
    ...(batch.appSource === 'query' ? {} : { appSource: batch.appSource }),
  };
}

/** Why a stored batch deserves a look: the phrases of log-phrases.ts with their reasons. */
function batchNotes(batch: Batch, unchecked: string | undefined): string[] {
  const notes: string[] = [];
  if (batch.clockSkew) {
    const received = batch.metadata['received-at']!;
    const minutes = Math.round((batch.clockSkew.frameTime - Date.parse(received)) / 60_000);
    notes.push(`${DRAIN_CLOCK_SKEW}: frame time ${new Date(batch.clockSkew.frameTime).toISOString()} is ${minutes} min from receipt (${received}); filed on the receipt day`);
  }
  if (REFUSED_APP_SOURCES.has(batch.appSource)) notes.push(`${DRAIN_APP_REFUSED}: ${batch.appSource}, stored under ${batch.app}`);
  if (unchecked) notes.push(`${DRAIN_DEDUP_UNCHECKED}: ${unchecked} on HeadObject, an earlier attempt may be stored too`);
  return notes;
}

/** A handler serving a parsed configuration (see configFromEnv). */
export function handlerFromConfig(config: ReceiverConfig, deps: Pick<HandlerDeps, 's3'> & Partial<HandlerDeps>): DrainHandler {
  return createHandler({
    bucket: config.bucket,
    tokens: () => config.tokens,
    keyPrefix: config.keyPrefix,
    allowedApps: config.allowedApps,
    ...deps,
  });
}

/**
 * What a misconfigured receiver serves: 500 to every request, so Logplex retries while
 * someone fixes it, logging which variable is wrong (never its value).
 */
export function misconfiguredHandler(problems: readonly string[], log: LogSink = consoleSink): DrainHandler {
  const msg = `${DRAIN_MISCONFIGURED}: ${problems.join('; ')}`;
  return (raw, context) => {
    const requestId = context?.awsRequestId ?? parseEvent(raw)?.requestContext.requestId;
    writeLog(log, { level: 'error', msg, outcome: 'misconfigured', status: 500, requestId });
    return Promise.resolve(reply(500, 'receiver misconfigured'));
  };
}

/**
 * A handler built from an environment (BUCKET_NAME, DRAIN_TOKEN, DRAIN_TOKEN_PREVIOUS,
 * KEY_PREFIX, ALLOWED_APPS). A broken configuration answers 500 (misconfiguredHandler).
 */
export function handlerFromEnv(env: Record<string, string | undefined>, overrides: Partial<HandlerDeps> = {}): DrainHandler {
  let config: ReceiverConfig;
  try {
    config = configFromEnv(env);
  } catch (err) {
    if (!(err instanceof ReceiverConfigError)) throw err;
    return misconfiguredHandler(err.problems, overrides.log);
  }
  return handlerFromConfig(config, { ...overrides, s3: overrides.s3 ?? createS3Client(env) });
}

// The Lambda entry point (`index.handler`): configuration and the S3 client are made on the
// first invocation and kept for the life of the execution environment.
let fromEnv: DrainHandler | undefined;
export const handler: DrainHandler = (event, context) => {
  fromEnv ??= handlerFromEnv(process.env);
  return fromEnv(event, context);
};
