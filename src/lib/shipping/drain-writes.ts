// The one way the CLI writes raw objects into the drain layout (`<prefix><app>/YYYY/MM/DD/…`):
// a day's compacted form is trusted without listing once the day is closed (@raxx/log-format's
// closed-days.ts), so a write that may land in such a day first takes that trust away:
//   1. a stale mark `<id>.open` per app-day the keys fall in; if one cannot be written (an
//      error, a time-out whose outcome is unknown), NOTHING is written: the caller gets exit 4;
//   2. the write, aborted if it is still running WRITE_BUDGET_MS after step 1 began (the mark
//      promises readers nothing lands later than that);
//   3. `<id>.settled` once the write has succeeded: the day can be trusted again after its
//      next compaction. A write that failed, timed out or was interrupted may still have
//      landed (or land while its connection closes), so its mark stays open: the day is read
//      by listing until the budget has passed and it is compacted again. A settle that fails
//      does the same: never trusted too early.
// The receiver itself writes only before a day's horizon and needs no mark. test/lib/
// drain-writes.test.ts fails if a PutObject, Upload or copy into the layout bypasses this.
import { randomUUID } from 'node:crypto';
import { writeMarks, WRITE_BUDGET_MS } from '@raxx/log-format/closed-days';
import { parseObjectKey, startOfUtcDay } from '@raxx/log-format/object-key';
import { awsError } from '../aws/clients.js';
import { awsSend } from '../aws/call.js';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Context } from '../run/context.js';
import { InterruptedError, ServiceError } from '../core/errors.js';

/** A write stopped this long before the budget ends, so that it cannot land after it. */
const BUDGET_MARGIN_MS = 5 * 60_000;

export interface DrainWrite {
  /** The bucket written to (the marks go beside its compacted days). */
  bucket: string;
  /** Every key the write may create or replace. */
  keys: readonly string[];
  /** Test seam: how long the write may run (default WRITE_BUDGET_MS less a margin). */
  budgetMs?: number;
}

/** The app-days of the drain layout that the keys fall in (`app/dayMs`). */
export function daysWritten(keys: readonly string[], keyPrefix: string): { app: string; day: number }[] {
  const seen = new Map<string, { app: string; day: number }>();
  for (const key of keys) {
    const p = parseObjectKey(key, keyPrefix);
    if (p) seen.set(`${p.app}/${startOfUtcDay(p.epochMs)}`, { app: p.app, day: startOfUtcDay(p.epochMs) });
  }
  return [...seen.values()];
}

/** What a marked write needs: the CLI's context gives it (markDeps), the shipping Lambda builds its own. */
export interface MarkDeps {
  s3: Pick<S3Client, 'send'>;
  keyPrefix: string;
  compactedRoot: string;
  signal: AbortSignal;
  endpoint: string;
  warn: (message: string) => void;
}

export async function markDeps(ctx: Context): Promise<MarkDeps> {
  return { s3: await ctx.aws.s3(), keyPrefix: ctx.config.drain.keyPrefix, compactedRoot: ctx.config.query.compactedPrefix, signal: ctx.signal, endpoint: ctx.aws.endpointOf('S3'), warn: (m) => ctx.out.warn(m) };
}

/**
 * Runs `write` (which must pass on the signal it is given to every request) with the days it
 * writes into marked stale around it. Returns what `write` returns.
 */
export async function writeIntoDrainDays<T>(deps: MarkDeps, target: DrainWrite, write: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const days = daysWritten(target.keys, deps.keyPrefix);
  // Started before the marks are sent: S3 stamps them later than this, so the write ends before mark + budget.
  const deadline = AbortSignal.timeout(target.budgetMs ?? WRITE_BUDGET_MS - BUDGET_MARGIN_MS);
  const ctx = { signal: deps.signal };
  if (days.length === 0) return write(ctx.signal);
  const { s3, endpoint, compactedRoot: root } = deps;
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const marks = days.map((d) => ({ ...d, ...writeMarks(d.app, d.day, root, randomUUID()) }));
  const put = (key: string) => awsSend(s3, new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: '', ContentType: 'application/octet-stream' }), { signal: ctx.signal, endpoint });
  for (const m of marks) {
    try {
      await put(m.open);
    } catch (err) {
      const e = awsError(err, 'S3', `PutObject s3://${target.bucket}/${m.open}`, endpoint);
      if (e instanceof InterruptedError) throw e;
      // Not written, or written with no answer: either way the data is not, so no reader can miss it.
      throw new ServiceError('S3', `could not mark ${m.app} ${new Date(m.day).toISOString().slice(0, 10)} as changed before writing into it, so nothing was written: ${e.message}`, {
        code: (e as ServiceError).code ?? 'StaleMarkFailed',
        hint: `the bucket must allow s3:PutObject on ${root}stale/ (docs/permissions.md); run the command again once S3 answers`,
        cause: err,
      });
    }
  }
  const signal = AbortSignal.any([ctx.signal, deadline]);
  let result: T;
  try {
    result = await write(signal);
  } catch (err) {
    if (deadline.aborted && !ctx.signal.aborted) {
      throw new ServiceError('S3', `the write into ${marks.map((m) => `${m.app} ${new Date(m.day).toISOString().slice(0, 10)}`).join(', ')} ran past its time budget and was stopped`, {
        code: 'WriteBudgetExceeded',
        hint: 'run it again on a faster connection; readers list those days until they are compacted again',
        cause: err,
      });
    }
    throw err;
  }
  for (const m of marks) {
    const settle = new PutObjectCommand({ Bucket: target.bucket, Key: m.settled, Body: '', ContentType: 'application/octet-stream' });
    await awsSend(s3, settle, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(30_000)]), endpoint }).catch((err: unknown) => {
      deps.warn(`could not note that the write into ${m.app} ${new Date(m.day).toISOString().slice(0, 10)} is done (${(err as Error).message}); that day is read by listing until it is compacted again ${Math.round(WRITE_BUDGET_MS / 60_000)} min from now`);
    });
  }
  return result;
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
  const deps = await markDeps(ctx);
  // The clock that dates the batch may be off: the day it lands in may be closed.
  await writeIntoDrainDays(deps, { bucket, keys: [key] }, async (signal) => {
    await awsSend(deps.s3, new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(body), ContentType: 'application/gzip', IfNoneMatch: '*' }), { signal, endpoint: ctx.aws.endpointOf('S3') });
  });
  return key;
}
