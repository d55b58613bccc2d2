// The attachments bucket as the backend's Terraform makes it, in moto: versioned, encrypted by
// default with the customer-managed key behind alias/raxx-support-attachments; and the backend's
// IAM user with one access key, held by the apps' config vars.
import { randomUUID } from 'node:crypto';
import type { AwsClients } from '../../../src/lib/aws/clients.js';
import { createBucket } from '../../support/aws-fixtures.js';
import type { HerokuApiServer } from '../../support/heroku-api.js';

export const BUCKET = 'raxx-support-attachments-prod';
export const ALIAS = 'alias/raxx-support-attachments';
export const USER = 'raxx-support-backend-user';

export function attachmentKey(opts: { customer?: string; ticket?: string; ext?: string } = {}): string {
  return `${opts.customer ?? randomUUID()}/${opts.ticket ?? randomUUID()}/${randomUUID()}.${opts.ext ?? 'pdf'}`;
}

/** The key (with its alias, rotation on) and the bucket encrypted with it. Returns the key id. */
export async function createAttachmentsBucket(aws: AwsClients, opts: { rotation?: boolean } = {}): Promise<string> {
  const kms = await aws.kms();
  const { CreateKeyCommand, CreateAliasCommand, EnableKeyRotationCommand } = await import('@aws-sdk/client-kms');
  const keyId = (await kms.send(new CreateKeyCommand({ Description: 'support attachments' }))).KeyMetadata!.KeyId!;
  await kms.send(new CreateAliasCommand({ AliasName: ALIAS, TargetKeyId: keyId }));
  if (opts.rotation !== false) await kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
  const s3 = await aws.s3();
  const { CreateBucketCommand, PutBucketVersioningCommand, PutBucketEncryptionCommand } = await import('@aws-sdk/client-s3');
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket: BUCKET,
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyId } }] },
    }),
  );
  return keyId;
}

/** A new data version of the key; returns its version id. */
export async function upload(aws: AwsClients, key: string, body: string | Uint8Array): Promise<string> {
  const s3 = await aws.s3();
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  return (await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }))).VersionId!;
}

/** A plain DELETE on a versioned bucket: a delete marker on top. */
export async function remove(aws: AwsClients, key: string): Promise<string> {
  const s3 = await aws.s3();
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  return (await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }))).VersionId!;
}

/** The bytes GetObject serves now, or undefined when the key reads as deleted. */
export async function read(aws: AwsClients, key: string): Promise<Buffer | undefined> {
  const s3 = await aws.s3();
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

export interface Listed {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

/** Every version and delete marker of the bucket (all pages). */
export async function versions(aws: AwsClients, prefix = ''): Promise<Listed[]> {
  const s3 = await aws.s3();
  const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
  const out: Listed[] = [];
  let km: string | undefined;
  let vm: string | undefined;
  do {
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: prefix, KeyMarker: km, VersionIdMarker: vm }));
    for (const v of res.Versions ?? []) out.push({ key: v.Key!, versionId: v.VersionId!, deleteMarker: false });
    for (const m of res.DeleteMarkers ?? []) out.push({ key: m.Key!, versionId: m.VersionId!, deleteMarker: true });
    km = res.IsTruncated ? res.NextKeyMarker : undefined;
    vm = res.IsTruncated ? res.NextVersionIdMarker : undefined;
  } while (km);
  return out;
}

export const dataVersions = (list: Listed[]) => list.filter((v) => !v.deleteMarker).map((v) => `${v.key}@${v.versionId}`).sort();

/** The backend user with one key; returns the key. */
export async function createBackendUser(aws: AwsClients): Promise<{ id: string; secret: string }> {
  const iam = await aws.iam();
  const { CreateUserCommand, CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
  await iam.send(new CreateUserCommand({ UserName: USER }));
  const k = (await iam.send(new CreateAccessKeyCommand({ UserName: USER }))).AccessKey!;
  return { id: k.AccessKeyId!, secret: k.SecretAccessKey! };
}

/** The config vars that hold the backend user's key in an app. */
export const KEY_ID_VAR = 'AWS_ACCESS_KEY_ID_SUPPORT';
export const KEY_SECRET_VAR = 'AWS_SECRET_ACCESS_KEY_SUPPORT';
/** The drain bucket: it holds the lease that keeps two rotations apart. */
export const DRAIN_BUCKET = 'raxx-heroku-logs-prod';

/**
 * What a rotation starts from: the drain bucket, the backend user with one key, that key in
 * the config vars of `holders`, and a production and a staging app that hold none.
 */
export async function seedRotation(aws: AwsClients, heroku: Pick<HerokuApiServer, 'addApp'>, holders: string[]): Promise<{ id: string; secret: string }> {
  await createBucket(aws, DRAIN_BUCKET);
  const original = await createBackendUser(aws);
  for (const app of holders) heroku.addApp(app, { [KEY_ID_VAR]: original.id, [KEY_SECRET_VAR]: original.secret, OTHER: 'kept' });
  heroku.addApp('raxx-velvet-prod', { OTHER: 'kept' });
  heroku.addApp('raxx-api-staging', { OTHER: 'kept' });
  return original;
}

export async function accessKeys(aws: AwsClients): Promise<string[]> {
  const iam = await aws.iam();
  const { ListAccessKeysCommand } = await import('@aws-sdk/client-iam');
  return ((await iam.send(new ListAccessKeysCommand({ UserName: USER }))).AccessKeyMetadata ?? []).map((k) => k.AccessKeyId!);
}
