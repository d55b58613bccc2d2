// A source's bucket as `logs sources setup|test` sees it: the permissions shipping needs, and
// the lifecycle rule that keeps each day for the source's retention (and other rules that
// would expire it sooner).
import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { awsError } from '../aws/clients.js';
import { ConfigError, InterruptedError } from '../core/errors.js';
import { sourcePrefix, type Layout } from './layout.js';
import { bucketError } from './upload.js';
import { awsSend } from '../aws/call.js';

export interface PermissionCheck {
  permission: string;
  ok: boolean;
  detail: string;
}

/**
 * The four permissions shipping needs, each tried with a request that changes nothing:
 * s3:ListBucket (list one key), s3:GetObject (a key that is not there: 404 when allowed),
 * s3:PutObject (a write conditional on an ETag that cannot match: 404/412, nothing written),
 * s3:AbortMultipartUpload (an upload id that does not exist: 404 NoSuchUpload). The last is
 * the one a large upload needs to clean up after itself when it fails; shipping never deletes
 * objects, so s3:DeleteObject is not asked for.
 */
export async function checkPermissions(s3: S3Client, bucket: string, prefix: string, signal: AbortSignal): Promise<PermissionCheck[]> {
  const { ListObjectsV2Command, GetObjectCommand, PutObjectCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const probeKey = `${prefix}.raxx-ops-permission-probe`;
  // The probes stay on the bare client: each reads the SDK's own answer (its status) to tell a
  // refusal from a missing object, and the writes among them cannot change anything.
  const probes: [string, () => Promise<unknown>][] = [
    ['s3:ListBucket', () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), { abortSignal: signal })],
    ['s3:GetObject', () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: probeKey }), { abortSignal: signal }).then((r) => (r.Body as Readable | undefined)?.destroy())],
    ['s3:PutObject', () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: probeKey, Body: '', IfMatch: '"00000000000000000000000000000000"' }), { abortSignal: signal })],
    ['s3:AbortMultipartUpload', () => s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: probeKey, UploadId: 'raxx-ops-permission-probe' }), { abortSignal: signal })],
  ];
  const results: PermissionCheck[] = [];
  for (const [permission, probe] of probes) {
    try {
      await probe();
      results.push({ permission, ok: true, detail: 'allowed' });
    } catch (err) {
      if (signal.aborted) throw new InterruptedError();
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      if (status === 404 && e.name !== 'NoSuchBucket') results.push({ permission, ok: true, detail: `allowed (${e.name ?? 'not found'}, nothing changed)` });
      else if (status === 412) results.push({ permission, ok: true, detail: 'allowed (precondition failed, nothing written)' });
      else if (status === 403) results.push({ permission, ok: false, detail: `denied (${e.name ?? 'AccessDenied'})` });
      else results.push({ permission, ok: false, detail: `failed: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}` });
    }
  }
  return results;
}

/** Whether the bucket answers at all (HeadBucket): a reason when it does not. */
export async function bucketReachable(s3: S3Client, bucket: string, signal: AbortSignal, endpoint: string): Promise<string | undefined> {
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    return undefined;
  } catch (err) {
    if (signal.aborted) throw new InterruptedError();
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return `bucket ${bucket} does not exist`;
    if (status === 403) return `access to bucket ${bucket} denied (HeadBucket)`;
    const e = awsError(err, 'S3', 'HeadBucket', endpoint);
    if (e instanceof ConfigError) throw e;
    return e.message;
  }
}

/** The lifecycle rule of one source, named after it so that setup finds and updates its own. */
export interface LifecycleRule {
  ID: string;
  Status: 'Enabled';
  Filter: { Prefix: string };
  Expiration: { Days: number };
  NoncurrentVersionExpiration: { NoncurrentDays: number };
  AbortIncompleteMultipartUpload: { DaysAfterInitiation: number };
}

export function lifecycleRule(source: { name: string; layout: Layout; retentionDays: number }, keyPrefix: string): LifecycleRule {
  return {
    ID: `raxx-ops-source-${source.name}`,
    Status: 'Enabled',
    Filter: { Prefix: sourcePrefix(source.layout, keyPrefix, source.name) },
    // The runbook's 7 years for the current version; a version replaced by --replace is kept as long.
    Expiration: { Days: source.retentionDays },
    NoncurrentVersionExpiration: { NoncurrentDays: source.retentionDays },
    // Parts of an upload that died (a killed job) are billed until aborted.
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
  };
}

/** The bucket's lifecycle rules as stored (none when it has no configuration). */
export async function getLifecycle(s3: S3Client, bucket: string, signal: AbortSignal, endpoint: string): Promise<Record<string, unknown>[]> {
  const { GetBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
  try {
    const res = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }), { abortSignal: signal });
    return (res.Rules ?? []) as unknown as Record<string, unknown>[];
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchLifecycleConfiguration') return [];
    throw bucketError(err, bucket, 'GetBucketLifecycleConfiguration', endpoint);
  }
}

/** Whether a stored rule already says what ours says (S3 may add empty fields of its own). */
export function sameRule(stored: Record<string, unknown> | undefined, ours: LifecycleRule): boolean {
  if (!stored) return false;
  const s = stored as { Status?: string; Filter?: { Prefix?: string }; Prefix?: string; Expiration?: { Days?: number }; NoncurrentVersionExpiration?: { NoncurrentDays?: number }; AbortIncompleteMultipartUpload?: { DaysAfterInitiation?: number } };
  return (
    s.Status === ours.Status &&
    (s.Filter?.Prefix ?? s.Prefix) === ours.Filter.Prefix &&
    s.Expiration?.Days === ours.Expiration.Days &&
    s.NoncurrentVersionExpiration?.NoncurrentDays === ours.NoncurrentVersionExpiration.NoncurrentDays &&
    s.AbortIncompleteMultipartUpload?.DaysAfterInitiation === ours.AbortIncompleteMultipartUpload.DaysAfterInitiation
  );
}

/** Writes the bucket's rules: the others as they were, ours added or replaced. */
export async function putLifecycle(s3: S3Client, bucket: string, rules: Record<string, unknown>[], signal: AbortSignal, endpoint: string): Promise<void> {
  const { PutBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
  try {
    await awsSend(s3, new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules as never } }), { signal, endpoint });
  } catch (err) {
    throw bucketError(err, bucket, 'PutBucketLifecycleConfiguration', endpoint);
  }
}


/**
 * Other enabled rules of the bucket that expire a source's objects sooner than its retention:
 * S3 applies every rule whose filter matches and the earliest expiration wins, so a drain rule
 * on `logs/` would cut a source shipped under `logs/<source>/` to the drain's retention.
 * Rules filtered by tag are left out: shipped objects carry no tags.
 */
export function shorterRules(rules: Record<string, unknown>[], ours: LifecycleRule): { id: string; prefix: string; days: number }[] {
  const found: { id: string; prefix: string; days: number }[] = [];
  for (const raw of rules) {
    const r = raw as { ID?: string; Status?: string; Prefix?: string; Filter?: { Prefix?: string; Tag?: unknown; And?: { Prefix?: string; Tags?: unknown[] } }; Expiration?: { Days?: number } };
    if (r.ID === ours.ID || r.Status !== 'Enabled') continue;
    if (r.Filter?.Tag || (r.Filter?.And?.Tags?.length ?? 0) > 0) continue;
    const prefix = r.Filter?.Prefix ?? r.Filter?.And?.Prefix ?? r.Prefix ?? '';
    const days = r.Expiration?.Days;
    if (days !== undefined && days < ours.Expiration.Days && ours.Filter.Prefix.startsWith(prefix)) found.push({ id: r.ID ?? '(no id)', prefix, days });
  }
  return found;
}
