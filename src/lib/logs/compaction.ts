// `logs compact`'s side of compaction (the layout, record format and compactDay itself are
// @raxx/log-format's; the receiver runs them on a schedule too): the S3 calls with the CLI's
// error mapping, the grep path's concurrent reader, so a day compacts as fast as grep reads
// it, and the days of a window compacted in turn. Reading compacted days: compacted-days.ts.
import type { CompactOutcome, CompactS3, ParquetExpectation, ReadLines } from '@raxx/log-format/compacted';
import { compactDay } from '@raxx/log-format/compact-day';
import { parseObjectKey } from '@raxx/log-format/object-key';
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

