// The compactor's decisions over an in-memory bucket (the moto tests cover the whole path):
// a manifest of the previous version is stale, and an ETag that changed makes a day out of date.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { compactedKeys, readManifest, type CompactS3 } from '@raxx/log-format/compacted';
import { compactDay } from '@raxx/log-format/compact-day';

const DAY = Date.parse('2025-06-01T00:00:00Z');
const key = (n: number) => `logs/raxx-api-prod/2025/06/01/${DAY + n * 60_000}-00000000-0000-4000-8000-00000000000${n}.gz`;

function bucket(): CompactS3 & { objects: Map<string, Buffer> } {
  const objects = new Map<string, Buffer>();
  const etag = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
  return {
    objects,
    listObjects: (prefix) => Promise.resolve({ objects: [...objects].filter(([k]) => k.startsWith(prefix)).map(([k, b]) => ({ key: k, etag: etag(b) })), serverTime: undefined }),
    getObject: (k) => Promise.resolve(objects.get(k)),
    putObject: (k, body) => (objects.set(k, body), Promise.resolve()),
  };
}
const opts = (s3: CompactS3) => ({ s3, keyPrefix: 'logs/', now: DAY + 2 * 86_400_000 });

describe('compactDay', () => {
  it('a manifest of version 1 (keys only) is stale: read as none, and the day is compacted again', async () => {
    const s3 = bucket();
    s3.objects.set(key(1), gzipSync('12 <190>1 a\n'));
    const names = compactedKeys('raxx-api-prod', DAY);
    s3.objects.set(names.manifest, Buffer.from(JSON.stringify({ version: 1, keys: [key(1)], keysSha256: 'x', lines: 1 })));
    expect(await readManifest(s3, 'raxx-api-prod', DAY)).toBeUndefined();
    expect((await compactDay(opts(s3), 'raxx-api-prod', DAY)).status).toBe('compacted');
    expect((await readManifest(s3, 'raxx-api-prod', DAY))?.version).toBe(2);
    expect((await compactDay(opts(s3), 'raxx-api-prod', DAY)).status).toBe('up-to-date');
  });

  it('the same keys with another ETag (an object uploaded again) are not up to date', async () => {
    const s3 = bucket();
    s3.objects.set(key(1), gzipSync('a\n'));
    s3.objects.set(key(2), gzipSync('b\n'));
    expect((await compactDay(opts(s3), 'raxx-api-prod', DAY)).status).toBe('compacted');
    s3.objects.set(key(2), gzipSync('b\nb again\n'));
    const r = await compactDay(opts(s3), 'raxx-api-prod', DAY);
    expect(r).toMatchObject({ status: 'compacted', lines: 3 });
  });

  it('a damaged object is recorded with its problem, and only its verified text is kept', async () => {
    const s3 = bucket();
    const gz = gzipSync('never verified\n');
    gz[gz.length - 6]! ^= 1;
    s3.objects.set(key(1), Buffer.concat([gzipSync('kept\n'), Buffer.from('junk')]));
    s3.objects.set(key(2), gz);
    await compactDay(opts(s3), 'raxx-api-prod', DAY);
    const m = (await readManifest(s3, 'raxx-api-prod', DAY))!;
    expect(m.lines).toBe(1);
    expect(m.problems[key(1)]).toMatch(/after 1 complete gzip member; only the 1 line/);
    expect(m.problems[key(2)]).toMatch(/checksum mismatch.*; no line of it was read/);
  });
});
