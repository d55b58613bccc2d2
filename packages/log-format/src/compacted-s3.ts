// Compaction's S3 calls over an SDK client, for both ends: the receiver's scheduled compactor
// and `logs compact` (which maps the errors its own way). The SDK is a peer: both consumers
// already carry it, and this package stays free of clients and credentials.
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { CompactS3, ListedObject } from './compacted.js';

/** The S3 calls of compaction over an S3 client; the CLI uses it too (with its error mapping). */
export function s3ForCompaction(s3: Pick<S3Client, 'send'>, bucket: string, signal?: AbortSignal): CompactS3 {
  const opts = signal ? { abortSignal: signal } : undefined;
  return {
    async listObjects(prefix) {
      const objects: ListedObject[] = [];
      let token: string | undefined;
      let serverTime: number | undefined;
      // A loop, not paginateListObjectsV2: that one refuses anything but an S3Client instance
      // (this takes any object with send()), and the first page's command carries the clock probe.
      do {
        const command = new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) });
        // S3's clock (the first page's Date): when the listing was taken, whatever this machine's clock says.
        if (serverTime === undefined) {
          command.middlewareStack.add(
            (next) => async (args) => {
              const out = await next(args);
              const date = Date.parse((out.response as { headers?: Record<string, string> }).headers?.date ?? '');
              if (!Number.isNaN(date)) serverTime = date;
              return out;
            },
            { step: 'deserialize', name: 'listingDate' },
          );
        }
        const page = await s3.send(command, opts);
        for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, etag: o.ETag ?? '', ...(o.Size !== undefined ? { size: o.Size } : {}), ...(o.LastModified ? { modified: o.LastModified.getTime() } : {}) });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return { objects, serverTime };
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
    async deleteObject(key) {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), opts);
    },
  };
}
