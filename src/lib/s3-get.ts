// Lean GetObject and ListObjectsV2 for reading many small drain objects. The SDK's send()
// spends its CPU per request in middleware (endpoint rules, schema serde, checksums): measured
// by bench/floor.mjs at 2,000 objects through the 40 ms S3 model (bench/RESULTS.md), the
// same list + GET of every object at 256 took 9.31 s with the SDK's GetObject and 4.21 s
// with lean GETs, and a 10,000-object day is CPU-bound on it. This signs SigV4 itself
// (signerFor, checked against the SDK's signer) and sends with bare node:http(s) on a
// keep-alive pool of its own: the SDK's NodeHttpHandler cost about 100 µs of CPU per GET
// (212 of 2,020 ms of a 2,000-object grep, profiled) for its per-request timers and abort
// wiring. The credentials, region and endpoint are the S3 client's; the timeouts are
// ctx.aws's (3 s to connect, 30 s to the response). Only the middleware is skipped, so the
// retries the SDK would make (5xx, throttling, a connection that fails before the response)
// are made here. Anything it does not model (FIPS, dual-stack, accelerate, other
// partitions) makes getObjectFast() return undefined and the caller uses the SDK.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash, createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONNECTION_ERRORS } from './aws.js';

export interface FastGetResponse {
  body: Readable;
}

/** Shaped like an SDK service error, so awsError() and the callers treat both alike. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode: number };
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

interface Identity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** One signed GET as it goes on the wire. */
export interface LeanRequest {
  protocol: string;
  hostname: string;
  port: number | undefined;
  /** Path and query, encoded as they were signed. */
  path: string;
  headers: Record<string, string>;
}

/** Sends a request; resolves with the status and the unread body. */
export type Transport = (req: LeanRequest, signal: AbortSignal) => Promise<{ statusCode: number; body: Readable }>;

interface ClientConfig {
  credentials?: () => Promise<Identity>;
  /** The hash constructor the client signs with (its presence says the client is a Node S3 client). */
  sha256?: unknown;
  region?: () => Promise<string>;
  endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
  forcePathStyle?: boolean;
  useFipsEndpoint?: () => Promise<boolean>;
  useDualstackEndpoint?: () => Promise<boolean>;
  useAccelerateEndpoint?: boolean;
}

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
  objects: { key: string; size: number }[];
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
/** ctx.aws's timeouts: to a connected socket, and from the request to its response headers. */
const CONNECT_TIMEOUT_MS = 3_000;
const RESPONSE_TIMEOUT_MS = 30_000;

/**
 * node:http(s) with keep-alive, one pool per protocol for the process. A connection that
 * does not connect in 3 s, or a socket idle for 30 s (no answer, or a body that stalls),
 * fails with ETIMEDOUT (retried like the SDK's TimeoutError).
 */
export function nodeTransport({ connectTimeoutMs = CONNECT_TIMEOUT_MS, responseTimeoutMs = RESPONSE_TIMEOUT_MS } = {}): Transport {
  let pools: { http: HttpAgent; https: HttpsAgent } | undefined;
  return (req, signal) =>
    new Promise((resolve, reject) => {
      pools ??= { http: new HttpAgent({ keepAlive: true, maxSockets: LEAN_SOCKETS }), https: new HttpsAgent({ keepAlive: true, maxSockets: LEAN_SOCKETS }) };
      const tls = req.protocol === 'https:';
      const send = tls ? httpsRequest : httpRequest;
      const r = send({ agent: tls ? pools.https : pools.http, hostname: req.hostname, port: req.port, path: req.path, method: 'GET', headers: req.headers, signal });
      const timeout = (what: string) => r.destroy(Object.assign(new Error(`${what} timed out`), { code: 'ETIMEDOUT' }));
      let connectTimer: NodeJS.Timeout | undefined;
      r.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => timeout('connecting to S3'), connectTimeoutMs);
        socket.once(tls ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      // Idle time on the socket, as the SDK's requestTimeout: waiting for the answer, or for
      // the next bytes of its body (a body that stalls fails and is read again).
      r.setTimeout(responseTimeoutMs, () => timeout('waiting for S3'));
      r.on('response', (res: IncomingMessage) => {
        clearTimeout(connectTimer);
        resolve({ statusCode: res.statusCode ?? 0, body: res });
      });
      r.on('error', (err) => {
        clearTimeout(connectTimer);
        reject(err);
      });
      r.end();
    });
}


type Send = (path: string, query: Record<string, string>, signal: AbortSignal) => Promise<Readable>;

/** A getter for one bucket, or undefined when the client is configured beyond what it models. */
export async function getObjectFast(s3: S3Client, bucket: string, opts: LeanOptions = {}): Promise<ObjectGetter | undefined> {
  const send = await lean(s3, bucket, opts);
  if (!send) return undefined;
  return async (key, signal) => ({ body: await send(`/${SAFE_KEY.test(key) ? key : key.split('/').map(encodeSegment).join('/')}`, {}, signal) });
}

/**
 * ListObjectsV2 for one bucket, or undefined as for getObjectFast. The SDK spends about
 * 150 ms of CPU deserialising each 1,000-key page (profiled: schema reads and its XML parser,
 * 310 of 3,800 ms of a 2,000-object grep); reading the few fields we use costs about 2 ms.
 */
export async function listObjectsFast(s3: S3Client, bucket: string, opts: LeanOptions = {}): Promise<ObjectLister | undefined> {
  const send = await lean(s3, bucket, opts);
  if (!send) return undefined;
  return async ({ prefix, startAfter, token }, signal) => {
    const query: Record<string, string> = { 'list-type': '2', prefix };
    if (startAfter) query['start-after'] = startAfter;
    if (token) query['continuation-token'] = token;
    const xml = await readAll(await send('', query, signal));
    return parseListing(xml);
  };
}

/** The fields of a ListObjectsV2 answer that the store uses. */
export function parseListing(xml: string): ListPage {
  const objects: { key: string; size: number }[] = [];
  for (let at = xml.indexOf('<Contents>'); at !== -1; at = xml.indexOf('<Contents>', at + 10)) {
    const end = xml.indexOf('</Contents>', at);
    if (end === -1) break;
    const entry = xml.slice(at, end);
    const key = field(entry, 'Key');
    if (key !== undefined) objects.push({ key: unescapeXml(key), size: Number(field(entry, 'Size') ?? 0) });
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
async function lean(s3: S3Client, bucket: string, opts: LeanOptions): Promise<Send | undefined> {
  const cfg = s3.config as unknown as ClientConfig;
  if (typeof cfg.credentials !== 'function' || typeof cfg.region !== 'function' || !cfg.sha256) return undefined;
  if (cfg.useAccelerateEndpoint || (await cfg.useFipsEndpoint?.()) || (await cfg.useDualstackEndpoint?.())) return undefined;
  const region = await cfg.region();
  const custom = cfg.endpoint ? await cfg.endpoint() : undefined;
  let protocol: string;
  let hostname: string;
  let port: number | undefined;
  let basePath: string;
  if (custom) {
    protocol = custom.protocol;
    port = custom.port;
    const path = custom.path.replace(/\/+$/, '');
    if (cfg.forcePathStyle || bucket.includes('.')) {
      hostname = custom.hostname;
      basePath = `${path}/${bucket}`;
    } else {
      hostname = `${bucket}.${custom.hostname}`;
      basePath = path;
    }
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
  const host = port && !((protocol === 'https:' && port === 443) || (protocol === 'http:' && port === 80)) ? `${hostname}:${port}` : hostname;
  const transport = opts.transport ?? sharedTransport();
  const sign = signerFor(cfg.credentials, region, host);

  return async (rest, query, signal) => {
    const path = `${basePath}${rest}` || '/';
    const qs = canonicalQuery(query);
    const target = qs ? `${path}?${qs}` : path;
    for (let attempt = 1; ; attempt++) {
      const signed: LeanRequest = { protocol, hostname, port, path: target, headers: await sign(path, qs) };
      let response: { statusCode: number; body: Readable };
      try {
        response = await transport(signed, signal);
      } catch (err) {
        const e = err as { code?: string; name?: string };
        if (attempt < ATTEMPTS && !signal.aborted && (CONNECTION_ERRORS.has(e.code ?? '') || CONNECTION_ERRORS.has(e.name ?? ''))) {
          await backoff(attempt, signal);
          continue;
        }
        throw err;
      }
      if (response.statusCode === 200) return response.body;
      const text = await readSmall(response.body);
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP${response.statusCode}`;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? code;
      const throttled = response.statusCode === 429 || THROTTLE_CODES.has(code);
      if (throttled) opts.onThrottle?.();
      if (attempt < (throttled ? THROTTLE_ATTEMPTS : ATTEMPTS) && !signal.aborted && (RETRYABLE_STATUS.has(response.statusCode) || RETRYABLE_CODES.has(code) || throttled)) {
        await backoff(attempt, signal);
        continue;
      }
      throw new S3HttpError(code, message, response.statusCode);
    }
  };
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
function signerFor(credentials: () => Promise<Identity>, region: string, host: string): (path: string, canonicalQuery: string) => Promise<Record<string, string>> {
  let cached: { day: string; accessKeyId: string; secretAccessKey: string; key: Buffer } | undefined;
  // The request time, formatted once per second.
  let second = 0;
  let amzDate = '';
  return async (path, canonicalQuery) => {
    const id = await credentials();
    const now = Math.floor(Date.now() / 1000);
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
  return (shared ??= nodeTransport());
}

/** Full-jitter exponential backoff that Ctrl-C cuts short (it rejects with an AbortError). */
function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return sleep(Math.min(5_000, 100 * 2 ** attempt) * Math.random(), undefined, { signal });
}

async function readAll(body: Readable): Promise<string> {
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
