// Restoring deleted attachments in bulk. The delete markers above each key's newest data version
// go in DeleteObjects requests (up to 1,000 version ids each, `concurrency` requests in flight),
// then one listing, not a HEAD per key, says what reads now. A request whose answer was lost may
// have landed: its keys are re-read from that listing before anything is sent again, and only a
// marker still listed is sent again. Only version ids the listing gave as delete markers are
// ever sent, so a data version cannot be deleted.
import type { Context } from '../run/context.js';
import { awsSend, sdkCause } from '../aws/call.js';
import { byKey, listVersions, s3Error, type KeyVersions, type VersionEntry } from './attachments.js';
import { ServiceError, UnknownOutcomeError, type UserError } from '../core/errors.js';
import { orderedPool } from '../core/ordered-pool.js';
import { sleep } from '../core/sleep.js';

/** S3's limit of objects in one DeleteObjects request. */
export const MAX_BATCH = 1000;
/** Attempts refused for a passing reason (throttling, a 5xx, no answer) before a key is reported failed. */
const MAX_TRIES = 3;
/** Rounds (removals, then a listing) a key may take: markers stacked in one second come off one a round. */
const MAX_ROUNDS = 12;

export interface RestoreOutcome {
  key: string;
  /** The latest entry is a data version now. */
  restored: boolean;
  /** Delete markers this run asked S3 to remove that are no longer listed. */
  removed: string[];
  /** The data version that reads now (restored), or the newest one left. */
  current: string | undefined;
  error?: UserError;
}

export interface RestoreOptions {
  /** DeleteObjects requests in flight (and listings, when keys are re-read one by one). */
  concurrency: number;
  /** The prefix the plan listed and how many entries it held: what a whole re-read costs. */
  scope: { prefix: string; entries: number };
  pageSize?: number | undefined;
  /** Keys whose removals S3 has answered so far (first round), then the re-read. */
  progress?: (answered: number, phase: 'removing' | 'listing') => void;
}

/**
 * The markers of a deleted key that are certainly above its newest data version: the latest
 * entry, and any marker in a later second than every data version. Listings give whole seconds,
 * so a marker in the same second as the newest data may lie beneath it (history, kept): it is
 * removed only once a listing shows it as the latest entry.
 */
export function markersToRemove(k: KeyVersions): VersionEntry[] {
  if (!k.latest?.deleteMarker || k.data.length === 0) return [];
  const newest = Math.max(...k.data.map((d) => d.lastModified?.getTime() ?? Infinity));
  return k.markers.filter((m) => m === k.latest || (m.lastModified?.getTime() ?? -Infinity) > newest);
}

/**
 * Splits into requests: about two per slot, at most 1,000 objects each. A request costs S3 far
 * more than an object in it, so fewer is faster; two waves rather than one keep the progress
 * moving and let Ctrl-C stop between them.
 */
export function batches<T>(items: T[], concurrency: number): T[][] {
  const size = Math.min(MAX_BATCH, Math.max(1, Math.ceil(items.length / (concurrency * 2))));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface KeyState {
  listed: KeyVersions;
  sent: Set<string>;
  tries: number;
  rounds: number;
  /** This round's failure, and whether another try may succeed. */
  error: UserError | undefined;
  passing: boolean;
}

/** Removes the delete markers hiding `keys` (as the plan listed them); one outcome per key, in order. */
export async function restoreDeleted(ctx: Context, bucket: string, keys: KeyVersions[], opts: RestoreOptions): Promise<RestoreOutcome[]> {
  const state = new Map<string, KeyState>(keys.map((k) => [k.key, { listed: k, sent: new Set(), tries: 0, rounds: 0, error: undefined, passing: false }]));
  const outcomes = new Map<string, RestoreOutcome>();
  const answered = new Set<string>();
  let pending = keys.map((k) => k.key);
  let pause = 500;
  while (pending.length > 0) {
    const items = pending.flatMap((key) => markersToRemove(state.get(key)!.listed));
    assertMarkers(items);
    const unanswered = new Map<string, number>();
    for (const key of pending) Object.assign(state.get(key)!, { error: undefined, passing: false, rounds: state.get(key)!.rounds + 1 });
    for (const m of items) {
      state.get(m.key)!.sent.add(m.versionId);
      unanswered.set(m.key, (unanswered.get(m.key) ?? 0) + 1);
    }
    const pool = orderedPool(
      batches(items, opts.concurrency),
      async (batch, signal) => {
        const failed = await deleteMarkers(ctx, bucket, batch, signal);
        for (const m of batch) {
          const f = failed.get(m.key);
          const st = state.get(m.key)!;
          if (f) Object.assign(st, { error: f.error, passing: f.passing });
          const left = unanswered.get(m.key)! - 1;
          unanswered.set(m.key, left);
          if (left === 0 && !st.error && !answered.has(m.key)) answered.add(m.key);
        }
        opts.progress?.(answered.size, 'removing');
      },
      { concurrency: opts.concurrency, signal: ctx.signal },
    );
    for await (const _ of pool) ctx.checkInterrupted();

    // Whatever S3 answered, or did not, the listing says what reads now.
    opts.progress?.(answered.size, 'listing');
    const fresh = await reread(ctx, bucket, pending, items.length, opts);
    const next: string[] = [];
    let passingFailure = false;
    for (const key of pending) {
      const st = state.get(key)!;
      const k = fresh.get(key);
      const listed = new Set(k ? [...k.data, ...k.markers].map((e) => e.versionId) : []);
      const removed = [...st.sent].filter((id) => !listed.has(id));
      const fail = (error: UserError) => outcomes.set(key, { key, restored: false, removed, current: k?.data[0]?.versionId, error });
      if (!k || k.data.length === 0) {
        fail(new ServiceError('S3', `${key} has no data version left to restore`, { hint: 'its versions were deleted while restoring (a lifecycle rule, or someone else); nothing in this bucket can bring it back' }));
        continue;
      }
      if (!k.latest?.deleteMarker) {
        outcomes.set(key, { key, restored: true, removed, current: k.latest?.versionId ?? k.data[0]!.versionId });
        continue;
      }
      st.listed = k;
      if (st.error && (!st.passing || ++st.tries >= MAX_TRIES)) fail(st.error);
      else if (st.rounds >= MAX_ROUNDS) {
        fail(new ServiceError('S3', `${key} still reads as deleted after ${st.rounds} rounds of removing its delete markers`, { hint: 'something keeps deleting it (the backend, a script): find out what before restoring again' }));
      } else {
        passingFailure ||= st.error !== undefined;
        next.push(key);
      }
    }
    pending = next;
    if (passingFailure && pending.length > 0) {
      // Throttled or unanswered: give S3 a moment before sending what is still listed.
      await sleep(pause, ctx.signal);
      ctx.checkInterrupted();
      pause = Math.min(pause * 2, 8000);
    }
  }
  return keys.map((k) => outcomes.get(k.key)!);
}

/** Deleting by version id is permanent: only what the listing gave as a delete marker, checked before anything is sent. */
function assertMarkers(items: VersionEntry[]): void {
  const bad = items.find((m) => !m.deleteMarker);
  if (bad) throw new Error(`refusing to delete ${bad.key} version ${bad.versionId}: it is a data version, not a delete marker`);
}

/**
 * One DeleteObjects request; returns the keys S3 refused (its Errors[]), or every key of the
 * request when the request itself failed. Sent once: the SDK would resend a request whose answer
 * was lost, and here the listing is read before anything is sent again.
 */
async function deleteMarkers(ctx: Context, bucket: string, batch: VersionEntry[], signal: AbortSignal): Promise<Map<string, { error: UserError; passing: boolean }>> {
  assertMarkers(batch);
  const s3 = await ctx.aws.s3();
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  const cmd = new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((m) => ({ Key: m.key, VersionId: m.versionId })), Quiet: true } });
  let first: unknown;
  let sent = false;
  cmd.middlewareStack.add(
    (next) => async (args) => {
      // Inside the SDK's retry loop: a second attempt ends it, with the first attempt's error.
      if (sent) throw Object.assign(new Error('not resent before re-reading'), { name: 'NotResent' });
      sent = true;
      try {
        return await next(args);
      } catch (err) {
        first = err;
        throw err;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'sendOnceMiddleware' },
  );
  const failed = new Map<string, { error: UserError; passing: boolean }>();
  try {
    const res = await awsSend(s3, cmd, { signal });
    for (const e of res.Errors ?? []) {
      if (!e.Key) continue;
      const code = e.Code ?? 'Error';
      failed.set(e.Key, {
        error: new ServiceError('S3', `S3 refused to remove delete marker ${e.VersionId ?? '?'} of ${e.Key}: ${code}${e.Message ? ` (${e.Message})` : ''}`, {
          code,
          hint: code === 'AccessDenied' ? 'the AWS identity needs s3:DeleteObjectVersion on the bucket (docs/permissions.md); check --profile' : 'run the same command again: it plans from what S3 lists',
        }),
        passing: PASSING_CODES.has(code),
      });
    }
  } catch (err) {
    if (signal.aborted) throw err;
    const raw = sdkCause(err);
    const cause = raw.name === 'NotResent' ? first : raw;
    const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (cause as { name?: string }).name ?? 'Error';
    const action = `DeleteObjects (${batch.length} delete markers)`;
    // No answer (a time-out, a broken connection): the removals may have landed.
    const error = status === undefined ? new UnknownOutcomeError('S3', `S3 did not answer ${action} (${name}); the removals may have landed`, name, cause) : (s3Error(ctx, cause, action, bucket) as UserError);
    const passing = status === undefined || status >= 500 || status === 429 || PASSING_CODES.has(name);
    for (const m of batch) failed.set(m.key, { error, passing });
  }
  return failed;
}

/** Refusals another try may get past: throttling, S3's own failures, a clock the SDK has corrected since. */
const PASSING_CODES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeTooSkewed', 'OperationAborted']);

/**
 * What S3 lists now for `keys`: the plan's prefix listed again when that is fewer round trips
 * (its pages come one after another), else one listing per key, `concurrency` at a time.
 */
async function reread(ctx: Context, bucket: string, keys: string[], sent: number, opts: RestoreOptions): Promise<Map<string, KeyVersions>> {
  const pages = Math.max(1, Math.ceil((opts.scope.entries - sent) / (opts.pageSize ?? 1000)));
  const wanted = new Set(keys);
  try {
    if (keys.length > pages * opts.concurrency) {
      const all = byKey((await listVersions(ctx, bucket, opts.scope.prefix, opts.pageSize)).filter((e) => wanted.has(e.key)));
      return new Map(all.map((k) => [k.key, k]));
    }
    const out = new Map<string, KeyVersions>();
    const pool = orderedPool(keys, async (key, signal) => byKey((await listVersions(ctx, bucket, key, opts.pageSize, signal)).filter((e) => e.key === key))[0], { concurrency: opts.concurrency, signal: ctx.signal });
    for await (const { item, value } of pool) if (value) out.set(item, value);
    return out;
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    const e = err as UserError & { code?: string };
    throw new UnknownOutcomeError('S3', `removals of delete markers were sent, then what reads now could not be listed: ${e.message}`, e.code ?? 'Error', err, 'run the same command again: it plans from what S3 lists, so it removes only the markers still there');
  }
}
