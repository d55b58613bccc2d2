// The CLI's side of compacted days (the layout, record format and compaction itself belong to
// the receiver package, which also runs them on a schedule): the S3 calls over the SDK, and
// the grep path's concurrent reader, so `logs compact` reads a day as fast as `logs grep`.
import { createHash } from 'node:crypto';
import { compactedKeys, OBJECT_MARK, readManifest, type CompactOutcome, type CompactS3, type Manifest, type ParquetExpectation, type ReadLines } from '@raxx/log-format/compacted';
import { compactDay } from '@raxx/log-format/compact-day';
import { acceptanceHorizon, parseObjectKey, startOfUtcDay } from '@raxx/log-format/object-key';
import { staleMarkPrefix, trustedManifest, type ListedMark } from '@raxx/log-format/closed-days';
import type { Context } from '../run/context.js';
import { awsError } from '../aws/clients.js';
import type { LineVisitor, LogObject, LogStore } from './store.js';
import { orderedPool } from '../core/ordered-pool.js';

export async function compactS3(ctx: Context, bucket: string): Promise<CompactS3> {
  const { s3ForCompaction } = await import('@raxx/log-format/compacted-s3');
  const raw = s3ForCompaction(await ctx.aws.s3(), bucket, ctx.signal);
  const endpoint = ctx.aws.endpointOf('S3');
  const mapped = <A extends unknown[], T>(fn: (...a: A) => Promise<T>, action: (...a: A) => string) =>
    async (...a: A): Promise<T> => {
      try {
        return await fn(...a);
      } catch (err) {
        throw awsError(err, 'S3', action(...a), endpoint);
      }
    };
  return {
    listObjects: mapped(raw.listObjects.bind(raw), (prefix) => `ListObjectsV2 s3://${bucket}/${prefix}`),
    getObject: mapped(raw.getObject.bind(raw), (key) => `GetObject s3://${bucket}/${key}`),
    putObject: mapped(raw.putObject.bind(raw), (key) => `PutObject s3://${bucket}/${key}`),
    deleteObject: mapped(raw.deleteObject!.bind(raw), (key) => `DeleteObject s3://${bucket}/${key}`),
  };
}

/** Reads raw drain objects concurrently through the grep path, handing them back in order. */
export function concurrentReader(store: LogStore, keyPrefix: string, signal: AbortSignal, concurrency: number): ReadLines {
  return async function* (keys) {
    const objects: LogObject[] = keys.map((key) => {
      const p = parseObjectKey(key, keyPrefix);
      // The size is unknown from a key; -1 means "read it" (0 would mean an empty object).
      return { app: p?.app ?? '', key, time: p?.epochMs ?? 0, id: p?.id ?? '', size: -1 };
    });
    const visitor = (): LineVisitor<string[]> => {
      const lines: string[] = [];
      return { line: (t) => void lines.push(t), result: () => lines };
    };
    for await (const { item, value } of orderedPool(objects, (o, s) => store.scan(o, s, visitor), { concurrency, signal })) {
      yield { key: item.key, lines: value.value, problem: value.problem };
    }
  };
}

export interface CompactRun {
  ctx: Context;
  store: LogStore;
  apps: string[];
  days: number[];
  force: boolean;
  verify?: boolean;
  dryRun: boolean;
  concurrency: number;
  onResult?: (r: CompactOutcome) => void;
}

export async function compactDays(run: CompactRun): Promise<CompactOutcome[]> {
  const { ctx } = run;
  const s3 = await compactS3(ctx, ctx.config.drain.bucket);
  const read = concurrentReader(run.store, ctx.config.drain.keyPrefix, ctx.signal, run.concurrency);
  const results: CompactOutcome[] = [];
  // Parquet beside the JSON lines when the embedded engine is installed (logs query reads it).
  const { parquetWriter } = await import('./query/parquet.js');
  const parquet = run.dryRun ? undefined : await parquetWriter();
  ctx.out.debug(parquet ? 'compact: writing Parquet beside the records (embedded engine installed)' : 'compact: records as JSON lines only (no embedded engine, or --dry-run)');
  // A day the engine cannot convert keeps its JSON records (logs query reads those): a warning, not a failed run.
  const toParquet = async (records: Buffer, expect: ParquetExpectation, app: string, day: number): Promise<Buffer | undefined> => {
    try {
      return await parquet!.toParquet(records, expect);
    } catch (err) {
      ctx.out.warn(`${app} ${new Date(day).toISOString().slice(0, 10)}: Parquet not written (${(err as Error).message.split('\n')[0]}); logs query reads its JSON records`);
      return undefined;
    }
  };
  try {
    for (const app of run.apps) {
      for (const day of run.days) {
        ctx.checkInterrupted();
        const r = await compactDay(
          {
            s3,
            keyPrefix: ctx.config.drain.keyPrefix,
            compactedRoot: ctx.config.query.compactedPrefix,
            read,
            now: ctx.now().getTime(),
            force: run.force,
            verify: run.verify ?? false,
            dryRun: run.dryRun,
            ...(parquet ? { toParquet: (records: Buffer, expect: ParquetExpectation) => toParquet(records, expect, app, day) } : {}),
          },
          app,
          day,
        );
        results.push(r);
        run.onResult?.(r);
      }
    }
  } finally {
    await parquet?.close();
  }
  return results;
}

/** What CompactedDays reads: a small object whole, and a gzip object's text in chunks (undefined: not there). */
export interface CompactedSource {
  getObject(key: string): Promise<Buffer | undefined>;
  /** The keys under a prefix with LastModified (a day's stale marks). */
  listMarks(prefix: string): Promise<ListedMark[]>;
  /** A gzip object's inflated bytes, in chunks. */
  openBytes(key: string): Promise<AsyncIterable<Buffer> | undefined>;
}

/** An object's text as a compacted day holds it, and the problem reading its raw object had. */
export interface CompactedText {
  text: Buffer;
  problem?: string;
}

/** What a reader needs of a manifest: per key, the ETag compacted, the text's checksum and its place in the day's files. */
interface DayIndex {
  entries: Map<string, { etag: string; sha256: string; problem: string | undefined }>;
  order: Map<string, number>;
  parquet: Manifest['parquet'];
}

/**
 * Serves `logs grep` and `fetch` from compacted days: an object whose key and ETag a day's
 * manifest lists is read from that day's lines.gz (one GET for the whole day, streamed)
 * instead of its own GET, once its text matches the manifest's checksum. The lines are the
 * ones a raw read verifies, so the output is the same either way, warnings included; objects a
 * manifest does not list (late arrivals, days not compacted), objects uploaded again since (another
 * ETag) and text that does not match are read raw.
 */
export class CompactedDays {
  private readonly manifests = new Map<string, Promise<DayIndex | undefined>>();
  private readonly read = new Map<string, Promise<Manifest | undefined>>();
  /** Closed days served without listing their raw objects. */
  closedDays = 0;
  private readonly cursors = new Map<string, DayCursor>();
  private readonly warned = new Set<string>();
  /** Objects served from compacted days, and days opened. */
  served = 0;
  private readonly opened = new Set<string>();
  get daysOpened(): number {
    return this.opened.size;
  }

  constructor(
    private readonly source: CompactedSource,
    private readonly root: string,
    private readonly warn: (message: string) => void = () => undefined,
    private readonly keyPrefix = 'logs/',
  ) {}

  /** The app-day an object belongs to (the unit of compaction), as a map key. */
  dayOf(obj: LogObject): string {
    return `${obj.app}/${startOfUtcDay(obj.time)}`;
  }

  /** The manifest of an app-day as read (fetched once; undefined when there is none or it cannot be read). */
  manifest(app: string, day: number): Promise<Manifest | undefined> {
    return this.rawManifest(app, startOfUtcDay(day));
  }

  /** Asks for the manifest of an app-day before its first object comes (they are fetched at once). */
  prefetch(app: string, day: number): void {
    void this.manifestOf(app, startOfUtcDay(day));
  }

  /** Whether the object's day has a manifest that lists it with the ETag listed now (404 → not compacted). */
  async covers(obj: LogObject): Promise<boolean> {
    const entry = (await this.manifestOf(obj.app, startOfUtcDay(obj.time)))?.entries.get(obj.key);
    return entry !== undefined && obj.etag !== undefined && entry.etag === obj.etag;
  }

  /** Objects of one day served another way (the embedded engine), for the counts. */
  servedElsewhere(objs: readonly LogObject[]): void {
    if (objs.length === 0) return;
    this.served += objs.length;
    this.opened.add(this.dayOf(objs[0]!));
  }

  /** What the manifest of an object's day says (already fetched by covers()), for the embedded engine's read. */
  async indexOf(obj: LogObject): Promise<DayIndex | undefined> {
    return this.manifestOf(obj.app, startOfUtcDay(obj.time));
  }

  /** The S3 key of the Parquet file of an object's day. */
  parquetKey(obj: LogObject): string {
    return compactedKeys(obj.app, startOfUtcDay(obj.time), this.root).parquet;
  }

  /** What the manifest says reading an object's raw object found wrong. */
  async problemOf(obj: LogObject): Promise<string | undefined> {
    return (await this.manifestOf(obj.app, startOfUtcDay(obj.time)))?.entries.get(obj.key)?.problem;
  }

  /** The manifest of an app-day, fetched once (one that cannot be read, or of another version, means raw reads). */
  private manifestOf(app: string, day: number): Promise<DayIndex | undefined> {
    const id = `${app}/${day}`;
    let m = this.manifests.get(id);
    if (!m) {
      m = this.rawManifest(app, day).then((x) => (x ? indexOf(x) : undefined));
      this.manifests.set(id, m);
    }
    return m;
  }

  private rawManifest(app: string, day: number): Promise<Manifest | undefined> {
    const id = `${app}/${day}`;
    let m = this.read.get(id);
    if (!m) {
      m = readManifest(this.source, app, day, this.root).catch(() => undefined);
      this.read.set(id, m);
    }
    return m;
  }

  /**
   * The objects of a closed app-day as its manifest lists them, when that manifest holds the
   * whole day (closed-days.ts: listed after the day's horizon, no stale mark since); undefined
   * when the day must be listed. Marks that cannot be listed mean listing the day.
   */
  async closedDay(app: string, day: number): Promise<LogObject[] | undefined> {
    const m = await this.rawManifest(app, startOfUtcDay(day));
    if (!m || m.listedAt === undefined || Date.parse(m.listedAt) < acceptanceHorizon(day)) return undefined;
    const marks = await this.source.listMarks(staleMarkPrefix(app, startOfUtcDay(day), this.root)).catch(() => undefined);
    if (!marks || !trustedManifest(m, marks)) return undefined;
    const objects: LogObject[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const p = parseObjectKey(m.keys[i]!, this.keyPrefix);
      // A key the layout does not hold (another prefix): the manifest is not this reader's.
      if (!p || p.app !== app) return undefined;
      objects.push({ app, key: m.keys[i]!, time: p.epochMs, id: p.id, size: m.sizes![i]!, etag: m.etags[i]!, flags: p.flags });
    }
    this.closedDays += 1;
    return objects;
  }

  /**
   * The stored text of objects of one app-day (their lines, newline-ended, as UTF-8), asked
   * for in key order; undefined for one the day's lines.gz does not hold or holds other text
   * than its manifest says (the caller reads it raw).
   */
  async textsOf(objs: readonly LogObject[]): Promise<(CompactedText | undefined)[]> {
    if (objs.length === 0) return [];
    const first = objs[0]!;
    const id = this.dayOf(first);
    let cursor = this.cursors.get(id);
    if (!cursor) {
      this.opened.add(id);
      cursor = new DayCursor(() => this.source.openBytes(compactedKeys(first.app, startOfUtcDay(first.time), this.root).lines));
      this.cursors.set(id, cursor);
    }
    const index = await this.manifestOf(first.app, startOfUtcDay(first.time));
    const found = await cursor.take(objs.map((o) => o.key));
    return found.map((text, i) => {
      const entry = index?.entries.get(objs[i]!.key);
      if (text === undefined || !entry) return undefined;
      if (createHash('sha256').update(text).digest('hex') !== entry.sha256) {
        if (!this.warned.has(id)) {
          this.warned.add(id);
          this.warn(`${first.app} ${utcDay(first.time)}: the compacted lines do not match their manifest (written by another run, or damaged); the day's objects are read raw, run \`raxx-ops logs compact --force --app ${first.app} --date ${utcDay(first.time)}\``);
        }
        return undefined;
      }
      this.served += 1;
      return { text, ...(entry.problem ? { problem: entry.problem } : {}) };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.cursors.values()].map((c) => c.close()));
  }
}

function indexOf(m: Manifest): DayIndex {
  const entries: DayIndex['entries'] = new Map();
  const order: DayIndex['order'] = new Map();
  m.keys.forEach((key, i) => {
    entries.set(key, { etag: m.etags[i]!, sha256: m.textSha256[i]!, problem: m.problems[key] });
    order.set(key, i);
  });
  return { entries, order, parquet: m.parquet };
}

function utcDay(ms: number): string {
  return new Date(startOfUtcDay(ms)).toISOString().slice(0, 10);
}

const NEWLINE = 0x0a;
const MARK_BYTE = OBJECT_MARK.charCodeAt(0);
/** A record header's most bytes: the mark, a key (S3 allows 1,024 bytes), a length, two newlines. */
const MAX_HEADER = 1 + 1024 + 1 + 20 + 1;

/**
 * Reads one lines.gz forward: length-prefixed records (`\u0000<key>\n<length>\n` and that
 * many bytes of the object's lines), in key order. Requests come in key order (the scan
 * starts objects in listing order), so each take() reads on to its keys, dropping the records
 * nobody asked for (outside the window). It works on the inflated bytes: a record is handed
 * over undecoded, so the visitor decodes only the lines it needs (grep: those holding its
 * literal). Line by line through an async iterator this cost 19.5 s for a compacted month;
 * decoding every byte to text and searching strings, 4.2 s. A file that does not parse as
 * records is not guessed at: what is left of it serves nothing (read raw).
 */
export class DayCursor {
  private it: AsyncIterator<Buffer> | undefined;
  private opened: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Inflated bytes not consumed yet; `pos` is where the next record starts. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;
  private broken = false;

  constructor(private readonly openBytes: () => Promise<AsyncIterable<Buffer> | undefined>) {}

  take(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    const p = this.chain.then(() => this.advance(keys));
    // Not p.catch(): that would hold the last batch's text for as long as the cursor lives.
    this.chain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Appends the next chunk; false at the end of the file. */
  private async more(): Promise<boolean> {
    if (this.ended || !this.it) return false;
    const next = await this.it.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), next.value]) : next.value;
    this.pos = 0;
    return true;
  }

  private async advance(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    this.opened ??= this.openBytes().then((src) => {
      this.it = src?.[Symbol.asyncIterator]();
      if (!this.it) this.ended = true;
    });
    await this.opened;
    const out: (Buffer | undefined)[] = [];
    for (const key of keys) out.push(this.broken ? undefined : await this.one(key));
    // A day read to its end keeps nothing.
    if ((this.ended && this.pos >= this.buf.length) || this.broken) this.buf = Buffer.alloc(0);
    return out;
  }

  /**
   * The index of the n-th newline from `pos` (n = 1 or 2), reading on as needed; -1 at the end,
   * or when a header would be longer than any can be (a file that is not records is not read
   * whole looking for one).
   */
  private async newlines(n: number): Promise<number> {
    for (;;) {
      let at = this.buf.indexOf(NEWLINE, this.pos);
      if (at !== -1 && n === 2) at = this.buf.indexOf(NEWLINE, at + 1);
      if (at !== -1) return at;
      if (this.buf.length - this.pos > MAX_HEADER || !(await this.more())) return -1;
    }
  }

  private async one(key: string): Promise<Buffer | undefined> {
    for (;;) {
      if (this.pos >= this.buf.length && !(await this.more())) return undefined;
      const second = await this.newlines(2);
      const first = second === -1 ? -1 : this.buf.indexOf(NEWLINE, this.pos);
      const length = first === -1 ? NaN : Number(this.buf.toString('latin1', first + 1, second));
      if (this.buf[this.pos] !== MARK_BYTE || !Number.isSafeInteger(length) || length < 0 || second - first < 2) {
        // Not a record where one must start (a damaged or foreign file): nothing more is served from it.
        this.broken = true;
        return undefined;
      }
      const header = this.buf.toString('utf8', this.pos + 1, first);
      // Past it: the key is not in this file (the record stays for the next ask).
      if (header > key) return undefined;
      const start = second + 1 - this.pos;
      while (this.buf.length - this.pos < start + length) {
        if (!(await this.more())) {
          this.broken = true;
          return undefined;
        }
      }
      const from = this.pos + start;
      this.pos = from + length;
      if (header !== key) continue;
      // The object's lines, undecoded, each ending in a newline.
      return this.buf.subarray(from, from + length);
    }
  }

  async close(): Promise<void> {
    await this.it?.return?.();
  }
}

/** A gzip body's inflated bytes in chunks; the body is let go of when the reader stops. */
export async function* gunzipBytes(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const { createGunzip } = await import('node:zlib');
  const { Readable } = await import('node:stream');
  const gunzip = Readable.from(body).pipe(createGunzip({ chunkSize: 256 * 1024 }));
  try {
    yield* gunzip as AsyncIterable<Buffer>;
  } finally {
    gunzip.destroy();
    // Unpiped, not ended: the body's socket is let go of, not left half read.
    (body as { destroy?: () => void }).destroy?.();
  }
}

/** Compacted days read through the store's GETs; a file not there or unreadable means raw reads. */
export function openCompactedDays(ctx: Context, store: LogStore): CompactedDays {
  const orRaw = <T>(p: Promise<T>) => p.catch(() => undefined);
  return new CompactedDays(
    {
      getObject: (key) => orRaw(store.fetchBytes(key, ctx.signal)),
      listMarks: (prefix) => store.listAll(prefix, ctx.signal),
      async openBytes(key) {
        const body = await orRaw(store.fetch(key, ctx.signal));
        return body ? gunzipBytes(body as AsyncIterable<Buffer>) : undefined;
      },
    },
    ctx.config.query.compactedPrefix,
    (message) => ctx.out.warn(message),
    ctx.config.drain.keyPrefix,
  );
}
