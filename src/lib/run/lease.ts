// A lease that changing commands take before they change anything, so two operators (or two
// terminals) cannot rotate, wire and prune at once. It is an S3 object in the drain bucket,
// written with a condition: created only if absent (If-None-Match: *), renewed and taken
// over only if unchanged since read (If-Match: its ETag). Everyone with the tool sees it, it
// needs no extra infrastructure, and S3's conditional writes make both steps atomic.
//
// Time is S3's: a lease's age is the response's Date minus the object's LastModified, both
// stamped by S3, so two laptops whose clocks disagree by minutes still agree on whether a lease
// is live. The holder's own clock only decides when it renews, and it stops changing things
// once it could not renew for half the TTL: before anyone else may judge the lease expired.
import { hostname, userInfo } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sleep } from '../core/sleep.js';
import { awsError } from '../aws/clients.js';
import { awsSend, sdkCause } from '../aws/call.js';
import type { Context } from './context.js';

/** A signal that never aborts: for the writes whose outcome the run must learn. */
const UNCUT = new AbortController().signal;
import { ServiceError } from '../core/errors.js';

export const LEASE_PREFIX = 'raxx-ops/leases/';
/** How long a lease lives without renewal: a crashed run on another host blocks others no longer than this. */
export const LEASE_TTL_MS = 10 * 60_000;
const RENEW_EVERY_MS = 2 * 60_000;

export interface LeaseRecord {
  name: string;
  /** user@host, for people. */
  owner: string;
  /** The holder's host and process: a holder on this host whose process is gone is dead for sure. */
  host?: string;
  pid?: number;
  command: string;
  startedAt: string;
  /** By the holder's clock: informative only, never used to judge expiry. */
  expiresAt: string;
  /** How long the lease lives without renewal, judged by S3's clock. */
  ttlMs?: number;
  token: string;
}

export interface LeaseOptions {
  /** Take over the lease whoever holds it, after showing the holder and a typed confirmation. */
  force?: boolean;
  /** Wait up to this long for a held lease to be released. */
  waitMs?: number;
  ttlMs?: number;
}

export class LeaseHeldError extends ServiceError {
  readonly holder: LeaseRecord;
  constructor(holder: LeaseRecord, state: { expired: boolean; expiredAt: string }) {
    const since = holder.startedAt.replace(/\.\d+Z$/, 'Z');
    super('raxx-ops', `${holder.owner} holds the ${holder.name} lease (running \`${holder.command}\` since ${since})${state.expired ? `; it expired at ${state.expiredAt} (S3's clock)` : ''}`, {
      code: 'LeaseHeld',
      hint: state.expired
        ? 'that run seems to have died: check with its owner, then rerun with --force to take the lease over'
        : `wait for it to finish (rerun with --wait 600), or ask ${holder.owner}; it expires at ${state.expiredAt} (S3's clock) unless renewed; --force takes it over (asks first)`,
    });
    this.holder = holder;
  }
}

/** The run lost its lease: it stopped changing things and rolled back what it could (exit 4). */
export class LeaseLostError extends ServiceError {
  constructor(name: string, why: string) {
    super('raxx-ops', `lost the ${name} lease (${why}): stopped so as not to change things beside another run`, {
      code: 'LeaseLost',
      hint: 'see what the other run did (the command with --dry-run shows what is left), then run it again',
    });
  }
}

export interface Lease {
  record: LeaseRecord;
  /** Stops renewing and deletes the lease if it is still ours. */
  release(): Promise<void>;
}

function user(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown'; // no passwd entry (containers): the host still tells operators apart
  }
}

/** Whether a process of this host is running (EPERM: it is, under another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Take the named lease, or throw LeaseHeldError naming who holds it and since when. While
 * held it is renewed in the background; a lease lost (taken over, deleted, not renewable for
 * half its TTL) aborts the run's signal with LeaseLostError. `release()` gives it back.
 */
export async function acquireLease(ctx: Context, name: string, command: string, opts: LeaseOptions = {}): Promise<Lease> {
  const s3 = await ctx.aws.s3();
  const { PutObjectCommand, GetObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const bucket = ctx.config.drain.bucket;
  const key = `${LEASE_PREFIX}${name}.json`;
  const endpoint = ctx.aws.endpointOf('S3');
  const ttl = opts.ttlMs ?? LEASE_TTL_MS;
  const host = hostname();
  const started = ctx.now().toISOString();
  const record = (): LeaseRecord => ({
    name,
    owner: `${user()}@${host}`,
    host,
    pid: process.pid,
    command,
    startedAt: started,
    expiresAt: new Date(ctx.now().getTime() + ttl).toISOString(),
    ttlMs: ttl,
    token: randomUUID(),
  });
  const isPreconditionFailed = (err: unknown) => {
    const e = sdkCause(err);
    return e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412 || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 409;
  };
  const isMissing = (err: unknown) => {
    const e = sdkCause(err);
    return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
  };
  /**
   * Taking and taking over are not cut off by Ctrl-C: a PUT cut off may still land, and a lease
   * no run knows it holds blocks every other run until it expires. The run learns that it holds
   * it, sees the Ctrl-C and releases it. Renewing passes a signal of its own (a deadline).
   */
  const put = async (condition: { IfNoneMatch: string } | { IfMatch: string }, signal = UNCUT) => {
    const res = await awsSend(s3, new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(record()), ContentType: 'application/json', ...condition }), {
      signal,
      endpoint,
      action: `PutObject s3://${bucket}/${key} (taking the ${name} lease)`,
    });
    return res.ETag!;
  };
  /** The holder, its ETag, and its age by S3's clock (response Date − LastModified). */
  const read = async (): Promise<{ holder: LeaseRecord; etag: string; ageMs: number; lastModified: number } | undefined> => {
    try {
      const get = new GetObjectCommand({ Bucket: bucket, Key: key });
      let date: string | undefined;
      get.middlewareStack.add(
        (next) => async (args) => {
          const out = await next(args);
          date = (out.response as { headers?: Record<string, string> }).headers?.date;
          return out;
        },
        { step: 'deserialize', name: 'leaseServerDate' },
      );
      const res = await s3.send(get);
      const lastModified = res.LastModified?.getTime() ?? NaN;
      const holder = holderOf(await res.Body!.transformToString(), name, lastModified);
      // No Date header (a proxy ate it): the object's own time is all there is; call it fresh
      // rather than judge it by this laptop's clock.
      const serverNow = date ? Date.parse(date) : lastModified;
      return { holder, etag: res.ETag!, ageMs: Math.max(0, serverNow - lastModified), lastModified };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw awsError(err, 'S3', `GetObject s3://${bucket}/${key}`, endpoint);
    }
  };
  const takeOver = async (etag: string): Promise<string | undefined> => {
    try {
      return await put({ IfMatch: etag });
    } catch (err) {
      if (isPreconditionFailed(err) || isMissing(err)) return undefined; // someone else moved first: look again
      throw awsError(err, 'S3', `PutObject s3://${bucket}/${key} (taking over the ${name} lease)`, endpoint);
    }
  };

  const waitUntil = performance.now() + (opts.waitMs ?? 0);
  let etag: string | undefined;
  for (;;) {
    ctx.checkInterrupted();
    try {
      etag = await put({ IfNoneMatch: '*' });
      // Read back: on S3 this only confirms the conditional write; a store that does not make
      // If-None-Match atomic (the local stand-in, under load) lets a second run overwrite it,
      // and the run whose record is gone must refuse rather than run beside the other.
      const mine = await read();
      if (mine?.etag === etag) break;
      etag = undefined;
      if (!mine) continue;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw awsError(err, 'S3', `PutObject s3://${bucket}/${key} (taking the ${name} lease)`, endpoint);
    }
    const current = await read();
    if (!current) continue; // released between our write and our read: try again
    const { holder } = current;
    const holderTtl = holder.ttlMs ?? LEASE_TTL_MS;
    const expired = current.ageMs > holderTtl;
    const expiredAt = new Date(current.lastModified + holderTtl).toISOString();
    const since = holder.startedAt.replace(/\.\d+Z$/, 'Z');

    if (holder.host === host && holder.pid !== undefined && holder.pid !== process.pid && !processAlive(holder.pid)) {
      etag = await takeOver(current.etag);
      if (!etag) continue;
      ctx.out.warn(`took over the ${name} lease of ${holder.owner}: its run (\`${holder.command}\` since ${since}, pid ${holder.pid} on this host) is gone`);
      break;
    }
    if (opts.force) {
      ctx.out.warn(
        `the ${name} lease is held by ${holder.owner}${holder.pid ? ` (pid ${holder.pid})` : ''}: \`${holder.command}\` since ${since}, ` +
          (expired ? `expired at ${expiredAt}` : `renewed ${Math.round(current.ageMs / 1000)} s ago, live until ${expiredAt}`) +
          " (S3's clock). If that run still changes things, both runs will.",
      );
      await ctx.confirmTyped(`take over the ${name} lease from ${holder.owner}?`, name);
      etag = await takeOver(current.etag);
      if (!etag) continue;
      ctx.out.warn(`took over the ${name} lease of ${holder.owner} (\`${holder.command}\` since ${since})`);
      break;
    }
    if (performance.now() >= waitUntil) throw new LeaseHeldError(holder, { expired, expiredAt });
    ctx.out.info(`waiting for the ${name} lease held by ${holder.owner} (\`${holder.command}\`)…`);
    await sleep(Math.min(1_000, Math.max(250, waitUntil - performance.now())), ctx.signal);
  }

  // Renewal, by this process's monotonic clock. A renewal answered 412 (taken over) or 404
  // (deleted) loses the lease at once; failing ones count toward losing it at half the TTL,
  // well before another run may see it expired by S3's clock.
  let lost = false;
  let lastRenewed = performance.now();
  let inFlight: Promise<void> | undefined;
  const lose = (why: string) => {
    if (lost) return;
    lost = true;
    clearInterval(renewer);
    ctx.out.warn(`lost the ${name} lease (${why}); stopping`);
    ctx.abort(new LeaseLostError(name, why));
  };
  const renew = () => {
    if (lost) return;
    if (performance.now() - lastRenewed > ttl / 2) {
      lose(`not renewed for ${Math.round((performance.now() - lastRenewed) / 1000)} s`);
      return;
    }
    if (inFlight) return;
    inFlight = renewOnce().finally(() => {
      inFlight = undefined;
    });
  };
  const renewOnce = async () => {
    try {
      etag = await put({ IfMatch: etag! }, AbortSignal.timeout(Math.max(1_000, ttl / 4)));
      lastRenewed = performance.now();
    } catch (err) {
      if (isPreconditionFailed(err)) lose('someone else took it over');
      else if (isMissing(err)) lose('its object was deleted');
      else ctx.out.debug(`could not renew the ${name} lease: ${(err as Error).name}`);
    }
  };
  const renewer = setInterval(renew, Math.min(RENEW_EVERY_MS, ttl / 4));
  renewer.unref();

  return {
    record: record(),
    async release() {
      clearInterval(renewer);
      await inFlight; // its ETag is the one to delete
      if (lost) return;
      lost = true;
      try {
        // Deliberately without the run's signal: the release runs after Ctrl-C and after a rollback.
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
      } catch (err) {
        // Taken over meanwhile (412), or S3 unreachable: the lease then expires on its own.
        if (!isPreconditionFailed(err)) ctx.out.warn(`could not release the ${name} lease (${(err as Error).name}); it expires by itself within ${Math.round(ttl / 60_000)} min`);
      }
    },
  };
}

/** A lease object as read: whatever someone wrote there (by hand, an older version) still names a holder. */
function holderOf(text: string, name: string, lastModified: number): LeaseRecord {
  let raw: Partial<LeaseRecord> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') raw = parsed;
  } catch {
    // not JSON: an unknown holder
  }
  const str = (v: unknown, dflt: string) => (typeof v === 'string' && v.length > 0 ? v : dflt);
  const written = Number.isFinite(lastModified) ? new Date(lastModified).toISOString() : 'an unknown time';
  return {
    name,
    owner: str(raw.owner, 'an unknown holder'),
    ...(typeof raw.host === 'string' ? { host: raw.host } : {}),
    ...(Number.isInteger(raw.pid) && raw.pid! > 0 ? { pid: raw.pid! } : {}),
    command: str(raw.command, 'an unknown command'),
    startedAt: str(raw.startedAt, written),
    expiresAt: str(raw.expiresAt, written),
    ...(Number.isFinite(raw.ttlMs) && raw.ttlMs! > 0 ? { ttlMs: raw.ttlMs! } : {}),
    token: str(raw.token, ''),
  };
}

/** The TTL a run's lease gets: RAXX_OPS_LEASE_TTL_MS only lets tests make loss happen in seconds. */
export function leaseTtl(env: NodeJS.ProcessEnv): number {
  const v = Number(env.RAXX_OPS_LEASE_TTL_MS);
  return Number.isInteger(v) && v >= 1_000 && v <= LEASE_TTL_MS ? v : LEASE_TTL_MS;
}
