// Listings that go through the SDK's paginators: every page is read (S3 answers 1,000 keys a
// page), and the run's signal reaches each page's request.
import { describe, expect, it, beforeAll } from 'vitest';
import { motoAvailable } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';
import { createBucket } from '../support/aws-fixtures.js';
import { lastRuns, HISTORY_PREFIX } from '../../src/lib/shipping/history.js';

const BUCKET = 'raxx-paging-test';
const RECORDS = 1_003;

describe.skipIf(!motoAvailable)('SDK paginators', () => {
  const moto = useMoto();

  beforeAll(async () => {
    await createBucket(moto.aws, BUCKET);
    const s3 = await moto.aws.s3();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const keys = Array.from({ length: RECORDS }, (_, i) => `${HISTORY_PREFIX}auth/2026-03-01T00:00:${String(i).padStart(5, '0')}.json`);
    keys.push(`${HISTORY_PREFIX}auth/zz-not-a-record.txt`);
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((Key, j) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: JSON.stringify({ outcome: 'shipped', day: `n${i + j}` }) }))));
    }
  }, 120_000);

  it('reads past the first page of 1,000 keys', async () => {
    const r = await lastRuns(await moto.aws.s3(), BUCKET, 'auth', 2);
    expect(r.total).toBe(RECORDS);
    expect(r.runs.map((x) => x.day)).toEqual([`n${RECORDS - 1}`, `n${RECORDS - 2}`]);
  });

  it('passes the signal to the page requests: an aborted run lists nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(lastRuns(await moto.aws.s3(), BUCKET, 'auth', 2, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});
