// The CLI's side of compacted days (the layout, record format and compaction itself belong to
// the receiver package, which also runs them on a schedule): the S3 calls over the SDK, and
// the grep path's concurrent reader, so `logs compact` reads a day as fast as `logs grep`.
import { compactDay, compactedKeys, OBJECT_MARK, readManifest, type CompactOutcome, type CompactS3, type ReadLines } from '@raxx/log-drain-receiver/compacted';
import { DAY_MS, parseObjectKey } from '@raxx/log-drain-receiver/object-key';
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
            ...(parquet ? { toParquet: (records: Buffer) => parquet.toParquet(records) } : {}),
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
  openText(key: string): Promise<AsyncIterable<string> | undefined>;
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
    return `${obj.app}/${Math.floor(obj.time / DAY_MS)}`;
  }

  private static date(id: string, app: string): string {
    return new Date(Number(id.slice(app.length + 1)) * DAY_MS).toISOString().slice(0, 10);
  }

  /** The manifest's keys of the object's day, fetched once per app-day (404 → not compacted). */
  covers(obj: LogObject): Promise<boolean> {
    const id = this.dayOf(obj);
    let m = this.manifests.get(id);
    if (!m) {
      // A manifest that cannot be read (not there, no permission on compacted/) means raw reads.
      m = readManifest(this.source, obj.app, CompactedDays.date(id, obj.app), this.root).then(
        (x) => (x ? new Set(x.keys) : undefined),
        () => undefined,
      );
      this.manifests.set(id, m);
    }
    return m.then((keys) => keys?.has(obj.key) ?? false);
  }

  /**
   * The stored lines of objects of one app-day, asked for in key order; undefined for one the
   * day's lines.gz does not hold (the caller reads it raw).
   */
  linesOf(objs: readonly LogObject[]): Promise<(string[] | undefined)[]> {
    if (objs.length === 0) return Promise.resolve([]);
    const first = objs[0]!;
    const id = this.dayOf(first);
    let cursor = this.cursors.get(id);
    if (!cursor) {
      this.daysOpened += 1;
      cursor = new DayCursor(() => this.source.openText(compactedKeys(first.app, CompactedDays.date(id, first.app), this.root).lines));
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

/**
 * Reads one lines.gz forward: records of `\u0000<key>\n` and the object's lines, in key order.
 * Requests come in key order (the scan starts objects in listing order), so each take() reads
 * on to its keys, dropping the records nobody asked for (outside the window). The text is cut
 * per record with indexOf over the decoded chunks, not line by line through an async
 * iterator: a day is some 100,000 lines, and an await per line cost more than the gunzip
 * (compacted month grep: 19.5 s with one await per line).
 */
export class DayCursor {
  private it: AsyncIterator<string> | undefined;
  private opened: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Decoded text not consumed yet; `pos` is where the next record starts. */
  private text = '';
  private pos = 0;
  private ended = false;

  constructor(private readonly openText: () => Promise<AsyncIterable<string> | undefined>) {}

  take(keys: readonly string[]): Promise<(string[] | undefined)[]> {
    const p = this.chain.then(() => this.advance(keys));
    // Not p.catch(): that would hold the last batch's lines (and the text they are cut from)
    // for as long as the cursor lives.
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
    this.text = this.pos > 0 ? this.text.slice(this.pos) + next.value : this.text + next.value;
    this.pos = 0;
    return true;
  }

  private async advance(keys: readonly string[]): Promise<(string[] | undefined)[]> {
    this.opened ??= this.openText().then((src) => {
      this.it = src?.[Symbol.asyncIterator]();
      if (!this.it) this.ended = true;
    });
    await this.opened;
    const out: (string[] | undefined)[] = [];
    for (const key of keys) out.push(await this.one(key));
    // A day read to its end keeps nothing.
    if (this.ended && this.pos >= this.text.length) this.text = '';
    return out;
  }

  private async one(key: string): Promise<string[] | undefined> {
    for (;;) {
      // The header line of the next record.
      let nl = this.text.indexOf('\n', this.pos);
      while (nl === -1) {
        if (!(await this.more())) return undefined;
        nl = this.text.indexOf('\n', this.pos);
      }
      if (this.text[this.pos] !== OBJECT_MARK) {
        // Not a record start (a damaged file): skip to the next one.
        const at = this.text.indexOf(`\n${OBJECT_MARK}`, this.pos);
        if (at === -1) {
          // Keep the last character: it may be the newline before the next chunk's header.
          this.pos = Math.max(this.pos, this.text.length - 1);
          if (!(await this.more())) return undefined;
        } else this.pos = at + 1;
        continue;
      }
      const header = this.text.slice(this.pos + 1, nl);
      // Past it: the key is not in this file.
      if (header > key) return undefined;
      // The record's end: the next header, or the end of the file.
      let searchFrom = nl;
      let end = this.text.indexOf(`\n${OBJECT_MARK}`, searchFrom);
      while (end === -1) {
        const offset = this.text.length - this.pos;
        const start = this.pos;
        if (!(await this.more())) {
          end = this.text.endsWith('\n') ? this.text.length - 1 : this.text.length;
          break;
        }
        // more() moved the text: the record still starts at pos (0); search on from where we were.
        nl = nl - start;
        searchFrom = Math.max(nl, offset - 1);
        end = this.text.indexOf(`\n${OBJECT_MARK}`, searchFrom);
      }
      this.pos = end + 1;
      if (header !== key) continue;
      const body = this.text.slice(nl + 1, end);
      return body === '' ? [] : body.split('\n');
    }
  }

  async close(): Promise<void> {
    await this.it?.return?.();
  }
}

/** A gzip body's text in decoded chunks (the decoder keeps multi-byte characters whole). */
export async function* gunzipText(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const { createGunzip } = await import('node:zlib');
  const { Readable } = await import('node:stream');
  const gunzip = Readable.from(body).pipe(createGunzip({ chunkSize: 256 * 1024 }));
  gunzip.setEncoding('utf8');
  try {
    yield* gunzip as AsyncIterable<string>;
  } finally {
    gunzip.destroy();
    // Unpiped, not ended: the body's socket is let go of, not left half read.
    (body as { destroy?: () => void }).destroy?.();
  }
}
