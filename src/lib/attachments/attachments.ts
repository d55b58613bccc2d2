// The support attachments bucket and what guards it: object versions and delete markers (S3),
// the customer-managed key (KMS), the backend's access keys (IAM) and pre-signed downloads.
// Keys are `<customer_uuid>/<ticket_uuid>/<file_uuid>.<ext>`; the bucket is versioned, so a
// "deleted" attachment is a delete marker on top of data versions that are still there.
import { branch } from '../core/abort.js';
import type { Context } from '../run/context.js';
import { awsError } from '../aws/clients.js';
import { awsFailure, awsSend, sdkCause } from '../aws/call.js';
import { ConfigError, ServiceError, UsageError } from '../core/errors.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** File extensions as the backend writes them: lowercase letters and digits. */
export const EXT_RE = /^[a-z0-9]{1,10}$/;

/**
 * S3 keys are case-sensitive and the backend writes ids in lower case, while a UUID typed
 * from another tool may be upper case: when nothing is found, say so.
 */
export function caseHint(selection: string): string {
  return /[A-F]/.test(selection) ? `; ids in keys are lower case and S3 keys are case-sensitive: try ${selection.toLowerCase()}` : '';
}
const KEY_HINT = 'attachment keys are <customer_uuid>/<ticket_uuid>/<file_uuid>.<ext>, e.g. 3f1c…/9a2b…/7d4e….pdf';

export interface AttachmentKey {
  key: string;
  customer: string;
  ticket: string;
  file: string;
  ext: string;
}

/** The key's parts, or undefined when it is not an attachment key. */
export function attachmentKeyParts(key: string): AttachmentKey | undefined {
  const parts = key.split('/');
  if (parts.length !== 3) return undefined;
  const [customer, ticket, name] = parts as [string, string, string];
  const dot = name.lastIndexOf('.');
  if (dot < 0) return undefined;
  const file = name.slice(0, dot);
  const ext = name.slice(dot + 1);
  if (!UUID_RE.test(customer) || !UUID_RE.test(ticket) || !UUID_RE.test(file) || !EXT_RE.test(ext)) return undefined;
  return { key, customer, ticket, file, ext };
}

/** Validates a key typed by the operator; says which part is wrong (exit 2). */
export function parseAttachmentKey(key: string): AttachmentKey {
  const parsed = attachmentKeyParts(key);
  if (parsed) return parsed;
  const parts = key.split('/');
  let why = `expected 3 parts separated by "/", got ${parts.length}`;
  if (parts.length === 3) {
    const name = parts[2]!;
    const dot = name.lastIndexOf('.');
    if (!UUID_RE.test(parts[0]!)) why = `customer id "${parts[0]}" is not a UUID`;
    else if (!UUID_RE.test(parts[1]!)) why = `ticket id "${parts[1]}" is not a UUID`;
    else if (dot < 0) why = `file "${name}" has no extension`;
    else if (!UUID_RE.test(name.slice(0, dot))) why = `file id "${name.slice(0, dot)}" is not a UUID`;
    else why = `extension "${name.slice(dot + 1)}" is not 1-10 lowercase letters or digits`;
  }
  throw new UsageError(`not an attachment key: ${key} (${why})`, { hint: KEY_HINT });
}

/** The prefix of a customer, a ticket or one file (any extension). */
export function attachmentPrefix(sel: { customer: string; ticket?: string | undefined; file?: string | undefined }): string {
  if (sel.file && !sel.ticket) throw new UsageError('--file needs --ticket', { hint: 'a file is named by --customer C --ticket T --file F' });
  return `${sel.customer}/${sel.ticket ? `${sel.ticket}/${sel.file ? `${sel.file}.` : ''}` : ''}`;
}

// ---------------------------------------------------------------- S3 versions and restore

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  lastModified: Date | undefined;
  size: number | undefined;
}

/** Every version and delete marker under the prefix, all pages (`pageSize` is MaxKeys). */
export async function listVersions(ctx: Context, bucket: string, prefix: string, pageSize?: number, signal: AbortSignal = ctx.signal): Promise<VersionEntry[]> {
  const s3 = await ctx.aws.s3();
  const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
  const entries: VersionEntry[] = [];
  // A loop of its own: the SDK has no paginator for ListObjectVersions (its next page takes two
  // markers, KeyMarker and VersionIdMarker, where a paginator follows one token).
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    ctx.checkInterrupted();
    const res = await s3
      .send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker, MaxKeys: pageSize }), { abortSignal: signal })
      .catch((err: unknown) => {
        throw s3Error(ctx, err, `ListObjectVersions s3://${bucket}/${prefix}`, bucket);
      });
    for (const v of res.Versions ?? []) {
      entries.push({ key: v.Key!, versionId: v.VersionId ?? 'null', isLatest: Boolean(v.IsLatest), deleteMarker: false, lastModified: v.LastModified, size: v.Size });
    }
    for (const m of res.DeleteMarkers ?? []) {
      entries.push({ key: m.Key!, versionId: m.VersionId ?? 'null', isLatest: Boolean(m.IsLatest), deleteMarker: true, lastModified: m.LastModified, size: undefined });
    }
    keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
    versionIdMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return entries;
}

export interface KeyVersions {
  key: string;
  /** S3's latest entry (IsLatest). */
  latest: VersionEntry | undefined;
  /** Newest first by LastModified. */
  data: VersionEntry[];
  markers: VersionEntry[];
}

export function byKey(entries: VersionEntry[]): KeyVersions[] {
  const map = new Map<string, KeyVersions>();
  const newestFirst = (a: VersionEntry, b: VersionEntry) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0);
  for (const e of entries) {
    let k = map.get(e.key);
    if (!k) map.set(e.key, (k = { key: e.key, latest: undefined, data: [], markers: [] }));
    if (e.isLatest) k.latest = e;
    (e.deleteMarker ? k.markers : k.data).push(e);
  }
  for (const k of map.values()) {
    k.data.sort(newestFirst);
    k.markers.sort(newestFirst);
    // The latest entry is newest, whatever the clock's resolution says.
    if (k.latest && !k.latest.deleteMarker) k.data = [k.latest, ...k.data.filter((d) => d !== k.latest)];
  }
  return [...map.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export type RestoreState = 'present' | 'deleted' | 'no data version';

export function restoreState(k: KeyVersions): RestoreState {
  if (k.data.length === 0) return 'no data version';
  return k.latest?.deleteMarker ? 'deleted' : 'present';
}

/**
 * The delete markers at least as new as the newest data version: the ones a restore removes
 * (listings give seconds, so a marker in the same second counts; the restore itself follows
 * S3's IsLatest and stops at the data version).
 */
export function markersAbove(k: KeyVersions): VersionEntry[] {
  const newest = k.data[0]?.lastModified?.getTime() ?? 0;
  return k.markers.filter((m) => m === k.latest || (m.lastModified?.getTime() ?? 0) >= newest);
}

/** The version GetObject serves now, or undefined when the key reads as deleted. */
export async function currentVersion(ctx: Context, bucket: string, key: string, signal: AbortSignal = ctx.signal): Promise<{ versionId: string; size: number | undefined; kmsKeyId: string | undefined } | undefined> {
  const s3 = await ctx.aws.s3();
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return { versionId: h.VersionId ?? 'null', size: h.ContentLength, kmsKeyId: h.SSEKMSKeyId };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return undefined;
    throw s3Error(ctx, err, `HeadObject ${key}`, bucket);
  }
}

/** The KMS key the bucket encrypts new objects with (its default encryption), if any. */
export async function bucketKmsKey(ctx: Context, bucket: string): Promise<string | undefined> {
  const s3 = await ctx.aws.s3();
  const { GetBucketEncryptionCommand } = await import('@aws-sdk/client-s3');
  try {
    const res = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }), { abortSignal: branch(ctx.signal) });
    return res.ServerSideEncryptionConfiguration?.Rules?.find((r) => r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm === 'aws:kms')?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID;
  } catch (err) {
    if ((err as { name?: string }).name === 'ServerSideEncryptionConfigurationNotFoundError') return undefined;
    throw s3Error(ctx, err, 'GetBucketEncryption', bucket);
  }
}

/**
 * Makes an older data version current by copying it onto the key, encrypted under the bucket's
 * KMS key. Nothing is deleted: the versions above it stay in the history.
 */
export async function copyVersionToCurrent(ctx: Context, bucket: string, key: string, versionId: string, kmsKeyId: string): Promise<string> {
  const s3 = await ctx.aws.s3();
  const { CopyObjectCommand } = await import('@aws-sdk/client-s3');
  const source = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`;
  const res = await awsSend(s3, new CopyObjectCommand({ Bucket: bucket, Key: key, CopySource: source, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId, MetadataDirective: 'COPY' }), { signal: ctx.signal }).catch(
    (err: unknown) => {
      throw s3Error(ctx, err, `CopyObject ${key}?versionId=${versionId}`, bucket);
    },
  );
  return res.VersionId ?? 'null';
}

export function s3Error(ctx: Context, err: unknown, action: string, bucket: string): Error {
  return awsFailure(err, 'S3', action, { endpoint: ctx.aws.endpointOf('S3'), resource: { kind: 'bucket', name: bucket, setting: 'attachments.bucket' } });
}

// ---------------------------------------------------------------- KMS

export interface KeyInfo {
  alias: string;
  keyId: string;
  arn: string;
  enabled: boolean;
  state: string;
  deletionDate: string | undefined;
  rotation: { enabled: boolean | undefined; periodDays: number | undefined; nextDate: string | undefined };
}

function kmsError(ctx: Context, err: unknown, action: string, alias: string): Error {
  if (sdkCause(err).name === 'NotFoundException') {
    return new ConfigError(`KMS key ${alias} not found`, { hint: 'check attachments.kmsAlias with `raxx-ops config show`, and --region' });
  }
  return awsError(err, 'KMS', action, ctx.aws.endpointOf('KMS'));
}

/** The alias resolved to its key, with state and rotation (DescribeKey does not report rotation). */
export async function describeKey(ctx: Context, alias: string): Promise<KeyInfo> {
  const kms = await ctx.aws.kms();
  const { DescribeKeyCommand, GetKeyRotationStatusCommand } = await import('@aws-sdk/client-kms');
  const meta = (
    await kms.send(new DescribeKeyCommand({ KeyId: alias }), { abortSignal: ctx.signal }).catch((err: unknown) => {
      throw kmsError(ctx, err, `DescribeKey ${alias}`, alias);
    })
  ).KeyMetadata;
  if (!meta?.KeyId || !meta.Arn) throw new ServiceError('KMS', `DescribeKey ${alias} answered without a key id`);
  const rotation: KeyInfo['rotation'] = { enabled: undefined, periodDays: undefined, nextDate: undefined };
  try {
    // GetKeyRotationStatus takes a key id or ARN, not an alias.
    const r = await kms.send(new GetKeyRotationStatusCommand({ KeyId: meta.KeyId }), { abortSignal: ctx.signal });
    rotation.enabled = Boolean(r.KeyRotationEnabled);
    rotation.periodDays = r.RotationPeriodInDays;
    rotation.nextDate = r.NextRotationDate?.toISOString();
  } catch (err) {
    // A key pending deletion refuses the call on AWS: its rotation is then simply unknown.
    if ((err as { name?: string }).name !== 'KMSInvalidStateException') throw kmsError(ctx, err, `GetKeyRotationStatus ${meta.KeyId}`, alias);
  }
  return {
    alias,
    keyId: meta.KeyId,
    arn: meta.Arn,
    enabled: Boolean(meta.Enabled),
    state: meta.KeyState ?? 'Unknown',
    deletionDate: meta.DeletionDate?.toISOString(),
    rotation,
  };
}

/** What kms-status flags (exit 1): each an operator-readable problem. */
export function keyProblems(k: KeyInfo): string[] {
  const problems: string[] = [];
  if (k.state === 'PendingDeletion') problems.push(`pending deletion${k.deletionDate ? ` on ${k.deletionDate}` : ''}: attachments become unreadable for good then`);
  else if (!k.enabled) problems.push(`disabled (${k.state}): attachments cannot be read or uploaded`);
  if (k.rotation.enabled === false) problems.push('automatic rotation is off');
  return problems;
}

export async function setKeyEnabled(ctx: Context, k: KeyInfo, enabled: boolean): Promise<void> {
  const kms = await ctx.aws.kms();
  const { DisableKeyCommand, EnableKeyCommand } = await import('@aws-sdk/client-kms');
  const cmd = enabled ? new EnableKeyCommand({ KeyId: k.keyId }) : new DisableKeyCommand({ KeyId: k.keyId });
  await awsSend(kms, cmd, { signal: ctx.signal }).catch((err: unknown) => {
    throw kmsError(ctx, err, `${enabled ? 'EnableKey' : 'DisableKey'} ${k.keyId}`, k.alias);
  });
}

export async function scheduleKeyDeletion(ctx: Context, k: KeyInfo, days: number): Promise<string | undefined> {
  const kms = await ctx.aws.kms();
  const { ScheduleKeyDeletionCommand } = await import('@aws-sdk/client-kms');
  const res = await awsSend(kms, new ScheduleKeyDeletionCommand({ KeyId: k.keyId, PendingWindowInDays: days }), { signal: ctx.signal }).catch((err: unknown) => {
    throw kmsError(ctx, err, `ScheduleKeyDeletion ${k.keyId}`, k.alias);
  });
  return res.DeletionDate?.toISOString();
}

export async function cancelKeyDeletion(ctx: Context, k: KeyInfo): Promise<void> {
  const kms = await ctx.aws.kms();
  const { CancelKeyDeletionCommand } = await import('@aws-sdk/client-kms');
  await awsSend(kms, new CancelKeyDeletionCommand({ KeyId: k.keyId }), { signal: ctx.signal }).catch((err: unknown) => {
    throw kmsError(ctx, err, `CancelKeyDeletion ${k.keyId}`, k.alias);
  });
}

/** S3 reports the key as an ARN on AWS; stand-ins echo what was sent (an id or the alias). */
function sameKmsKey(reported: string | undefined, k: KeyInfo): boolean {
  if (!reported) return false;
  return reported === k.arn || reported === k.keyId || reported === k.alias || reported.endsWith(`:${k.alias}`) || reported.endsWith(`key/${k.keyId}`);
}

export interface KeyUsage {
  /** Current objects encrypted under the key, per customer prefix. */
  perCustomer: Record<string, number>;
  total: number;
  /** Current objects checked in all. */
  checked: number;
}

/** Which current objects a key's loss makes unreadable: HeadObject of each, a few at a time. */
export async function objectsUnderKey(ctx: Context, bucket: string, k: KeyInfo, pageSize?: number): Promise<KeyUsage> {
  const current = (await listVersions(ctx, bucket, '', pageSize)).filter((e) => e.isLatest && !e.deleteMarker);
  const usage: KeyUsage = { perCustomer: {}, total: 0, checked: current.length };
  let next = 0;
  const worker = async () => {
    while (next < current.length) {
      const e = current[next++]!;
      ctx.checkInterrupted();
      const head = await currentVersion(ctx, bucket, e.key);
      if (!sameKmsKey(head?.kmsKeyId, k)) continue;
      const customer = e.key.split('/')[0] ?? '';
      usage.perCustomer[customer] = (usage.perCustomer[customer] ?? 0) + 1;
      usage.total++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, current.length) }, worker));
  return usage;
}

// ---------------------------------------------------------------- pre-signed downloads

export async function presignGet(ctx: Context, bucket: string, key: string, ttlSeconds: number): Promise<string> {
  const s3 = await ctx.aws.s3();
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: ttlSeconds });
}

/** The backend's audit line: a Python-style dict after `AUDIT `, never a URL. */
export function auditLine(fields: Record<string, string | number>): string {
  const repr = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
  return `AUDIT {${Object.entries(fields).map(([k, v]) => `'${k}': ${repr(v)}`).join(', ')}}`;
}

// ---------------------------------------------------------------- IAM access keys

export interface AccessKeyInfo {
  id: string;
  status: string;
  created: string | undefined;
}

function iamError(ctx: Context, err: unknown, action: string, user: string): Error {
  const name = sdkCause(err).name;
  if (name === 'NoSuchEntityException' || name === 'NoSuchEntity') {
    return new ConfigError(`IAM user ${user} not found (${action})`, { hint: 'pass the backend user with --user (default raxx-support-backend-user)' });
  }
  return awsError(err, 'IAM', action, ctx.aws.endpointOf('IAM'));
}

export async function listAccessKeys(ctx: Context, user: string): Promise<AccessKeyInfo[]> {
  const iam = await ctx.aws.iam();
  const { ListAccessKeysCommand } = await import('@aws-sdk/client-iam');
  const res = await iam.send(new ListAccessKeysCommand({ UserName: user }), { abortSignal: ctx.signal }).catch((err: unknown) => {
    throw iamError(ctx, err, 'ListAccessKeys', user);
  });
  return (res.AccessKeyMetadata ?? []).map((k) => ({ id: k.AccessKeyId!, status: k.Status ?? 'Unknown', created: k.CreateDate?.toISOString() }));
}

/** The new key; its secret exists only in this process's memory until written to Heroku. */
export async function createAccessKey(ctx: Context, user: string): Promise<{ id: string; secret: string }> {
  const iam = await ctx.aws.iam();
  const { CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  // With the run's signal: Ctrl-C stops it at once, and a key it may have made is an unknown
  // outcome (the rotation's rollback then keeps whatever it cannot see).
  const res = await awsSend(iam, new CreateAccessKeyCommand({ UserName: user }), { signal: ctx.signal }).catch((err: unknown) => {
    if (sdkCause(err).name === 'LimitExceededException') {
      throw new ServiceError('IAM', `IAM user ${user} already has 2 access keys (the most IAM allows)`, { hint: 'run `raxx-ops attachments rotate-access-key` again: it removes a key no app holds first' });
    }
    throw iamError(ctx, err, 'CreateAccessKey', user);
  });
  if (!res.AccessKey?.AccessKeyId || !res.AccessKey.SecretAccessKey) throw new ServiceError('IAM', 'CreateAccessKey answered without a key');
  return { id: res.AccessKey.AccessKeyId, secret: res.AccessKey.SecretAccessKey };
}

export async function deleteAccessKey(ctx: Context, user: string, id: string): Promise<void> {
  const iam = await ctx.aws.iam();
  const { DeleteAccessKeyCommand } = await import('@aws-sdk/client-iam');
  await awsSend(iam, new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: id }), { signal: ctx.signal }).catch((err: unknown) => {
    const name = sdkCause(err).name;
    if (name === 'NoSuchEntityException' || name === 'NoSuchEntity') return;
    throw iamError(ctx, err, `DeleteAccessKey ${id}`, user);
  });
}

/** When the key was last used, if ever (a key nobody holds and nobody used is a leftover). */
export async function accessKeyLastUsed(ctx: Context, user: string, id: string): Promise<string | undefined> {
  const iam = await ctx.aws.iam();
  const { GetAccessKeyLastUsedCommand } = await import('@aws-sdk/client-iam');
  const res = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }), { abortSignal: branch(ctx.signal) }).catch((err: unknown) => {
    throw iamError(ctx, err, `GetAccessKeyLastUsed ${id}`, user);
  });
  return res.AccessKeyLastUsed?.LastUsedDate?.toISOString();
}
