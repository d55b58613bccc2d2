// Writing a batch to S3: gzip of the body exactly as received (operators read it with
// `aws s3 cp s3://… - | gunzip`, hence application/gzip and no Content-Encoding), written
// only if the key is new, so a retried batch lands once.
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

const gzipAsync = promisify(gzip);
/**
 * Below this, gzip inline: a ~100 KB Logplex batch compresses in well under a millisecond,
 * less than the thread-pool round trip costs. Larger bodies go to the pool so a local server
 * stays responsive.
 */
const INLINE_GZIP_BYTES = 256 * 1024;

/** The part of an S3Client the receiver uses; tests pass a stub or a mocked client. */
export interface S3Like {
  send(command: PutObjectCommand, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface StoreRequest {
  bucket: string;
  key: string;
  body: Buffer;
  metadata: Record<string, string>;
  /** Give up before Logplex does (it waits 5 s, then retries with the same Frame-Id). */
  timeoutMs: number;
}

export type StoreResult = 'stored' | 'duplicate';

export async function storeBatch(s3: S3Like, req: StoreRequest): Promise<StoreResult> {
  const gz = req.body.length <= INLINE_GZIP_BYTES ? gzipSync(req.body) : await gzipAsync(req.body);
  // A plain timer: AbortSignal.timeout() costs more CPU than the rest of a small write.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  try {
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
    return 'stored';
  } catch (err) {
    // 412: the key exists, i.e. this Frame-Id was stored by an earlier attempt.
    if (isPreconditionFailed(err)) return 'duplicate';
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

/**
 * A short name for a failed write, for `drain write failed: <code>`: the S3 error code
 * (NoSuchBucket, AccessDenied), else the network error code (ECONNREFUSED), else the
 * error's class.
 */
export function errorCode(err: unknown): string {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; Code?: unknown };
  const generic = new Set(['Error', 'AggregateError', 'TypeError', 'UnknownError']);
  const name = typeof e.name === 'string' && !generic.has(e.name) ? e.name : undefined;
  const code = typeof e.code === 'string' ? e.code : typeof e.Code === 'string' ? e.Code : undefined;
  const nested = (err as { errors?: unknown[] } | null)?.errors?.[0];
  const raw = name ?? code ?? (nested ? errorCode(nested) : typeof e.name === 'string' ? e.name : 'UnknownError');
  return raw.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 64) || 'UnknownError';
}

/**
 * The Lambda's S3 client. Timeouts and attempts stay inside Logplex's 5 s request timeout.
 * A local endpoint (AWS_ENDPOINT_URL[_S3]) needs path-style addressing.
 */
export function createS3Client(env: Record<string, string | undefined>): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  return new S3Client({
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
  });
}
