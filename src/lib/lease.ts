// A lease that changing commands take before they change anything, so two operators (or two
// terminals) cannot rotate, wire and prune at once. It is an S3 object in the drain bucket,
// written with a condition: created only if absent (If-None-Match: *), renewed and taken
// over only if unchanged since read (If-Match: its ETag). Everyone with the tool sees it, it
// needs no extra infrastructure, and S3's conditional writes make both steps atomic.
import { hostname, userInfo } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { awsError } from './aws.js';
import type { Context } from './context.js';
import { ServiceError } from './errors.js';

export const LEASE_PREFIX = 'raxx-ops/leases/';
/** How long a lease lives without renewal: a crashed run blocks others no longer than this. */
export const LEASE_TTL_MS = 10 * 60_000;
const RENEW_EVERY_MS = 2 * 60_000;

export interface LeaseRecord {
  name: string;
  owner: string;
  command: string;
  startedAt: string;
  expiresAt: string;
  token: string;
}

export interface LeaseOptions {
  /** Take over a lease that has expired (its holder crashed or was killed). */
  force?: boolean;
  /** Wait up to this long for a held lease to be released. */
  waitMs?: number;
  ttlMs?: number;
  now?: () => number;
}

export class LeaseHeldError extends ServiceError {
  readonly holder: LeaseRecord;
  constructor(holder: LeaseRecord, expired: boolean) {
    const since = holder.startedAt.replace(/\.\d+Z$/, 'Z');
    super('raxx-ops', `${holder.owner} holds the ${holder.name} lease (running \`${holder.command}\` since ${since})${expired ? `; it expired at ${holder.expiresAt}` : ''}`, {
      code: 'LeaseHeld',
      hint: expired
        ? 'that run seems to have died: check with its owner, then rerun with --force to take the lease over'
        : `wait for it to finish (rerun with --wait 600), or ask ${holder.owner}; it expires at ${holder.expiresAt} unless renewed`,
    });
    this.holder = holder;
  }
}

export interface Lease {
  record: LeaseRecord;
  /** Stops renewing and deletes the lease if it is still ours. */
  release(): Promise<void>;
}

function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): the host still tells operators apart
  }
  return `${user}@${hostname()}`;
}

/**
 * Take the named lease, or throw LeaseHeldError naming who holds it and since when. While
 * held it is renewed in the background; `release()` gives it back.
 */
export async function acquireLease(ctx: Context, name: string, command: string, opts: LeaseOptions = {}): Promise<Lease> {
  const s3 = await ctx.aws.s3();
  const { PutObjectCommand, GetObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const bucket = ctx.config.drain.bucket;
  const key = `${LEASE_PREFIX}${name}.json`;
  const endpoint = ctx.aws.endpointOf('S3');
  const now = opts.now ?? (() => Date.now());
  const ttl = opts.ttlMs ?? LEASE_TTL_MS;
  const token = randomUUID();
  const record = (): LeaseRecord => ({ name, owner: whoAmI(), command, startedAt: started, expiresAt: new Date(now() + ttl).toISOString(), token });
  const started = new Date(now()).toISOString();
  const isPreconditionFailed = (err: unknown) => {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412 || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 409;
  };
  const put = async (condition: { IfNoneMatch: string } | { IfMatch: string }) => {
    const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(record()), ContentType: 'application/json', ...condition }));
    return res.ETag!;
  };
  const read = async (): Promise<{ holder: LeaseRecord; etag: string } | undefined> => {
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { holder: JSON.parse(await res.Body!.transformToString()) as LeaseRecord, etag: res.ETag! };
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw awsError(err, 'S3', `GetObject s3://${bucket}/${key}`, endpoint);
    }
  };

  const deadline = now() + (opts.waitMs ?? 0);
  let etag: string | undefined;
  for (;;) {
    try {
      etag = await put({ IfNoneMatch: '*' });
      break;
    } catch (err) {
      if (!isPreconditionFailed(err)) throw awsError(err, 'S3', `PutObject s3://${bucket}/${key} (taking the ${name} lease)`, endpoint);
    }
    const current = await read();
    if (!current) continue; // released between our write and our read: try again
    const expired = Date.parse(current.holder.expiresAt) <= now();
    if (expired && opts.force) {
      try {
        etag = await put({ IfMatch: current.etag });
        ctx.out.warn(`took over the expired ${name} lease of ${current.holder.owner} (\`${current.holder.command}\` since ${current.holder.startedAt})`);
        break;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw awsError(err, 'S3', `PutObject s3://${bucket}/${key} (taking over the ${name} lease)`, endpoint);
        continue; // someone else took it first
      }
    }
    if (now() >= deadline) throw new LeaseHeldError(current.holder, expired);
    ctx.out.info(`waiting for the ${name} lease held by ${current.holder.owner} (\`${current.holder.command}\`)…`);
    await delay(Math.min(1_000, Math.max(250, deadline - now())), undefined, { signal: ctx.signal }).catch(() => ctx.checkInterrupted());
  }

  let lost = false;
  const renewer = setInterval(() => {
    void put({ IfMatch: etag! }).then(
      (e) => {
        etag = e;
      },
      (err: unknown) => {
        if (isPreconditionFailed(err) && !lost) {
          lost = true;
          ctx.out.warn(`the ${name} lease was taken over by someone else while this run held it`);
        }
      },
    );
  }, Math.min(RENEW_EVERY_MS, ttl / 3));
  renewer.unref();

  return {
    record: record(),
    async release() {
      clearInterval(renewer);
      if (lost) return;
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
      } catch (err) {
        // Taken over meanwhile (412), or S3 unreachable: the lease then expires on its own.
        if (!isPreconditionFailed(err)) ctx.out.warn(`could not release the ${name} lease (${(err as Error).name}); it expires by itself within ${Math.round(ttl / 60_000)} min`);
      }
    },
  };
}
