// Upload, verify, retry: a prepared day uploaded in parts (conditional on what is there), its
// SHA-256 read back before anything local is deleted, and the bucket's errors made plain.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { awsFailure } from '../aws/call.js';
import { ConfigError, InterruptedError, ServiceError, UsageError } from '../core/errors.js';
import type { Prepared } from './prepare.js';

export const META = { sha256: 'sha256', gzipSha256: 'gzip-sha256', lines: 'lines', entries: 'entries', badLines: 'bad-lines', cutLines: 'cut-lines', redactions: 'redactions', bytes: 'bytes' } as const;

export interface Existing {
  sha256: string | undefined;
  versionId: string | undefined;
  size: number;
  etag: string | undefined;
}

/** The object at the key, or undefined when there is none. */
export async function headShipped(s3: S3Client, bucket: string, key: string, signal: AbortSignal, endpoint: string): Promise<Existing | undefined> {
  const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return { sha256: head.Metadata?.[META.sha256], versionId: head.VersionId, size: head.ContentLength ?? 0, etag: head.ETag };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return undefined;
    if (signal.aborted) throw new InterruptedError();
    throw bucketError(err, bucket, 'HeadObject', endpoint);
  }
}

export async function bucketVersioning(s3: S3Client, bucket: string, signal: AbortSignal, endpoint: string): Promise<string> {
  const { GetBucketVersioningCommand } = await import('@aws-sdk/client-s3');
  try {
    const res = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }), { abortSignal: signal });
    return res.Status ?? 'Unversioned';
  } catch (err) {
    throw bucketError(err, bucket, 'GetBucketVersioning', endpoint);
  }
}

/** The stored object did not read back as what was sent. */
export class ChecksumMismatchError extends ServiceError {
  constructor(message: string) {
    super('S3', message, { code: 'ChecksumMismatch', hint: 'the upload was retried and still read back differently: check the bucket for a proxy or policy rewriting objects, then ship again' });
  }
}

export interface UploadOptions {
  bucket: string;
  key: string;
  prepared: Prepared;
  signal: AbortSignal;
  endpoint: string;
  /** Retries after the first attempt (the runbook: 3). */
  retries?: number;
  /** The first retry's delay; each next one doubles it. */
  retryBaseMs?: number;
  onRetry?: (attempt: number, error: Error, delayMs: number) => void;
  onProgress?: (loaded: number) => void;
  /**
   * What the key held when the day was checked: the upload is conditional on it still holding
   * that (If-Match its ETag, or If-None-Match when it was empty), so a second run shipping the
   * same day at the same time cannot overwrite this one, nor this one that, unasked.
   */
  existing: Existing | undefined;
}

export interface Uploaded {
  versionId: string | undefined;
  attempts: number;
}

const PART_SIZE = 8 * 1024 * 1024;

/** Upload and verify, retried as one unit: a verification that fails sends the object again. */
export async function uploadVerified(s3: S3Client, opts: UploadOptions): Promise<Uploaded> {
  const { default: pRetry, AbortError } = await import('p-retry');
  const retries = opts.retries ?? 3;
  const base = opts.retryBaseMs ?? 1000;
  let attempts = 0;
  // After an attempt of ours landed (and failed verification), the next replaces that one.
  let expected: string | undefined = opts.existing?.etag;
  const attempt = async (): Promise<Uploaded> => {
    attempts += 1;
    try {
      let versionId: string | undefined;
      try {
        const put = await uploadOnce(s3, opts, expected);
        versionId = put.versionId;
        expected = put.etag ?? expected;
      } catch (err) {
        if (!preconditionFailed(err)) throw err;
        // The key changed since it was checked: an earlier attempt whose answer was lost, or
        // another run. Ours only if it holds our content.
        const now = await headShipped(s3, opts.bucket, opts.key, opts.signal, opts.endpoint);
        if (now?.sha256 !== opts.prepared.sha256) {
          throw new AbortError(
            new UsageError(`s3://${opts.bucket}/${opts.key} changed while this run was shipping it (another run at the same time?); nothing was overwritten`, {
              hint: 'check what the other run shipped, then ship again (with --replace if this content should win)',
            }),
          );
        }
        versionId = now.versionId;
        expected = now.etag;
      }
      await verify(s3, opts, versionId);
      return { versionId, attempts };
    } catch (err) {
      if (err instanceof AbortError) throw err;
      if (opts.signal.aborted) throw new AbortError(new InterruptedError());
      const e = err instanceof ServiceError || err instanceof ConfigError ? err : bucketError(err, opts.bucket, 'upload', opts.endpoint);
      if (!retryable(e)) throw new AbortError(e);
      throw e;
    }
  };
  return pRetry(attempt, {
    retries,
    factor: 2,
    minTimeout: base,
    maxTimeout: base * 2 ** retries,
    randomize: false,
    signal: opts.signal,
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0) opts.onRetry?.(attemptNumber, error, base * 2 ** (attemptNumber - 1));
    },
  });
}

function retryable(err: Error): boolean {
  if (err instanceof ConfigError) return false;
  if (err instanceof ChecksumMismatchError) return true;
  const cause = (err as { cause?: { $metadata?: { httpStatusCode?: number } } }).cause;
  const status = cause?.$metadata?.httpStatusCode;
  // 5xx, throttling and a connection that failed are worth another try; a 403 or a missing bucket is not.
  return status === undefined || status >= 500 || status === 429 || (err instanceof ServiceError && /SlowDown|Throttl|RequestTimeout/.test(err.code ?? ''));
}

function preconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.$metadata?.httpStatusCode === 412 || e.name === 'PreconditionFailed' || e.Code === 'PreconditionFailed';
}

async function uploadOnce(s3: S3Client, opts: UploadOptions, expectedEtag: string | undefined): Promise<{ versionId: string | undefined; etag: string | undefined }> {
  const { Upload } = await import('@aws-sdk/lib-storage');
  const p = opts.prepared;
  const upload = new Upload({
    client: s3,
    partSize: PART_SIZE,
    queueSize: 4,
    leavePartsOnError: false,
    params: {
      Bucket: opts.bucket,
      Key: opts.key,
      // Passed on to PutObject, or to CompleteMultipartUpload for a large file.
      ...(expectedEtag ? { IfMatch: expectedEtag } : { IfNoneMatch: '*' }),
      Body: createReadStream(p.file),
      ContentType: 'application/gzip',
      Metadata: {
        [META.sha256]: p.sha256,
        [META.gzipSha256]: p.gzipSha256,
        [META.lines]: String(p.lines),
        [META.entries]: String(p.entries),
        [META.badLines]: String(p.badLines),
        [META.cutLines]: String(p.cutLines),
        [META.redactions]: String(p.redactions),
        [META.bytes]: String(p.bytesPlain),
      },
    },
  });
  const abort = () => void upload.abort();
  opts.signal.addEventListener('abort', abort, { once: true });
  upload.on('httpUploadProgress', (e) => opts.onProgress?.(e.loaded ?? 0));
  try {
    const res = (await upload.done()) as { VersionId?: string; ETag?: string };
    // An unversioned bucket's multipart upload may answer VersionId "null", which moto then
    // refuses as a GET's versionId: no version is the same thing there.
    return { versionId: res.VersionId === 'null' ? undefined : res.VersionId, etag: res.ETag };
  } finally {
    opts.signal.removeEventListener('abort', abort);
  }
}

/** Reads the checksum back: the metadata S3 stored, then the object's bytes themselves. */
async function verify(s3: S3Client, opts: UploadOptions, versionId: string | undefined): Promise<void> {
  const { HeadObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const p = opts.prepared;
  // The version this run wrote, not whatever is latest by now.
  const head = await s3.send(new HeadObjectCommand({ Bucket: opts.bucket, Key: opts.key, ...(versionId ? { VersionId: versionId } : {}) }), { abortSignal: opts.signal });
  const stored = head.Metadata?.[META.sha256];
  if (stored !== p.sha256) throw new ChecksumMismatchError(`checksum mismatch at s3://${opts.bucket}/${opts.key}: metadata sha256 ${stored ?? '(none)'}, sent ${p.sha256}`);
  if (head.ContentLength !== p.bytesOut) throw new ChecksumMismatchError(`size mismatch at s3://${opts.bucket}/${opts.key}: ${head.ContentLength} bytes stored, ${p.bytesOut} sent`);
  const got = await s3.send(new GetObjectCommand({ Bucket: opts.bucket, Key: opts.key, ...(head.VersionId ? { VersionId: head.VersionId } : {}) }), { abortSignal: opts.signal });
  const hash = createHash('sha256');
  const body = got.Body as Readable;
  for await (const chunk of body) hash.update(chunk as Buffer);
  const read = hash.digest('hex');
  if (read !== p.gzipSha256) throw new ChecksumMismatchError(`checksum mismatch at s3://${opts.bucket}/${opts.key}: read back sha256 ${read}, sent ${p.gzipSha256}`);
}

/** A bucket-level failure with the hint that fits it. */
export function bucketError(err: unknown, bucket: string, action: string, endpoint: string): Error {
  return awsFailure(err, 'S3', action, { endpoint, resource: { kind: 'bucket', name: bucket, setting: 'the source\'s "bucket"' } });
}
