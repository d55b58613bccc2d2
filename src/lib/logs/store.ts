// The drain bucket as the `logs` commands read it: list the objects of a time window (pruned
// by the <epoch_ms> in their keys, before any GET) and stream each object's lines through
// gunzip. The key layout belongs to the receiver package (object-key); this module only
// reads it.
//
// Small objects are round-trip bound, so throughput is concurrency over kept-alive sockets
// (docs/logs.md, "Speed and memory"); a GetObject body never consumed holds its socket, so
// every body is consumed or destroyed, on success, error, abort and early stop alike.
import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { verifiedGunzip } from '@raxx/log-format/gzip-members';
import { keyRanges, parseObjectKey } from '@raxx/log-format/object-key';
import { awsError, type S3Target } from '../aws/clients.js';
import { awsFailure } from '../aws/call.js';
import type { Context } from '../run/context.js';
import { InterruptedError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { getObjectFast, listObjectsFast, type ListPage, type ObjectGetter, type ObjectLister } from '../aws/s3-get.js';
import { DAY_MS, type TimeWindow } from '../core/time-window.js';

export interface LogObject {
  app: string;
  key: string;
  /** The object's time: the <epoch_ms> of its key (the batch's first message). */
  time: number;
  /** The batch id of its key. */
  id: string;
  size: number;
  /** The ETag the listing gave (a compacted day serves the object only when it is the one compacted). */
  etag?: string;
  /** What the receiver flagged in the key (clock-skew, malformed, count-mismatch); none on most. */
  flags?: string[];
  /** When S3 says it was written (LastModified, epoch ms), where the listing said. */
  modified?: number;
}

export interface StoreOptions {
  /** The SDK's client, created when first needed (the lean GET needs only `target`). */
  s3: () => Promise<S3Client>;
  /** Where S3 is and the credentials, for the lean GET; undefined or absent: the SDK for everything. */
  target?: () => Promise<S3Target | undefined>;
  bucket: string;
  keyPrefix: string;
  /** For messages: where S3 is ("http://127.0.0.1:5000", "the us-east-1 public endpoint"). */
  endpoint: string;
}

/** What reading one object gave. `problem` is set when it could not be read completely. */
export interface ScanResult<R> {
  value: R;
  lines: number;
  /** Compressed bytes read from S3. */
  bytes: number;
  problem?: string;
}

/** Receives an object's lines in order; returns false to stop reading early. */
export interface LineVisitor<R> {
  line(text: string): boolean | void;
  result(): R;
  /**
   * Set when the visitor selects no line without this text (grep's required literal): a body
   * in memory then hands it only the lines that hold it, found with indexOf over the bytes,
   * and the other lines are counted without being decoded. It may still see other lines.
   */
  literal?: string | undefined;
}

/**
 * A connection that broke while the body was being read. Failures before the response are
 * retried by the getter (the SDK's retry strategy, or s3-get's), not a second time here.
 */
const BROKEN_BODY = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'TimeoutError']);

interface Lean {
  get: ObjectGetter;
  list: ObjectLister;
}

/**
 * How many time ranges a window is listed in at once: one per 90 minutes, at most 16 (a whole
 * day). A day of 10,000 objects then lists in one round trip instead of ten one after another;
 * a short window stays one listing.
 */
export function listRanges(window: TimeWindow): number {
  return Math.min(16, Math.max(1, Math.ceil((window.end - window.start) / 5_400_000)));
}

/** Objects by time, then key: the order `logs` prints in. */
export function byTime(a: LogObject, b: LogObject): number {
  return a.time - b.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}


/**
 * Cuts text into lines for a visitor; remembers a partial last line between pushes. Every line
 * is handed over (a visitor's literal is used by splitBytes, for bodies in memory; a streamed
 * body is rare enough to be tested line by line).
 */
export class LineSplitter<R> {
  count = 0;
  stopped = false;
  /** The pieces of a line not ended yet, joined once when its newline comes, so that a line
   *  spanning many chunks costs linear time, not a rescan of the whole line per chunk. */
  private carry: string[] = [];
  constructor(private readonly visitor: LineVisitor<R>) {}

  /** False once the visitor asked to stop. */
  push(chunk: string): boolean {
    if (this.stopped) return false;
    let from = 0;
    if (this.carry.length > 0) {
      // The line begun in an earlier chunk, whole.
      const nl = chunk.indexOf('\n');
      if (nl === -1) {
        this.carry.push(chunk);
        return true;
      }
      const line = this.carry.join('') + chunk.slice(0, nl);
      this.carry = [];
      this.count += 1;
      if (this.visitor.line(line) === false) {
        this.stopped = true;
        return false;
      }
      from = nl + 1;
    }
    from = this.every(chunk, from);
    if (from === -1) return false;
    if (from < chunk.length) this.carry.push(chunk.slice(from));
    return true;
  }

  /** Every complete line from `from`; returns where the unfinished rest begins, or -1 when stopped. */
  private every(chunk: string, from: number): number {
    for (let nl = chunk.indexOf('\n', from); nl !== -1; nl = chunk.indexOf('\n', from)) {
      this.count += 1;
      if (this.visitor.line(chunk.slice(from, nl)) === false) {
        this.stopped = true;
        return -1;
      }
      from = nl + 1;
    }
    return from;
  }

  /** A last line without a newline is still a line, as for grep. */
  end(rest = ''): void {
    if (this.stopped) return;
    const last = this.carry.join('') + rest;
    this.carry = [];
    if (last !== '') {
      this.count += 1;
      if (this.visitor.line(last) === false) this.stopped = true;
    }
  }
}

/**
 * Hand an object's inflated bytes to a visitor, as a scan would. With a literal, only the
 * lines holding it (found with Buffer.indexOf) are decoded and handed over; the others are
 * counted by their newlines: most lines of a search are not matches, and decoding every
 * byte to text was the largest cost of a search over compacted days.
 */
export function visitBytes<R>(buf: Buffer, visitor: LineVisitor<R>): ScanResult<R> {
  const { count } = splitBytes(buf, visitor);
  return { value: visitor.result(), lines: count, bytes: 0 };
}

function splitBytes<R>(buf: Buffer, visitor: LineVisitor<R>): { count: number; stopped: boolean } {
  if (!visitor.literal) {
    const lines = new LineSplitter(visitor);
    lines.push(buf.toString('utf8'));
    lines.end();
    return { count: lines.count, stopped: lines.stopped };
  }
  const needle = Buffer.from(visitor.literal, 'utf8');
  let count = 0;
  /** Lines before `counted` are counted. */
  let counted = 0;
  const countTo = (to: number) => {
    for (let nl = buf.indexOf(NEWLINE, counted); nl !== -1 && nl < to; nl = buf.indexOf(NEWLINE, nl + 1)) count += 1;
    counted = to;
  };
  for (let at = buf.indexOf(needle); at !== -1; ) {
    const start = at === 0 ? 0 : buf.lastIndexOf(NEWLINE, at) + 1;
    const nl = buf.indexOf(NEWLINE, at);
    const end = nl === -1 ? buf.length : nl;
    countTo(start);
    count += 1;
    counted = end + 1;
    if (visitor.line(buf.toString('utf8', start, end)) === false) return { count, stopped: true };
    if (nl === -1) return { count, stopped: false };
    at = buf.indexOf(needle, end + 1);
  }
  if (counted < buf.length) {
    countTo(buf.length);
    // A last line without a newline.
    if (buf[buf.length - 1] !== NEWLINE) count += 1;
  }
  return { count, stopped: false };
}

const NEWLINE = 0x0a;

export class LogStore {
  private readonly bucket: string;
  private readonly s3: () => Promise<S3Client>;
  private readonly target: (() => Promise<S3Target | undefined>) | undefined;
  private readonly keyPrefix: string;
  private readonly endpoint: string;
  /** Keys under a day prefix that are not the receiver's layout (skipped, counted). */
  foreignKeys = 0;
  /** Called when S3 answers a request with throttling (503 SlowDown, 429); the request is retried. */
  onThrottle: (() => void) | undefined;
  private lean: Promise<Lean | undefined> | undefined;

  constructor(opts: StoreOptions) {
    this.s3 = opts.s3;
    this.target = opts.target;
    this.bucket = opts.bucket;
    this.keyPrefix = opts.keyPrefix;
    this.endpoint = opts.endpoint;
  }

  /**
   * The objects of one app inside a window, oldest first. Lists only the day prefixes the
   * window touches, cut into time ranges (keyRanges) whose first pages are all asked for at
   * once, so a big day costs one or two round trips of listing instead of one per 1,000 keys;
   * each range asks for its next page while the caller works on the current one.
   */
  async *list(app: string, window: TimeWindow, signal: AbortSignal, parts = listRanges(window)): AsyncGenerator<LogObject> {
    const local = new AbortController();
    const inner = AbortSignal.any([signal, local.signal]);
    const ranges = keyRanges(this.keyPrefix, app, window.start, window.end, parts).map((range) => {
      const first = this.listPage(range.dayPrefix, range.startAfter, undefined, branch(inner));
      // Never awaited when the caller stops before this range.
      first.catch(() => undefined);
      return { range, first };
    });
    try {
      for (const { range, first } of ranges) {
        let page = first;
        for (;;) {
          const res = await page;
          const last = res.objects.at(-1)?.key;
          let next: Promise<ListPage> | undefined;
          // The next page only when this one did not already reach past the range's end.
          if (res.nextToken && !(range.before !== undefined && last !== undefined && last >= range.before)) {
            next = this.listPage(range.dayPrefix, undefined, res.nextToken, branch(inner));
            next.catch(() => undefined);
          }
          let past = false;
          for (const o of res.objects) {
            if (range.before !== undefined && o.key >= range.before) {
              past = true;
              break;
            }
            const obj = this.toObject(app, o.key, o.size, o.modified, o.etag);
            if (!obj) continue;
            if (obj.time >= window.end) {
              past = true;
              break;
            }
            if (obj.time >= window.start) yield obj;
          }
          if (past || !next) break;
          page = next;
        }
      }
    } finally {
      local.abort(new Error('stopped'));
    }
  }

  /** Whether the app has any object at all (one listing request): tells a misspelt app from a quiet window. */
  async hasAny(app: string, signal: AbortSignal): Promise<boolean> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    try {
      const page = await (await this.s3()).send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.keyPrefix}${app}/`, MaxKeys: 1 }), { abortSignal: signal });
      return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
    } catch (err) {
      throw this.failure(err, 'ListObjectsV2', signal);
    }
  }

  /**
   * The time of the app's oldest object, or null when it has none (one listing request: keys
   * sort by day, then time). Tells a newly wired app from one that fell silent.
   */
  async oldest(app: string, signal: AbortSignal): Promise<number | null> {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    try {
      const page = await (await this.s3()).send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.keyPrefix}${app}/`, MaxKeys: 20 }), { abortSignal: signal });
      for (const o of page.Contents ?? []) {
        const obj = this.toObject(app, o.Key, o.Size);
        if (obj) return obj.time;
      }
      return null;
    } catch (err) {
      throw this.failure(err, 'ListObjectsV2', signal);
    }
  }

  /** Every object of one app and UTC day (for `logs status`: listing only, no GETs). */
  async listDay(app: string, day: number, signal: AbortSignal): Promise<LogObject[]> {
    const objects: LogObject[] = [];
    // One range: status already lists its days at once.
    for await (const o of this.list(app, { start: day, end: day + DAY_MS }, signal, 1)) objects.push(o);
    return objects;
  }

  private toObject(app: string, key: string | undefined, size: number | undefined, modified?: number, etag?: string): LogObject | undefined {
    if (!key) return undefined;
    const parsed = parseObjectKey(key, this.keyPrefix);
    if (!parsed || parsed.app !== app) {
      this.foreignKeys += 1;
      return undefined;
    }
    return { app, key, time: parsed.epochMs, id: parsed.id, size: size ?? 0, flags: parsed.flags, ...(modified !== undefined ? { modified } : {}), ...(etag ? { etag } : {}) };
  }

  /** The lean GET and listing (s3-get.ts), or undefined when the client needs the SDK. */
  private leanClient(): Promise<Lean | undefined> {
    this.lean ??= (async () => {
      const target = await this.target?.();
      if (!target) return undefined;
      const opts = { onThrottle: () => this.onThrottle?.() };
      const [get, list] = await Promise.all([getObjectFast(target, this.bucket, opts), listObjectsFast(target, this.bucket, opts)]);
      return get && list ? { get, list } : undefined;
    })().catch(() => undefined);
    return this.lean;
  }


  private async listPage(prefix: string, startAfter: string | undefined, token: string | undefined, signal: AbortSignal): Promise<ListPage> {
    try {
      const lean = await this.leanClient();
      if (lean) return await lean.list({ prefix, startAfter, token }, signal);
      const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const res = await (await this.s3()).send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}), ...(token ? { ContinuationToken: token } : {}) }),
        { abortSignal: signal },
      );
      const objects = (res.Contents ?? []).flatMap((o) => (o.Key ? [{ key: o.Key, size: o.Size ?? 0, ...(o.LastModified ? { modified: o.LastModified.getTime() } : {}), ...(o.ETag ? { etag: o.ETag } : {}) }] : []));
      return { objects, ...(res.IsTruncated && res.NextContinuationToken ? { nextToken: res.NextContinuationToken } : {}) };
    } catch (err) {
      throw this.failure(err, 'ListObjectsV2', signal);
    }
  }

  /**
   * Stream one object through gunzip and hand its lines to a visitor. An empty or corrupt
   * object, or one deleted since the listing, is not an error: the lines read before the
   * problem count and `problem` says what happened. A connection that breaks mid-body is
   * retried once with a fresh visitor. S3 refusing the request throws (exit 4, or 3 for
   * credentials); Ctrl-C throws InterruptedError.
   */
  async scan<R>(obj: LogObject, signal: AbortSignal, visitor: () => LineVisitor<R>): Promise<ScanResult<R>> {
    if (obj.size === 0) return { value: visitor().result(), lines: 0, bytes: 0, problem: 'empty object (0 bytes)' };
    for (let attempt = 1; ; attempt++) {
      let body: Readable | Buffer;
      try {
        body = await this.get(obj.key, signal);
      } catch (err) {
        if ((err as { name?: string }).name === 'NoSuchKey' && !signal.aborted) {
          return { value: visitor().result(), lines: 0, bytes: 0, problem: 'deleted since it was listed (NoSuchKey)' };
        }
        throw this.failure(err, `GetObject ${obj.key}`, signal);
      }
      try {
        return Buffer.isBuffer(body) ? await readWhole(body, signal, visitor()) : await read(body, signal, visitor());
      } catch (err) {
        const code = (err as { code?: string; name?: string }).code ?? (err as { name?: string }).name ?? '';
        if (attempt < 2 && !signal.aborted && BROKEN_BODY.has(code)) continue;
        throw this.failure(err, `GetObject ${obj.key}`, signal);
      }
    }
  }

  /**
   * An object's body as a stream, or undefined when it is not there (the compacted files beside
   * the raw objects). The caller reads or destroys it.
   */
  async fetch(key: string, signal: AbortSignal): Promise<Readable | undefined> {
    const body = await this.fetchBody(key, signal);
    return Buffer.isBuffer(body) ? Readable.from([body]) : body;
  }

  /** An object's bytes whole (a manifest, a day's records), or undefined when it is not there. */
  async fetchBytes(key: string, signal: AbortSignal): Promise<Buffer | undefined> {
    const body = await this.fetchBody(key, signal);
    if (body === undefined || Buffer.isBuffer(body)) return body;
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  private async fetchBody(key: string, signal: AbortSignal): Promise<Readable | Buffer | undefined> {
    try {
      return await this.get(key, signal);
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey' && !signal.aborted) return undefined;
      throw this.failure(err, `GetObject ${key}`, signal);
    }
  }

  /** The object's body: the lean signed GET when the client allows it, else the SDK's. */
  private async get(key: string, signal: AbortSignal): Promise<Readable | Buffer> {
    const lean = await this.leanClient();
    if (lean) return (await lean.get(key, signal)).body;
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await (await this.s3()).send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    return res.Body as Readable;
  }

  private failure(err: unknown, action: string, signal: AbortSignal): Error {
    if (signal.aborted) return new InterruptedError();
    return awsFailure(err, 'S3', action, { endpoint: this.endpoint, resource: { kind: 'bucket', name: this.bucket, setting: 'drain.bucket' } });
  }
}

/**
 * Compressed bytes up to which an object is held whole and its lines handed over only from
 * gzip members whose checksums verified (drain batches are ~100 KB). A larger object is
 * streamed: its lines go to the visitor as they inflate, and damage found at its end is
 * reported with the line numbers that were read unverified.
 */
export const HOLD_BYTES = 8 * 1024 * 1024;

/** An object's verified text to a visitor, with what was wrong past it. */
function visitVerified<R>(gz: Buffer, visitor: LineVisitor<R>): ScanResult<R> {
  const { text, problem } = verifiedGunzip(gz);
  const { count, stopped } = splitBytes(text, visitor);
  const why = problem ? `${problem}; ${count === 0 ? 'no line of it was read' : `only the ${plural(count, 'line')} its checksum verified were read`}` : !stopped && count === 0 ? 'empty object (no lines)' : undefined;
  return { value: visitor.result(), lines: count, bytes: gz.length, ...(why ? { problem: why } : {}) };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A body the transport read whole (most drain objects). */
async function readWhole<R>(gz: Buffer, signal: AbortSignal, visitor: LineVisitor<R>): Promise<ScanResult<R>> {
  signal.throwIfAborted();
  return visitVerified(gz, visitor);
}

/**
 * Read a GetObject body through gunzip into a visitor. Whatever happens (the end, a visitor
 * that stops early, corruption, an abort, an error), the body is consumed or destroyed, so its
 * socket goes back to the pool. Exported for its unit test (a body past `holdBytes`).
 */
export async function read<R>(body: Readable, signal: AbortSignal, visitor: LineVisitor<R>, holdBytes = HOLD_BYTES): Promise<ScanResult<R>> {
  const lines = new LineSplitter(visitor);
  let bytes = 0;
  let problem: string | undefined;
  const destroy = () => body.destroy();
  signal.addEventListener('abort', destroy, { once: true });
  try {
    // Aborted while the response was on its way: the listener above came too late to fire.
    signal.throwIfAborted();
    // Held whole up to holdBytes, so that only verified text is handed over; past it,
    // streamed, so memory stays bounded by the window of objects in flight whatever their size.
    const chunks: Buffer[] = [];
    const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    let ended = false;
    while (bytes <= holdBytes) {
      const next = await it.next();
      if (next.done) {
        ended = true;
        break;
      }
      chunks.push(next.value);
      bytes += next.value.length;
    }
    if (ended) return { ...visitVerified(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes), visitor), bytes };
    {
      const rest = (async function* () {
        for (;;) {
          const next = await it.next();
          if (next.done) return;
          bytes += next.value.length;
          yield next.value;
        }
      })();
      const gunzip = createGunzip();
      const source = Readable.from((async function* () {
        yield* chunks;
        yield* rest;
      })());
      source.on('error', (err) => gunzip.destroy(err));
      source.pipe(gunzip);
      // A multi-byte character may be cut between two inflated chunks.
      const decoder = new StringDecoder('utf8');
      try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
          if (!lines.push(decoder.write(chunk))) break;
        }
        lines.end(decoder.end());
      } catch (err) {
        if (signal.aborted) throw err;
        const code = (err as { code?: string }).code ?? '';
        if (!code.startsWith('Z_')) throw err;
        // Too big to hold: its lines went out as they inflated, before the check at the end.
        problem = `corrupt: not a complete gzip stream (${(err as Error).message}); ${lines.count === 0 ? 'no line of it was read' : `lines 1-${lines.count} of it were read before the damage was found and are unverified (an object over ${formatMiB(holdBytes)} is not held until its checksum)`}`;
      } finally {
        source.destroy();
        gunzip.destroy();
      }
    }
    if (!lines.stopped && !problem && lines.count === 0) problem = 'empty object (no lines)';
    return { value: visitor.result(), lines: lines.count, bytes, ...(problem ? { problem } : {}) };
  } finally {
    signal.removeEventListener('abort', destroy);
    if (!body.readableEnded) destroy();
  }
}

function formatMiB(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${n} bytes`;
}

/**
 * Stores lines as one drain batch, exactly as the receiver would have filed a Logplex POST of
 * them: Logplex framing, gzip, `<prefix><app>/<YYYY>/<MM>/<DD>/<epoch_ms>-<id>.gz`, written only
 * if absent. `logs grep` and `logs fetch` then read them beside the app's own lines. Returns the
 * key.
 */
export async function writeDrainBatch(ctx: Context, opts: { app: string; at: Date; procid: string; lines: string[] }): Promise<string> {
  const { buildObjectKey } = await import('@raxx/log-format/object-key');
  const { frame } = await import('@raxx/log-format/logplex');
  const { randomUUID } = await import('node:crypto');
  const { gzipSync } = await import('node:zlib');
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { bucket, keyPrefix } = ctx.config.drain;
  const timestamp = opts.at.toISOString().replace('Z', '+00:00');
  // <190>: local7.info, what Heroku gives a dyno's stdout line.
  const body = frame(opts.lines.map((text) => ({ pri: 190, version: 1, timestamp, host: 'host', appName: 'app', procid: opts.procid, msgid: '-', text })));
  const key = buildObjectKey({ prefix: keyPrefix, app: opts.app, id: randomUUID(), epochMs: opts.at.getTime() });
  const s3 = await ctx.aws.s3();
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(body), ContentType: 'application/gzip', IfNoneMatch: '*' }), { abortSignal: ctx.signal });
  } catch (err) {
    throw awsError(err, 'S3', `PutObject s3://${bucket}/${key}`, ctx.aws.endpointOf('S3'));
  }
  return key;
}
