// The log-shipping runbook's daily job for sources that cannot drain over HTTPS: collect,
// validate, redact, compress, upload, verify, clean up. Input of any size goes through in
// constant memory: lines are validated and redacted as they stream, gzipped into a temporary
// file (so a retry re-sends the same bytes, even from stdin), uploaded in parts, and verified
// by reading the SHA-256 back before anything local is deleted.
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGzip } from 'node:zlib';
import { buildShippedDayKey, dayPrefix, DAY_MS, utcDate } from '@raxx/log-format/object-key';
import { awsError } from '../aws/clients.js';
import type { SourceSettings } from '../core/config.js';
import { ConfigError, InterruptedError, ServiceError, UsageError } from '../core/errors.js';
import { Redactor, type SecretRule } from '../core/redaction.js';

// ---------------------------------------------------------------------------------------------
// Redaction

// The rules live in redaction.ts, shared with output masking.
export { DEFAULT_REDACTIONS, Redactor, redactionRules, type SecretRule } from '../core/redaction.js';

// ---------------------------------------------------------------------------------------------
// Preparing: lines → validate → redact → gzip → temporary file

export type InputFormat = 'auto' | 'json' | 'plain';

export interface ShipInput {
  /** As shown in messages: the path, or "stdin". */
  name: string;
  /** The input's bytes, from the start. */
  open(): Readable;
  /** Size in bytes when known (files), for progress. */
  size?: number | undefined;
}

export interface BadLine {
  input: string;
  line: number;
  error: string;
}

export interface CutLine {
  input: string;
  line: number;
  /** The line's length in bytes, before the cut. */
  bytes: number;
}

export interface Prepared {
  /** The gzipped, redacted content, in a temporary folder removed by dispose(). */
  file: string;
  format: 'json' | 'plain';
  lines: number;
  /** Lines with something on them: none means the day has no entries. */
  entries: number;
  badLines: number;
  /** Lines longer than the cap, shipped cut and flagged. */
  cutLines: number;
  /** The first cut lines, with their input and line number. */
  cut: CutLine[];
  /** The first bad lines, with their input and line number (all are counted and kept). */
  bad: BadLine[];
  redactions: number;
  redactionsByRule: Record<string, number>;
  bytesIn: number;
  /** Size of the redacted text before compression. */
  bytesPlain: number;
  bytesOut: number;
  /** SHA-256 of the redacted text: what makes two shipments of a day "the same". */
  sha256: string;
  /** SHA-256 of the object's bytes: what verification reads back. */
  gzipSha256: string;
  dispose(): Promise<void>;
}

const MAX_BAD_REPORTED = 20;

/** The longest line shipped whole (1 MiB); the rest of a longer line is dropped and the line flagged. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/**
 * Refuses input that is not text, judged by its first bytes: gzip (a rotated log not yet
 * decompressed) or NUL bytes, which no text log holds, would otherwise ship as "plain".
 */
function refuseBinary(name: string, start: Buffer): void {
  if (start[0] === 0x1f && start[1] === 0x8b) {
    throw new UsageError(`${name} is gzip-compressed, not a text log`, { hint: `decompress it first: zcat ${name === 'stdin' ? 'FILE' : name} | raxx-ops logs ship SOURCE - --date YYYY-MM-DD` });
  }
  const sample = start.subarray(0, 64 * 1024);
  const nul = sample.indexOf(0);
  if (nul >= 0) {
    throw new UsageError(`${name} is binary, not a text log (a NUL byte at offset ${nul})`, { hint: 'ship the text log files (plain lines or JSON lines); check that the path names the log, not a database, core dump or archive' });
  }
}

export async function prepare(
  inputs: ShipInput[],
  opts: { rules: readonly SecretRule[]; format: InputFormat; signal: AbortSignal; maxLineBytes?: number; onProgress?: (bytesIn: number, bytesOut: number) => void },
): Promise<Prepared> {
  const dir = await mkdtemp(join(tmpdir(), 'raxx-ops-ship-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const file = join(dir, 'content.gz');
  const redactor = new Redactor(opts.rules);
  const plainHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let format: 'json' | 'plain' | undefined = opts.format === 'auto' ? undefined : opts.format;
  const stats = { lines: 0, entries: 0, badLines: 0, cutLines: 0, bytesIn: 0, bytesPlain: 0, bytesOut: 0 };
  const bad: BadLine[] = [];
  const cut: CutLine[] = [];
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;

  const processLine = (input: string, n: number, text: string): string => {
    stats.lines += 1;
    if (text.trim() !== '') stats.entries += 1;
    // Auto: JSON lines when the first non-empty line is an object.
    if (format === undefined && text.trim() !== '') format = text.trimStart().startsWith('{') ? 'json' : 'plain';
    if (format === 'json' && text.trim() !== '') {
      try {
        JSON.parse(text);
      } catch (err) {
        stats.badLines += 1;
        if (bad.length < MAX_BAD_REPORTED) bad.push({ input, line: n, error: jsonError(err) });
      }
    }
    return redactor.line(text) + '\n';
  };

  async function* lines(): AsyncGenerator<Buffer> {
    for (const input of inputs) {
      let decoder = new StringDecoder('utf8');
      let carry = '';
      let n = 0;
      let first = true;
      // A line longer than the cap: its first maxLineBytes are kept, the rest is only counted
      // until its newline, so a file with no newline at all costs no more memory than the cap.
      let long: { kept: string; bytes: number } | undefined;
      for await (const chunk of input.open()) {
        if (opts.signal.aborted) throw new InterruptedError();
        // A stream in object mode may hand over strings.
        let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        if (first) {
          first = false;
          refuseBinary(input.name, buf);
        }
        stats.bytesIn += buf.length;
        let out = '';
        if (long) {
          const nl = buf.indexOf(10);
          if (nl < 0) {
            long.bytes += buf.length;
            opts.onProgress?.(stats.bytesIn, stats.bytesOut);
            continue;
          }
          long.bytes += nl;
          out += processLine(input.name, ++n, cutLine(input.name, n, long.kept, long.bytes));
          long = undefined;
          decoder = new StringDecoder('utf8');
          buf = buf.subarray(nl + 1);
        }
        const text = carry + decoder.write(buf);
        const parts = text.split('\n');
        carry = parts.pop()!;
        for (const part of parts) out += processLine(input.name, ++n, part.length > maxLine / 4 && Buffer.byteLength(part) > maxLine ? cutLine(input.name, n, head(part), Buffer.byteLength(part)) : part);
        if (carry.length > maxLine / 4 && Buffer.byteLength(carry) > maxLine) {
          long = { kept: head(carry), bytes: Buffer.byteLength(carry) };
          carry = '';
        }
        if (out) yield emit(out);
        opts.onProgress?.(stats.bytesIn, stats.bytesOut);
      }
      if (long) {
        yield emit(processLine(input.name, ++n, cutLine(input.name, n, long.kept, long.bytes + Buffer.byteLength(decoder.end()))));
        continue;
      }
      const rest = carry + decoder.end();
      // A last line without a newline is still a line; it gets one.
      if (rest !== '') yield emit(processLine(input.name, ++n, rest));
    }
  }

  /** The first maxLineBytes of a line, cut at a character boundary. */
  const head = (line: string): string => {
    const b = Buffer.from(line.slice(0, maxLine), 'utf8');
    let end = Math.min(maxLine, b.length);
    while (end > 0 && (b[end]! & 0xc0) === 0x80) end -= 1;
    return b.subarray(0, end).toString('utf8');
  };

  /**
   * A cut line, flagged in the record itself: a JSON record of the kept text in a JSON-lines
   * input (so the object stays JSON lines), else the text with a marker after it.
   */
  const cutLine = (input: string, line: number, kept: string, bytes: number): string => {
    stats.cutLines += 1;
    if (cut.length < MAX_BAD_REPORTED) cut.push({ input, line, bytes });
    const isJson = format === 'json' || (format === undefined && kept.trimStart().startsWith('{'));
    return isJson ? JSON.stringify({ raxx_ops_cut: { bytes, kept: Buffer.byteLength(kept) }, line: kept }) : `${kept} [raxx-ops: line cut, ${bytes} bytes, first ${Buffer.byteLength(kept)} kept]`;
  };

  const emit = (text: string): Buffer => {
    const b = Buffer.from(text, 'utf8');
    plainHash.update(b);
    stats.bytesPlain += b.length;
    return b;
  };

  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      gzHash.update(chunk);
      stats.bytesOut += chunk.length;
      cb(null, chunk);
    },
  });

  try {
    await pipeline(Readable.from(lines()), createGzip(), count, createWriteStream(file), { signal: opts.signal });
  } catch (err) {
    await dispose();
    if (opts.signal.aborted) throw new InterruptedError();
    const e = err as NodeJS.ErrnoException;
    if (e instanceof InterruptedError) throw e;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') {
      throw new UsageError(`cannot read ${e.path ?? 'the input'}: ${e.code === 'ENOENT' ? 'no such file' : e.code}`, { hint: 'name existing, readable log files, or - for stdin' });
    }
    throw err;
  }
  return {
    file,
    format: format ?? 'plain',
    ...stats,
    bad,
    cut,
    redactions: redactor.total,
    redactionsByRule: redactor.counts,
    sha256: plainHash.digest('hex'),
    gzipSha256: gzHash.digest('hex'),
    dispose,
  };
}

/**
 * JSON.parse's message without the excerpt of the line it quotes (`Unexpected token 'b',
 * "{"msg": pas"... is not valid JSON`): the excerpt is the unredacted input.
 */
function jsonError(err: unknown): string {
  const message = (err as Error).message.replace(/,?\s*"[\s\S]*"(?:\.\.\.)? is not valid JSON$/, '').trim();
  return message || 'not valid JSON';
}

// ---------------------------------------------------------------------------------------------
// Where a source's day goes

export type Layout = SourceSettings['layout'];

/** The object key of one source's day, in the source's layout. */
export function shippedKey(layout: Layout, keyPrefix: string, source: string, date: string): string {
  return layout === 'receiver' ? buildShippedDayKey(keyPrefix, source, date) : `${source}/${date}/${source}.log.gz`;
}

/** The prefix listing one source's day (status), in the source's layout. */
export function dayListPrefix(layout: Layout, keyPrefix: string, source: string, date: string): string {
  return layout === 'receiver' ? dayPrefix(keyPrefix, source, date) : `${source}/${date}/`;
}

/** Where a source's objects live (the lifecycle rule's filter). */
export function sourcePrefix(layout: Layout, keyPrefix: string, source: string): string {
  return layout === 'receiver' ? `${keyPrefix}${source}/` : `${source}/`;
}

// ---------------------------------------------------------------------------------------------
// Upload, verify, retry

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
  const e = awsError(err, 'S3', action, endpoint);
  if (e instanceof ServiceError && e.code === 'NoSuchBucket') {
    return new ServiceError('S3', `bucket ${bucket} does not exist (${action})`, { code: e.code, hint: 'check the source\'s "bucket" in the configuration (`raxx-ops config show`), or create the bucket', cause: err });
  }
  return e;
}

// ---------------------------------------------------------------------------------------------
// Dates of inputs

/** A `YYYY-MM-DD` (or `YYYYMMDD`) in a file name: the day a rotated log file holds. */
export function dateInName(name: string): string | undefined {
  const base = name.split('/').pop() ?? name;
  const m = /(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)/.exec(base);
  if (!m) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  const ms = Date.parse(`${date}T00:00:00Z`);
  return Number.isFinite(ms) && utcDate(ms) === date ? date : undefined;
}

/** A file's day: the date in its name, else the UTC day it was last written. */
export async function fileDate(path: string): Promise<string> {
  const named = dateInName(path);
  if (named) return named;
  const s = await stat(path);
  return utcDate(s.mtimeMs);
}

/** The UTC days (`YYYY-MM-DD`) of the last n days, ending with the day before `now`. */
export function lastDays(now: number, n: number): string[] {
  const yesterday = Math.floor(now / DAY_MS) * DAY_MS - DAY_MS;
  return Array.from({ length: n }, (_, i) => utcDate(yesterday - (n - 1 - i) * DAY_MS));
}

// ---------------------------------------------------------------------------------------------
// A source's bucket: permissions and lifecycle (`logs sources setup|test`)

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
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules as never } }), { abortSignal: signal });
  } catch (err) {
    throw bucketError(err, bucket, 'PutBucketLifecycleConfiguration', endpoint);
  }
}

// ---------------------------------------------------------------------------------------------
// Status of a source over its last days (`logs status`)

/** The runbook's window: 7 days per log type. */
export const SOURCE_STATUS_DAYS = 7;

export interface SourceDayStatus {
  day: string;
  objects: number;
  /** Lines of the shipped object (its metadata); null when the day has none. */
  entries: number | null;
  bytes: number;
  missing: boolean;
}

export interface SourceStatus {
  source: string;
  required: boolean;
  bucket: string;
  layout: Layout;
  entries: number;
  bytes: number;
  missing: string[];
  /** The runbook's table: healthy; a missing day is a warning for an optional source, critical for a required one. */
  health: 'healthy' | 'warning' | 'critical';
  days: SourceDayStatus[];
}

export async function sourceStatus(
  s3: S3Client,
  opts: { source: { name: string; required: boolean; bucket: string; layout: Layout }; keyPrefix: string; days: string[]; signal: AbortSignal; endpoint: string },
): Promise<SourceStatus> {
  const { ListObjectsV2Command, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const { source } = opts;
  const days = await Promise.all(
    opts.days.map(async (day): Promise<SourceDayStatus> => {
      const prefix = dayListPrefix(source.layout, opts.keyPrefix, source.name, day);
      const shipped = shippedKey(source.layout, opts.keyPrefix, source.name, day);
      let objects = 0;
      let bytes = 0;
      let hasShipped = false;
      let token: string | undefined;
      try {
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: source.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: opts.signal });
          for (const o of page.Contents ?? []) {
            objects += 1;
            bytes += o.Size ?? 0;
            if (o.Key === shipped) hasShipped = true;
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        let entries: number | null = null;
        if (hasShipped) {
          const head = await s3.send(new HeadObjectCommand({ Bucket: source.bucket, Key: shipped }), { abortSignal: opts.signal });
          // Objects shipped before the entries count count lines.
          const n = Number(head.Metadata?.[META.entries] ?? head.Metadata?.[META.lines]);
          entries = Number.isFinite(n) ? n : null;
        }
        // A shipped object with no entries (an empty file) is not the day's logs.
        return { day, objects, entries, bytes, missing: objects === 0 || (hasShipped && objects === 1 && entries === 0) };
      } catch (err) {
        if (opts.signal.aborted) throw new InterruptedError();
        throw bucketError(err, source.bucket, 'ListObjectsV2', opts.endpoint);
      }
    }),
  );
  const missing = days.filter((d) => d.missing).map((d) => d.day);
  return {
    source: source.name,
    required: source.required,
    bucket: source.bucket,
    layout: source.layout,
    entries: days.reduce((n, d) => n + (d.entries ?? 0), 0),
    bytes: days.reduce((n, d) => n + d.bytes, 0),
    missing,
    health: missing.length === 0 ? 'healthy' : source.required ? 'critical' : 'warning',
    days,
  };
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
