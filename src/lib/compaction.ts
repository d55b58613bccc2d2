// The CLI's side of compacted days (the layout, record format and compaction itself belong to
// the receiver package, which also runs them on a schedule): the S3 calls over the SDK, and
// the grep path's concurrent reader, so `logs compact` reads a day as fast as `logs grep`.
import { compactDay, readManifest, type CompactOutcome, type CompactS3, type Manifest, type ReadLines } from '@raxx/log-drain-receiver/compacted';
import { parseObjectKey } from '@raxx/log-drain-receiver/object-key';
import type { Context } from './context.js';
import { awsError } from './aws.js';
import type { LineVisitor, LogObject, LogStore } from './log-store.js';
import { orderedPool } from './ordered-pool.js';

export async function compactS3(ctx: Context, bucket: string): Promise<CompactS3> {
  const s3 = await ctx.aws.s3();
  const { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const endpoint = ctx.aws.endpointOf('S3');
  const signal = ctx.signal;
  return {
    async listKeys(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3
          .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: signal })
          .catch((err: unknown) => {
            throw awsError(err, 'S3', `ListObjectsV2 s3://${bucket}/${prefix}`, endpoint);
          });
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async getObject(key) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
        return Buffer.from(await res.Body!.transformToByteArray());
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
        throw awsError(err, 'S3', `GetObject s3://${bucket}/${key}`, endpoint);
      }
    },
    async putObject(key, body, contentType, metadata) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata }), { abortSignal: signal }).catch((err: unknown) => {
        throw awsError(err, 'S3', `PutObject s3://${bucket}/${key}`, endpoint);
      });
    },
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

/** The manifest of an app-day, if it was compacted. */
export async function manifestOf(ctx: Context, app: string, day: number): Promise<Manifest | undefined> {
  return readManifest(await compactS3(ctx, ctx.config.drain.bucket), app, day, ctx.config.query.compactedPrefix);
}
