// The CLI's side of compacted days (the layout, record format and compaction itself belong to
// the receiver package, which also runs them on a schedule): the S3 calls over the SDK, and
// the grep path's concurrent reader, so `logs compact` reads a day as fast as `logs grep`.
import { compactDay, compactedKeys, OBJECT_MARK, readManifest, type CompactOutcome, type CompactS3, type ReadLines } from '@raxx/log-drain-receiver/compacted';
import { parseObjectKey, startOfUtcDay } from '@raxx/log-drain-receiver/object-key';
import type { Context } from './context.js';
import { awsError } from './aws.js';
import type { LineVisitor, LogObject, LogStore } from './log-store.js';
import { orderedPool } from './ordered-pool.js';

export async function compactS3(ctx: Context, bucket: string): Promise<CompactS3> {
  const { s3ForCompaction } = await import('@raxx/log-drain-receiver/compact-handler');
  const raw = s3ForCompaction(await ctx.aws.s3(), bucket, ctx.signal);
  const endpoint = ctx.aws.endpointOf('S3');
  const mapped = <A extends unknown[], T>(action: (...a: A) => string, fn: (...a: A) => Promise<T>) =>
    async (...a: A): Promise<T> => {
      try {
        return await fn(...a);
      } catch (err) {
        throw awsError(err, 'S3', action(...a), endpoint);
      }
    };
  return {
    listKeys: mapped((prefix) => `ListObjectsV2 s3://${bucket}/${prefix}`, raw.listKeys),
    getObject: mapped((key) => `GetObject s3://${bucket}/${key}`, raw.getObject),
    putObject: mapped((key) => `PutObject s3://${bucket}/${key}`, raw.putObject),
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
      yield { key: item.key, lines: value.value };
    }
  };
}

export interface CompactRun {
  ctx: Context;
  store: LogStore;
  apps: string[];
  days: number[];
  force: boolean;
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
  const toParquet = async (records: Buffer, app: string, day: number): Promise<Buffer | undefined> => {
    try {
      return await parquet!.toParquet(records);
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
            dryRun: run.dryRun,
            ...(parquet ? { toParquet: (records: Buffer) => toParquet(records, app, day) } : {}),
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
  /** A gzip object's inflated bytes, in chunks. */
  openBytes(key: string): Promise<AsyncIterable<Buffer> | undefined>;
}

/**
 * Serves `logs grep` and `fetch` from compacted days: an object whose key a day's manifest
 * lists is read from that day's lines.gz (one GET for the whole day, streamed) instead of its
 * own GET. The lines are the stored ones, so the output is the same either way; objects a
 * manifest does not list (late arrivals, days not compacted) are read raw as before.
 */
export class CompactedDays {
  private readonly manifests = new Map<string, Promise<Set<string> | undefined>>();
  private readonly cursors = new Map<string, DayCursor>();
  /** Objects served from compacted days, and days opened. */
  served = 0;
  daysOpened = 0;

  constructor(
    private readonly source: CompactedSource,
    private readonly root: string,
  ) {}

  /** The app-day an object belongs to (the unit of compaction), as a map key. */
  dayOf(obj: LogObject): string {
    return `${obj.app}/${startOfUtcDay(obj.time)}`;
  }

  /** Asks for the manifest of an app-day before its first object comes (they are fetched at once). */
  prefetch(app: string, day: number): void {
    void this.manifestOf(app, startOfUtcDay(day));
  }

  /** Whether the object's day has a manifest that lists it (404 → not compacted). */
  async covers(obj: LogObject): Promise<boolean> {
    return (await this.manifestOf(obj.app, startOfUtcDay(obj.time)))?.has(obj.key) ?? false;
  }

  /** The manifest's keys of an app-day, fetched once (one that cannot be read means raw reads). */
  private manifestOf(app: string, day: number): Promise<Set<string> | undefined> {
    const id = `${app}/${day}`;
    let m = this.manifests.get(id);
    if (!m) {
      m = readManifest(this.source, app, day, this.root).then(
        (x) => (x ? new Set(x.keys) : undefined),
        () => undefined,
      );
      this.manifests.set(id, m);
    }
    return m;
  }

  /**
   * The stored text of objects of one app-day (their lines, joined by newlines, as UTF-8), asked for in
   * key order; undefined for one the day's lines.gz does not hold (the caller reads it raw).
   */
  textsOf(objs: readonly LogObject[]): Promise<(Buffer | undefined)[]> {
    if (objs.length === 0) return Promise.resolve([]);
    const first = objs[0]!;
    const id = this.dayOf(first);
    let cursor = this.cursors.get(id);
    if (!cursor) {
      this.daysOpened += 1;
      cursor = new DayCursor(() => this.source.openBytes(compactedKeys(first.app, startOfUtcDay(first.time), this.root).lines));
      this.cursors.set(id, cursor);
    }
    return cursor.take(objs.map((o) => o.key)).then((found) => {
      for (const l of found) if (l) this.served += 1;
      return found;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.cursors.values()].map((c) => c.close()));
  }
}

/** Between two records of lines.gz: a line's end and the next header's mark. */
const RECORD_BREAK = Buffer.from(`\n${OBJECT_MARK}`);
const MARK_BYTE = OBJECT_MARK.charCodeAt(0);
const NEWLINE = 0x0a;

/**
 * Reads one lines.gz forward: records of `\u0000<key>\n` and the object's lines, in key order.
 * Requests come in key order (the scan starts objects in listing order), so each take() reads
 * on to its keys, dropping the records nobody asked for (outside the window). It works on the
 * inflated bytes: a record is found with Buffer.indexOf and handed over undecoded, so the
 * visitor decodes only the lines it needs (grep: those holding its literal). Line by line
 * through an async iterator this cost 19.5 s for a compacted month; decoding every byte to
 * text and searching strings, 4.2 s.
 */
export class DayCursor {
  private it: AsyncIterator<Buffer> | undefined;
  private opened: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Inflated bytes not consumed yet; `pos` is where the next record starts. */
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private ended = false;

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
    for (const key of keys) out.push(await this.one(key));
    // A day read to its end keeps nothing.
    if (this.ended && this.pos >= this.buf.length) this.buf = Buffer.alloc(0);
    return out;
  }

  private async one(key: string): Promise<Buffer | undefined> {
    for (;;) {
      // The header line of the next record.
      let nl = this.buf.indexOf(NEWLINE, this.pos);
      while (nl === -1) {
        if (!(await this.more())) return undefined;
        nl = this.buf.indexOf(NEWLINE, this.pos);
      }
      if (this.buf[this.pos] !== MARK_BYTE) {
        // Not a record start (a damaged file): skip to the next one.
        const at = this.buf.indexOf(RECORD_BREAK, this.pos);
        if (at === -1) {
          // Keep the last byte: it may be the newline before the next chunk's mark.
          this.pos = Math.max(this.pos, this.buf.length - 1);
          if (!(await this.more())) return undefined;
        } else this.pos = at + 1;
        continue;
      }
      const header = this.buf.toString('utf8', this.pos + 1, nl);
      // Past it: the key is not in this file.
      if (header > key) return undefined;
      // The record's end: the next header, or the end of the file.
      let end = this.buf.indexOf(RECORD_BREAK, nl);
      while (end === -1) {
        const start = this.pos;
        const searched = this.buf.length - this.pos;
        if (!(await this.more())) {
          end = this.buf.length > 0 && this.buf[this.buf.length - 1] === NEWLINE ? this.buf.length - 1 : this.buf.length;
          break;
        }
        // more() moved the bytes: the record now starts at 0; search on from where we were.
        nl -= start;
        end = this.buf.indexOf(RECORD_BREAK, Math.max(nl, searched - 1));
      }
      this.pos = end + 1;
      if (header !== key) continue;
      // The object's lines, undecoded (newline-separated, no final newline).
      return this.buf.subarray(nl + 1, end);
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
