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
import { type LineVisitor, type ScanResult } from './text.js';
import { keyRanges, parseObjectKey } from '@raxx/log-format/object-key';
import { type S3Target } from '../aws/clients.js';
import { InterruptedError } from '../core/errors.js';
import { awsFailure } from '../aws/call.js';
import { branch } from '../core/abort.js';
import { getObjectFast, listObjectsFast, type ListPage, type ObjectGetter, type ObjectLister } from '../aws/s3-get.js';
import { DAY_MS, type TimeWindow } from '../core/time-window.js';
import { read, readWhole } from './body.js';

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

// The line splitting lives in text.ts; its names are the store's API too.
export { LineSplitter, visitBytes, type LineVisitor, type ScanResult } from './text.js';
/** Midnight UTC of a day prefix (`…/YYYY/MM/DD/`). */
function dayOfPrefix(prefix: string): number {
  const m = /(\d{4})\/(\d{2})\/(\d{2})\/$/.exec(prefix)!;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/** Objects by time, then key: the order `logs` prints in. */
export function byTime(a: LogObject, b: LogObject): number {
  return a.time - b.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

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
  /**
   * What the listings so far have found, for a caller sizing its work (the adaptive
   * concurrency): the objects counted as each page arrives (before list() hands them out), and
   * the time ranges whose listing goes on past the pages that came.
   */
  readonly listing = { found: 0, open: 0 };

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
  async *list(app: string, window: TimeWindow, signal: AbortSignal, parts = listRanges(window), known?: (day: number) => readonly LogObject[] | undefined): AsyncGenerator<LogObject> {
    const local = new AbortController();
    const inner = AbortSignal.any([signal, local.signal]);
    const ranges = keyRanges(this.keyPrefix, app, window.start, window.end, parts).map((range) => {
      // A day whose objects are known (a closed, compacted day) is not listed at all.
      const day = dayOfPrefix(range.dayPrefix);
      const objects = known?.(day);
      if (objects) return { range, day, objects };
      const first = this.tally(range, this.listPage(range.dayPrefix, range.startAfter, undefined, branch(inner)), true);
      // Never awaited when the caller stops before this range.
      first.catch(() => undefined);
      return { range, day, first };
    });
    // A known day stands in all its ranges: counted once.
    for (const objects of new Set(ranges.flatMap((r) => (r.objects ? [r.objects] : [])))) this.listing.found += objects.length;
    const given = new Set<number>();
    try {
      for (const r of ranges) {
        const { range } = r;
        if (!r.first) {
          if (given.has(r.day)) continue;
          given.add(r.day);
          for (const o of r.objects) if (o.time >= window.start && o.time < window.end) yield o;
          continue;
        }
        let page = r.first;
        for (;;) {
          const res = await page;
          const last = res.objects.at(-1)?.key;
          let next: Promise<ListPage> | undefined;
          // The next page only when this one did not already reach past the range's end.
          if (res.nextToken && !(range.before !== undefined && last !== undefined && last >= range.before)) {
            next = this.tally(range, this.listPage(range.dayPrefix, undefined, res.nextToken, branch(inner)), false);
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

  /** Counts a range's page into `listing` when it arrives: a range is open from its first page until its last came. */
  private tally(range: { before?: string | undefined }, page: Promise<ListPage>, first: boolean): Promise<ListPage> {
    if (first) this.listing.open += 1;
    void page.then(
      (res) => {
        let n = 0;
        for (const o of res.objects) if (range.before === undefined || o.key < range.before) n += 1;
        this.listing.found += n;
        const last = res.objects.at(-1)?.key;
        if (!res.nextToken || (range.before !== undefined && last !== undefined && last >= range.before)) this.listing.open -= 1;
      },
      () => void (this.listing.open -= 1),
    );
    return page;
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

  /** Every key under a prefix with its LastModified (a day's stale marks: a handful). */
  async listAll(prefix: string, signal: AbortSignal): Promise<{ key: string; modified?: number }[]> {
    const out: { key: string; modified?: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, undefined, token, signal);
      for (const o of page.objects) out.push({ key: o.key, ...(o.modified !== undefined ? { modified: o.modified } : {}) });
      token = page.nextToken;
    } while (token);
    return out;
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
      const get = getObjectFast(target, this.bucket, opts);
      const list = listObjectsFast(target, this.bucket, opts);
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
        return Buffer.isBuffer(body) ? readWhole(body, signal, visitor()) : await read(body, signal, visitor());
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

