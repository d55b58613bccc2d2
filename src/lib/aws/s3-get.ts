// Lean GetObject and ListObjectsV2 for reading many small drain objects. The SDK's send()
// spends its CPU per request in middleware (endpoint rules, schema serde, checksums): measured
// by bench/floor.mjs at 2,000 objects through the 40 ms S3 model (bench/RESULTS.md), the
// same list + GET of every object at 256 took 9.31 s with the SDK's GetObject and 4.21 s
// with lean GETs, and a 10,000-object day is CPU-bound on it. This signs SigV4 itself
// (signerFor, checked against the SDK's signer) and sends on kept-alive sockets of its own
// (s3-socket.ts: node:http's request machinery alone cost more CPU per GET than the rest of a
// search). The credentials, region and endpoint are the S3 client's; the timeouts are
// ctx.aws's (3 s to connect, 30 s of silence). Only the middleware is skipped, so the
// retries the SDK would make (5xx, throttling, a connection that fails before the response)
// are made here. Anything it does not model (FIPS, dual-stack, accelerate, other
// partitions) makes getObjectFast() return undefined and the caller uses the SDK.
import { createHash, createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { WirePool, type WireRequest } from './s3-socket.js';
import { CONNECTION_ERRORS, type AwsIdentity, type S3Target } from './clients.js';
import { backoff, type Backoff } from '../core/sleep.js';

export interface FastGetResponse {
  /** A small body whole, or a large one as a stream. */
  body: Readable | Buffer;
  /** The response's headers, names in lower case (ETag, Content-Length, x-amz-meta-…). */
  headers: Record<string, string>;
}

/** Shaped like an SDK service error, so awsError() and the callers treat both alike. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode: number };
  /** The bucket's region, when S3 said where it is (a 301, or a 400 AuthorizationHeaderMalformed). */
  readonly bucketRegion: string | undefined;
  /** How far the local clock is from S3's (ms, S3 minus local), when S3 refused it as skewed. */
  readonly clockOffsetMs: number | undefined;
  constructor(name: string, message: string, status: number, extra: { bucketRegion?: string | undefined; clockOffsetMs?: number | undefined } = {}) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
    this.bucketRegion = extra.bucketRegion;
    this.clockOffsetMs = extra.clockOffsetMs;
  }
}


/** One signed GET as it goes on the wire. */
export type LeanRequest = WireRequest;

/** Sends a request; resolves with the status and the body: whole when small, else a stream to read or destroy. */
export type Transport = (req: LeanRequest, signal: AbortSignal) => Promise<{ statusCode: number; headers?: Record<string, string>; bytes?: Buffer; body?: Readable }>;


// What the SDK's retry strategy counts as transient (@smithy's service-error-classification),
// for the same number of attempts as the client (ctx.aws sets maxAttempts 3).
const ATTEMPTS = 3;
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
/** S3 error codes retried whatever the status. */
const RETRYABLE_CODES = new Set(['SlowDown', 'RequestTimeout']);

/** Throttling answers: retried more times than other failures, and reported to the caller. */
const THROTTLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'RequestLimitExceeded']);
/** Attempts for a throttled request: the caller slows down meanwhile (onThrottle), so it gets through. */
const THROTTLE_ATTEMPTS = 8;

export type ObjectGetter = (key: string, signal: AbortSignal) => Promise<FastGetResponse>;

export interface ListPage {
  /** `modified`: LastModified in epoch ms (when the object was written). */
  objects: { key: string; size: number; modified?: number; etag?: string }[];
  /** Set when the listing goes on: pass it back as `token`. */
  nextToken?: string;
}

export type ObjectLister = (params: { prefix: string; startAfter?: string | undefined; token?: string | undefined }, signal: AbortSignal) => Promise<ListPage>;

export interface LeanOptions {
  /** Called on each throttling answer (503 SlowDown, 429) before its retry: the caller should slow down. */
  onThrottle?: () => void;
  /** How requests are sent (tests); default: node:http(s) on a keep-alive pool of LEAN_SOCKETS. */
  transport?: Transport;
}

/** Sockets of the default transport: the most GETs a scan runs at once, plus its listings. */
export const LEAN_SOCKETS = 512 + 16;
/** ctx.aws's timeouts: to a connected socket, and silence on it (no answer, or a body that stalls). */
const CONNECT_TIMEOUT_MS = 3_000;
const IDLE_TIMEOUT_MS = 30_000;
/** Bodies up to this size are handed over whole and gunzipped in one call (drain batches are ~100 KB of gzip at most); larger ones are streamed. */
export const INLINE_BYTES = 1024 * 1024;

/** GETs on kept-alive sockets (s3-socket.ts), one pool per transport. */
export function socketTransport({ connectTimeoutMs = CONNECT_TIMEOUT_MS, idleTimeoutMs = IDLE_TIMEOUT_MS, maxSockets = LEAN_SOCKETS } = {}): Transport {
  const pool = new WirePool({ maxSockets, connectTimeoutMs, idleTimeoutMs, inlineBytes: INLINE_BYTES });
  return (req, signal) => pool.request(req, signal);
}

type Send = (path: string, query: Record<string, string>, signal: AbortSignal) => Promise<FastGetResponse>;

/** A getter for one bucket, or undefined when the client is configured beyond what it models. */
export function getObjectFast(target: S3Target, bucket: string, opts: LeanOptions = {}): ObjectGetter | undefined {
  const send = lean(target, bucket, opts);
  if (!send) return undefined;
  return (key, signal) => send(`/${SAFE_KEY.test(key) ? key : key.split('/').map(encodeSegment).join('/')}`, {}, signal);
}

/**
 * ListObjectsV2 for one bucket, or undefined as for getObjectFast. The SDK spends about
 * 150 ms of CPU deserialising each 1,000-key page (profiled: schema reads and its XML parser,
 * 310 of 3,800 ms of a 2,000-object grep); reading the few fields we use costs about 2 ms.
 */
export function listObjectsFast(target: S3Target, bucket: string, opts: LeanOptions = {}): ObjectLister | undefined {
  const send = lean(target, bucket, opts);
  if (!send) return undefined;
  return async ({ prefix, startAfter, token }, signal) => {
    const query: Record<string, string> = { 'list-type': '2', prefix };
    if (startAfter) query['start-after'] = startAfter;
    if (token) query['continuation-token'] = token;
    const xml = await readAll((await send('', query, signal)).body);
    return parseListing(xml);
  };
}

/** The fields of a ListObjectsV2 answer that the store uses. */
export function parseListing(xml: string): ListPage {
  const objects: ListPage['objects'] = [];
  for (let at = xml.indexOf('<Contents>'); at !== -1; at = xml.indexOf('<Contents>', at + 10)) {
    const end = xml.indexOf('</Contents>', at);
    if (end === -1) break;
    const entry = xml.slice(at, end);
    const key = field(entry, 'Key');
    const modified = Date.parse(field(entry, 'LastModified') ?? '');
    const etag = field(entry, 'ETag');
    if (key !== undefined) objects.push({ key: unescapeXml(key), size: Number(field(entry, 'Size') ?? 0), ...(Number.isNaN(modified) ? {} : { modified }), ...(etag ? { etag: unescapeXml(etag) } : {}) });
    at = end;
  }
  const truncated = field(xml, 'IsTruncated') === 'true';
  const next = field(xml, 'NextContinuationToken');
  return { objects, ...(truncated && next ? { nextToken: unescapeXml(next) } : {}) };
}

function field(xml: string, name: string): string | undefined {
  const open = xml.indexOf(`<${name}>`);
  if (open === -1) return undefined;
  const from = open + name.length + 2;
  const close = xml.indexOf(`</${name}>`, from);
  return close === -1 ? undefined : xml.slice(from, close);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ENTITIES[e]!,
  );
}

/** Signed GETs on the bucket, with the SDK's retries. */
function lean(target: S3Target, bucket: string, opts: LeanOptions): Send | undefined {
  const { region, endpoint } = target;
  let protocol: string;
  let hostname: string;
  let port: number | undefined;
  let basePath: string;
  if (endpoint) {
    // A custom endpoint (a local stand-in): path style, as ctx.aws sets forcePathStyle for it.
    protocol = endpoint.protocol;
    port = endpoint.port ? Number(endpoint.port) : undefined;
    hostname = endpoint.hostname.replace(/^\[|\]$/g, '');
    basePath = `${endpoint.pathname.replace(/\/+$/, '')}/${bucket}`;
  } else {
    if (!/^[a-z]{2}-[a-z]+-\d$/.test(region) || /^(cn|us-gov|us-iso)/.test(region)) return undefined;
    protocol = 'https:';
    if (bucket.includes('.')) {
      hostname = `s3.${region}.amazonaws.com`;
      basePath = `/${bucket}`;
    } else {
      hostname = `${bucket}.s3.${region}.amazonaws.com`;
      basePath = '';
    }
  }
  // An IPv6 literal is bracketed in the Host header (RFC 7230), signed as sent.
  const hostName = hostname.includes(':') ? `[${hostname}]` : hostname;
  const host = port && !((protocol === 'https:' && port === 443) || (protocol === 'http:' && port === 80)) ? `${hostName}:${port}` : hostName;
  const transport = opts.transport ?? sharedTransport();
  const clock = clockOf(target);
  const proxy = target.proxy && protocol === 'http:' ? { hostname: target.proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(target.proxy.port || 80) } : undefined;
  if (target.proxy && !proxy) return undefined;
  // A proxy's credentials (http://user:pass@proxy:3128) go in Proxy-Authorization, outside the signature.
  const proxyAuth = target.proxy?.username ? `Basic ${Buffer.from(`${decodeURIComponent(target.proxy.username)}:${decodeURIComponent(target.proxy.password)}`).toString('base64')}` : undefined;
  const sign = signerFor(target.credentials, region, host, clock);

  return async (rest, query, signal) => {
    const path = `${basePath}${rest}` || '/';
    const qs = canonicalQuery(query);
    const target = qs ? `${path}?${qs}` : path;
    let corrected = false;
    for (let attempt = 1; ; attempt++) {
      const sent = await sign(path, qs);
      if (proxyAuth) sent['proxy-authorization'] = proxyAuth;
      const signed: LeanRequest = { protocol, hostname, port, path: target, headers: sent, ...(proxy ? { proxy } : {}) };
      let response: Awaited<ReturnType<Transport>>;
      try {
        response = await transport(signed, signal);
      } catch (err) {
        const e = err as { code?: string; name?: string };
        if (attempt < ATTEMPTS && !signal.aborted && (CONNECTION_ERRORS.has(e.code ?? '') || CONNECTION_ERRORS.has(e.name ?? ''))) {
          await backoff(attempt, RETRY, signal);
          continue;
        }
        throw err;
      }
      // The headers as the transport gives them: s3-socket parses them only when they are read.
      if (response.statusCode === 200) return { body: response.bytes ?? response.body!, get headers() { return response.headers ?? {}; } };
      const headers = response.headers ?? {};
      const text = response.bytes ? response.bytes.toString('utf8') : await readSmall(response.body);
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${response.statusCode}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? code;
      if (SKEW_CODES.has(code)) {
        // The SDK's systemClockOffset: S3's Date says what time it is; sign with that and retry,
        // once per request (the offset is kept for every later one).
        const serverTime = Date.parse(headers.date ?? /<ServerTime>([^<]+)<\/ServerTime>/.exec(text)?.[1] ?? '');
        const offset = Number.isNaN(serverTime) ? undefined : serverTime - Date.now();
        if (offset !== undefined && !corrected && !signal.aborted) {
          clock.offsetMs = offset;
          corrected = true;
          attempt -= 1;
          continue;
        }
        throw new S3HttpError(code, message, response.statusCode, { clockOffsetMs: offset ?? clock.offsetMs });
      }
      if (response.statusCode === 301 || response.statusCode === 307 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
        const bucketRegion = headers['x-amz-bucket-region'] ?? /<Region>([^<]+)<\/Region>/.exec(text)?.[1];
        if (bucketRegion && bucketRegion !== region) {
          throw new S3HttpError(code, `the bucket ${bucket} is in ${bucketRegion}, not ${region}`, response.statusCode, { bucketRegion });
        }
      }
      const throttled = response.statusCode === 429 || THROTTLE_CODES.has(code);
      if (throttled) opts.onThrottle?.();
      if (attempt < (throttled ? THROTTLE_ATTEMPTS : ATTEMPTS) && !signal.aborted && (RETRYABLE_STATUS.has(response.statusCode) || RETRYABLE_CODES.has(code) || throttled)) {
        await backoff(attempt, RETRY, signal);
        continue;
      }
      throw new S3HttpError(code, message, response.statusCode);
    }
  };
}

/** S3's answers to a request signed with a clock too far from its own. */
const SKEW_CODES = new Set(['RequestTimeTooSkewed', 'RequestExpired']);

/** The correction to the local clock, S3's time minus ours: one per target, shared by its GETs and listings. */
const clocks = new WeakMap<S3Target, { offsetMs: number }>();
function clockOf(target: S3Target): { offsetMs: number } {
  let clock = clocks.get(target);
  if (!clock) clocks.set(target, (clock = { offsetMs: 0 }));
  return clock;
}

/** The SHA-256 of an empty body: every request here is a GET. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * SigV4 headers for a bodiless S3 GET, as the SDK's SignatureV4 (uriEscapePath false,
 * applyChecksum true) computes them; test/lib/log-store-s3-get.test.ts compares the two.
 * Written out because the SDK's signer cost 107 µs of CPU per GET (1.07 s of the 8.8 s a
 * 10,000-object grep spent, profiled): it re-derives a cache key with an HMAC and hashes
 * the empty body on every call. This one hashes twice per request, the signing key cached
 * per day and credentials: about 12 µs.
 */
function signerFor(credentials: () => Promise<AwsIdentity>, region: string, host: string, clock: { offsetMs: number } = { offsetMs: 0 }): (path: string, canonicalQuery: string) => Promise<Record<string, string>> {
  let cached: { day: string; accessKeyId: string; secretAccessKey: string; key: Buffer } | undefined;
  // The request time, formatted once per second.
  let second = 0;
  let amzDate = '';
  return async (path, canonicalQuery) => {
    const id = await credentials();
    const now = Math.floor((Date.now() + clock.offsetMs) / 1000);
    if (now !== second) {
      second = now;
      amzDate = new Date(now * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    }
    const day = amzDate.slice(0, 8);
    if (!cached || cached.day !== day || cached.accessKeyId !== id.accessKeyId || cached.secretAccessKey !== id.secretAccessKey) {
      const hmac = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d).digest();
      cached = { day, accessKeyId: id.accessKeyId, secretAccessKey: id.secretAccessKey, key: hmac(hmac(hmac(hmac(`AWS4${id.secretAccessKey}`, day), region), 's3'), 'aws4_request') };
    }
    const headers: Record<string, string> = { host, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': amzDate };
    if (id.sessionToken) headers['x-amz-security-token'] = id.sessionToken;
    const names = Object.keys(headers); // already in sorted order
    let canonical = `GET\n${path}\n${canonicalQuery}\n`;
    for (const n of names) canonical += `${n}:${headers[n]}\n`;
    canonical += `\n${names.join(';')}\n${EMPTY_SHA256}`;
    const scope = `${day}/${region}/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', cached.key).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${id.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    return headers;
  };
}

/** The query as SigV4 canonicalises it (sorted, RFC 3986), which is also a valid query string. */
function canonicalQuery(query: Record<string, string>): string {
  const params = Object.keys(query);
  return params.length === 0 ? '' : params.sort().map((k) => `${encodeSegment(k)}=${encodeSegment(query[k]!)}`).join('&');
}

let shared: Transport | undefined;
/** One pool for the process, as the S3 client has one. */
function sharedTransport(): Transport {
  return (shared ??= socketTransport());
}

/** Full jitter: many GETs retrying at once spread out. */
const RETRY: Backoff = { baseMs: 100, capMs: 5_000, jitter: 'full' };

async function readAll(body: Readable | Buffer): Promise<string> {
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A key that RFC 3986 encoding leaves as it is (drain keys are). */
const SAFE_KEY = /^[A-Za-z0-9._~/-]*$/;

/** RFC 3986 encoding of one key segment, as SigV4 canonicalises S3 paths. */
function encodeSegment(s: string): string {
  if (/^[A-Za-z0-9._~-]*$/.test(s)) return s;
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function readSmall(body: Readable | undefined): Promise<string> {
  if (!body) return '';
  let text = '';
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > 64 * 1024) break;
    }
  } finally {
    body.destroy();
  }
  return text;
}
