// Compaction's S3 calls over an SDK client, for both ends: the receiver's scheduled compactor
// and `logs compact` (which maps the errors its own way). The SDK is a peer: both consumers
// already carry it, and this package stays free of clients and credentials.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CompactS3 } from './compacted.js';

/** The S3 calls of compaction over an S3 client; the CLI uses it too (with its error mapping). */
export function s3ForCompaction(s3: Pick<S3Client, 'send'>, bucket: string, signal?: AbortSignal): CompactS3 {
  const opts = signal ? { abortSignal: signal } : undefined;
  return {
    async listObjects(prefix) {
      const objects: { key: string; etag: string }[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), opts);
        for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, etag: o.ETag ?? '' });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return objects;
    },
    async getObject(key) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), opts);
        return Buffer.from(await res.Body!.transformToByteArray());
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      }
    },
    async putObject(key, body, contentType, metadata) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, Metadata: metadata }), opts);
    },
  };
}
