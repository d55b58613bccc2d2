// The CLI's side of compacted days (the layout, record format and compaction itself belong to
// the receiver package, which also runs them on a schedule): the S3 calls over the SDK, and
// the grep path's concurrent reader, so `logs compact` reads a day as fast as `logs grep`.
import { compactDay, compactedKeys, OBJECT_MARK, readManifest, type CompactOutcome, type CompactS3, type ReadLines } from '@raxx/log-drain-receiver/compacted';
import { parseObjectKey } from '@raxx/log-drain-receiver/object-key';
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
  for (const app of run.apps) {
    for (const day of run.days) {
      ctx.checkInterrupted();
      const r = await compactDay(
        { s3, keyPrefix: ctx.config.drain.keyPrefix, compactedRoot: ctx.config.query.compactedPrefix, read, now: ctx.now().getTime(), force: run.force, dryRun: run.dryRun },
        app,
        day,
      );
      results.push(r);
      run.onResult?.(r);
    }
  }
  return results;
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
    private readonly s3: CompactS3,
    private readonly open: (key: string) => Promise<AsyncIterable<string> | undefined>,
    private readonly root: string,
  ) {}

  private dayOf(obj: LogObject): string {
    return new Date(obj.time).toISOString().slice(0, 10);
  }

  /** The manifest's keys of the object's day, fetched once per app-day (404 → not compacted). */
  covers(obj: LogObject): Promise<boolean> {
    const id = `${obj.app}/${this.dayOf(obj)}`;
    let m = this.manifests.get(id);
    if (!m) {
      // A manifest that cannot be read (not there, no permission on compacted/) means raw reads.
      m = readManifest(this.s3, obj.app, this.dayOf(obj), this.root).then(
        (x) => (x ? new Set(x.keys) : undefined),
        () => undefined,
      );
      this.manifests.set(id, m);
    }
    return m.then((keys) => keys?.has(obj.key) ?? false);
  }

  /** The object's stored lines from its day's lines.gz; undefined when they are not there. */
  lines(obj: LogObject): Promise<readonly string[] | undefined> {
    const id = `${obj.app}/${this.dayOf(obj)}`;
    let cursor = this.cursors.get(id);
    if (!cursor) {
      this.daysOpened += 1;
      cursor = new DayCursor(() => this.open(compactedKeys(obj.app, this.dayOf(obj), this.root).lines));
      this.cursors.set(id, cursor);
    }
    return cursor.take(obj.key).then((l) => {
      if (l) this.served += 1;
      return l;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.cursors.values()].map((c) => c.close()));
  }
}

/**
 * Reads one lines.gz forward. Requests come in key order (the scan starts objects in listing
 * order), so each take() reads on to its key, dropping the objects before it that nobody
 * asked for (outside the window); at most one object's lines are held at a time.
 */
class DayCursor {
  private it: AsyncIterator<string> | undefined;
  private opened: Promise<void> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pendingHeader: string | undefined;
  private done = false;

  constructor(private readonly openLines: () => Promise<AsyncIterable<string> | undefined>) {}

  take(key: string): Promise<readonly string[] | undefined> {
    const p = this.chain.then(() => this.advance(key));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async advance(key: string): Promise<readonly string[] | undefined> {
    this.opened ??= this.openLines().then((src) => {
      this.it = src?.[Symbol.asyncIterator]();
      if (!this.it) this.done = true;
    });
    await this.opened;
    for (;;) {
      // Find the header of the next object.
      let header = this.pendingHeader;
      this.pendingHeader = undefined;
      while (header === undefined) {
        if (this.done) return undefined;
        const next = await this.it!.next();
        if (next.done) {
          this.done = true;
          return undefined;
        }
        if (next.value.startsWith(OBJECT_MARK)) header = next.value.slice(1);
      }
      if (header > key) {
        // Past it: the key is not in this file (the caller reads it raw).
        this.pendingHeader = header;
        return undefined;
      }
      const lines: string[] = [];
      for (;;) {
        const next = await this.it!.next();
        if (next.done) {
          this.done = true;
          break;
        }
        if (next.value.startsWith(OBJECT_MARK)) {
          this.pendingHeader = next.value.slice(1);
          break;
        }
        if (header === key) lines.push(next.value);
      }
      if (header === key) return lines;
    }
  }

  async close(): Promise<void> {
    await this.it?.return?.();
  }
}

/** The lines of a gzip object, streamed (the decoder keeps multi-byte characters whole). */
export async function* gzipLines(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const { createGunzip } = await import('node:zlib');
  const { Readable } = await import('node:stream');
  const gunzip = Readable.from(body).pipe(createGunzip());
  gunzip.setEncoding('utf8');
  let carry = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<string>) {
      let from = 0;
      const text = carry + chunk;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
        yield text.slice(from, nl);
        from = nl + 1;
      }
      carry = text.slice(from);
    }
    if (carry !== '') yield carry;
  } finally {
    gunzip.destroy();
  }
}
