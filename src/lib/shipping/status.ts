// The shipped sources as `logs status` shows them: the last days of each (present, missing,
// empty) and the recent runs from the shipping history.
import type { Context } from '../run/context.js';
import type { RunRecord } from './history.js';
import { resolveSource } from '../core/config.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { InterruptedError } from '../core/errors.js';
import { branch } from '../core/abort.js';
import { dayListPrefix, shippedKey, type Layout } from './layout.js';
import { bucketError, META } from './upload.js';

export async function shippedSources(ctx: Context, names: string[]): Promise<SourceStatus[]> {
  if (names.length === 0) return [];
  const { lastDays } = await import('./layout.js');
  const s3 = await ctx.aws.s3();
  const days = lastDays(ctx.now().getTime(), SOURCE_STATUS_DAYS);
  try {
    return await Promise.all(
      names.map((name) => sourceStatus(s3, { source: resolveSource(ctx.config, name), keyPrefix: ctx.config.drain.keyPrefix, days, signal: ctx.signal, endpoint: ctx.aws.endpointOf('S3') })),
    );
  } catch (err) {
    ctx.checkInterrupted();
    throw err;
  }
}

export async function shippingHistory(ctx: Context, names: string[], limit: number): Promise<{ source: string; bucket: string; runs: RunRecord[]; total: number }[]> {
  const { lastRuns } = await import('./history.js');
  const { bucketError } = await import('./upload.js');
  const s3 = await ctx.aws.s3();
  return Promise.all(
    names.map(async (name) => {
      const { bucket } = resolveSource(ctx.config, name);
      try {
        const { runs, unreadable, total } = await lastRuns(s3, bucket, name, limit, ctx.signal);
        if (unreadable > 0) ctx.out.warn(`${name}: ${unreadable} run record(s) could not be read`);
        return { source: name, bucket, runs, total };
      } catch (err) {
        ctx.checkInterrupted();
        throw bucketError(err, bucket, 'ListObjectsV2', ctx.aws.endpointOf('S3'));
      }
    }),
  );
}

/** The runbook's window: 7 days per log type. */
export const SOURCE_STATUS_DAYS = 7;

export interface SourceDayStatus {
  day: string;
  objects: number;
  /** Lines of the shipped object (its metadata); null when the day has none. */
  entries: number | null;
  bytes: number;
  missing: boolean;
}

export interface SourceStatus {
  source: string;
  required: boolean;
  bucket: string;
  layout: Layout;
  entries: number;
  bytes: number;
  missing: string[];
  /** The runbook's table: healthy; a missing day is a warning for an optional source, critical for a required one. */
  health: 'healthy' | 'warning' | 'critical';
  days: SourceDayStatus[];
}

export async function sourceStatus(
  s3: S3Client,
  opts: { source: { name: string; required: boolean; bucket: string; layout: Layout }; keyPrefix: string; days: string[]; signal: AbortSignal; endpoint: string },
): Promise<SourceStatus> {
  const { paginateListObjectsV2, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const { source } = opts;
  const days = await Promise.all(
    opts.days.map(async (day): Promise<SourceDayStatus> => {
      // Every day of every source is listed at once: each on a signal of its own.
      const signal = branch(opts.signal);
      const prefix = dayListPrefix(source.layout, opts.keyPrefix, source.name, day);
      const shipped = shippedKey(source.layout, opts.keyPrefix, source.name, day);
      let objects = 0;
      let bytes = 0;
      let hasShipped = false;
      try {
        for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: source.bucket, Prefix: prefix }, { abortSignal: signal })) {
          for (const o of page.Contents ?? []) {
            objects += 1;
            bytes += o.Size ?? 0;
            if (o.Key === shipped) hasShipped = true;
          }
        }
        let entries: number | null = null;
        if (hasShipped) {
          const head = await s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: shipped }), { abortSignal: signal });
          // Objects shipped before the entries count count lines.
          const n = Number(head.Metadata?.[META.entries] ?? head.Metadata?.[META.lines]);
          entries = Number.isFinite(n) ? n : null;
        }
        // A shipped object with no entries (an empty file) is not the day's logs.
        return { day, objects, entries, bytes, missing: objects === 0 || (hasShipped && objects === 1 && entries === 0) };
      } catch (err) {
        if (opts.signal.aborted) throw new InterruptedError();
        throw bucketError(err, source.bucket, 'ListObjectsV2', opts.endpoint);
      }
    }),
  );
  const missing = days.filter((d) => d.missing).map((d) => d.day);
  return {
    source: source.name,
    required: source.required,
    bucket: source.bucket,
    layout: source.layout,
    entries: days.reduce((n, d) => n + (d.entries ?? 0), 0),
    bytes: days.reduce((n, d) => n + d.bytes, 0),
    missing,
    health: missing.length === 0 ? 'healthy' : source.required ? 'critical' : 'warning',
    days,
  };
}
