// Writing a batch to S3: gzip of the body exactly as received (operators read it with
// `aws s3 cp s3://… - | gunzip`, hence application/gzip and no Content-Encoding), written
// only if the key is new, so a retried batch lands once. When an earlier attempt may have
// chosen another key (see describeBatch), those keys are looked for first (HeadObject).
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const gzipAsync = promisify(gzip);
/**
 * Below this, gzip inline: a ~100 KB Logplex batch compresses in well under a millisecond,
 * less than the thread-pool round trip costs. Larger bodies go to the pool so a local server
 * stays responsive.
 */
const INLINE_GZIP_BYTES = 256 * 1024;

/** The part of an S3Client the receiver uses; tests pass a stub or a mocked client. */
export interface S3Like {
  send(command: PutObjectCommand | HeadObjectCommand, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface StoreRequest {
  bucket: string;
  key: string;
  body: Buffer;
  metadata: Record<string, string>;
  /** Keys an earlier attempt of the same batch may have used: if one exists, nothing is written. */
  earlierKeys?: readonly string[] | undefined;
  /** Give up before Logplex does (it waits 5 s, then retries with the same Frame-Id). */
  timeoutMs: number;
}

export interface StoreResult {
  outcome: 'stored' | 'duplicate';
  /** Where the batch is: `key`, or the earlier attempt's key. */
  key: string;
  /** The earlier keys could not be looked for (HeadObject refused, 403): stored, maybe twice. */
  unchecked?: string | undefined;
}

export async function storeBatch(s3: S3Like, req: StoreRequest): Promise<StoreResult> {
  // The deadline covers the gzip too: Logplex's 5 s count from the request, not from the PUT.
  // A plain timer: AbortSignal.timeout() costs more CPU than the rest of a small write.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  try {
    let unchecked: string | undefined;
    if (req.earlierKeys && req.earlierKeys.length > 0) {
      const found = await Promise.all(req.earlierKeys.map((key) => exists(s3, req.bucket, key, abort.signal)));
      const hit = found.findIndex((f) => f === true);
      if (hit !== -1) return { outcome: 'duplicate', key: req.earlierKeys[hit]! };
      // A role without s3:GetObject cannot look: better a possible second copy than a lost batch.
      unchecked = found.find((f): f is string => typeof f === 'string');
    }
    const gz = req.body.length <= INLINE_GZIP_BYTES ? gzipSync(req.body) : await gzipAsync(req.body);
    await s3.send(
      new PutObjectCommand({
        Bucket: req.bucket,
        Key: req.key,
        Body: gz,
        ContentType: 'application/gzip',
        IfNoneMatch: '*',
        Metadata: req.metadata,
      }),
      { abortSignal: abort.signal },
    );
    return { outcome: 'stored', key: req.key, unchecked };
  } catch (err) {
    // 412: the key exists, i.e. this Frame-Id was stored by an earlier attempt.
    if (isPreconditionFailed(err)) return { outcome: 'duplicate', key: req.key };
    // The SDK reports our own deadline as a bare AbortError; say what it was.
    if (abort.signal.aborted) throw Object.assign(new Error(`S3 write gave no answer within ${req.timeoutMs} ms`), { name: 'TimeoutError', cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** true when the key exists, false when not, the error code when S3 refused to say (403). Other failures throw. */
async function exists(s3: S3Like, bucket: string, key: string, signal: AbortSignal): Promise<boolean | string> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return true;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
    const name = (err as { name?: unknown } | null)?.name;
    if (status === 404 || name === 'NotFound' || name === 'NoSuchKey') return false;
    if (status === 403) return errorCode(err) === 'UnknownError' ? 'AccessDenied' : errorCode(err);
    throw err;
  }
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/** Class names that say nothing about the failure: look for a code instead. */
const GENERIC_ERROR_NAMES: ReadonlySet<string> = new Set(['Error', 'AggregateError', 'TypeError', 'UnknownError']);

/**
 * A short name for a failed write, for `drain write failed: <code>`: the S3 error code
 * (NoSuchBucket, AccessDenied), else the network error code (ECONNREFUSED), else the
 * error's class.
 */
export function errorCode(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; Code?: unknown };
  const name = typeof e.name === 'string' && !GENERIC_ERROR_NAMES.has(e.name) ? e.name : undefined;
  const code = typeof e.code === 'string' ? e.code : typeof e.Code === 'string' ? e.Code : undefined;
  const nested = (err as { errors?: unknown[] } | null)?.errors?.[0];
  const raw = name ?? code ?? (nested ? errorCode(nested) : typeof e.name === 'string' ? e.name : 'UnknownError');
  return raw.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 64) || 'UnknownError';
}

/**
 * The Lambda's S3 client. storeBatch's deadline bounds the whole write; these bounds let a
 * stalled connection or request fail early enough that a retry still fits inside it.
 * Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and
 * keeps waiting. A local endpoint (AWS_ENDPOINT_URL[_S3]) needs path-style addressing.
 */
export function createS3Client(env: Record<string, string | undefined>): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return new S3Client({
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  });
}
