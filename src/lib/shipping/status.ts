// The shipped sources as `logs status` shows them: the last days of each (present, missing,
// empty) and the recent runs from the shipping history.
import { setMaxListeners } from 'node:events';
import type { Context } from '../run/context.js';
import type { SourceStatus } from './ship.js';
import type { RunRecord } from './history.js';
import { resolveSource } from '../core/config.js';

export async function shippedSources(ctx: Context, names: string[]): Promise<SourceStatus[]> {
  if (names.length === 0) return [];
  const lib = await import('./ship.js');
  const s3 = await ctx.aws.s3();
  const days = lib.lastDays(ctx.now().getTime(), lib.SOURCE_STATUS_DAYS);
  // Every day of every source is listed at once, each request listening on the one signal.
  setMaxListeners(names.length * days.length + 10, ctx.signal);
  try {
    return await Promise.all(
      names.map((name) => lib.sourceStatus(s3, { source: resolveSource(ctx.config, name), keyPrefix: ctx.config.drain.keyPrefix, days, signal: ctx.signal, endpoint: ctx.aws.endpointOf('S3') })),
    );
  } catch (err) {
    ctx.checkInterrupted();
    throw err;
  }
}

export async function shippingHistory(ctx: Context, names: string[], limit: number): Promise<{ source: string; bucket: string; runs: RunRecord[]; total: number }[]> {
  const { lastRuns } = await import('./history.js');
  const { bucketError } = await import('./ship.js');
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
