// The bulk restore engine against moto: DeleteObjects bodies with keys S3 allows but XML must
// escape, the guard that never sends a data version's id, and a request that times out and
// lands afterwards (its outcome unknown when the listing is read).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable, startMoto, type MotoServer } from '../support/moto.js';
import { fixtureClients, startFaultProxy } from '../support/aws-fixtures.js';
import { createContext, type Context } from '../../src/lib/run/context.js';
import { createAwsClients, type AwsClients } from '../../src/lib/aws/clients.js';
import { byKey, listVersions, type KeyVersions } from '../../src/lib/attachments/attachments.js';
import { batches, markersToRemove, MAX_BATCH, restoreDeleted } from '../../src/lib/attachments/restore.js';
import { BUCKET, createAttachmentsBucket, dataVersions, read, remove, upload, versions } from '../commands/attachments/fixtures.js';

describe('batches', () => {
  it('about two requests per slot, never more than 1,000 objects in one', () => {
    expect(batches(Array.from({ length: 2048 }, (_, i) => i), 32).map((b) => b.length)).toEqual(Array.from({ length: 64 }, () => 32));
    expect(batches([1, 2, 3], 32)).toEqual([[1], [2], [3]]);
    const big = batches(Array.from({ length: 300_000 }, (_, i) => i), 32);
    expect(Math.max(...big.map((b) => b.length))).toBe(MAX_BATCH);
    expect(big.flat()).toHaveLength(300_000);
  });
});

describe.skipIf(!motoAvailable)('restoreDeleted (moto)', () => {
  let moto: MotoServer;
  let aws: AwsClients;
  const contexts: Context[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    aws = fixtureClients(moto.env);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    aws?.destroy();
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    await createAttachmentsBucket(aws);
  });

  async function context(env: Record<string, string> = moto.env, awsOverride?: AwsClients): Promise<Context> {
    const ctx = await createContext({ env: 'prod', json: false, color: false, debug: false, yes: true }, { stdout: { write: () => true }, stderr: { write: () => true }, env });
    if (awsOverride) Object.assign(ctx, { aws: awsOverride });
    contexts.push(ctx);
    return ctx;
  }

  async function planned(ctx: Context, prefix: string): Promise<KeyVersions[]> {
    return byKey(await listVersions(ctx, BUCKET, prefix));
  }

  it('keys whose names XML must escape are restored by DeleteObjects, their data versions untouched', async () => {
    const names = ['t/a&b <c> "d" \'e\'.pdf', 't/ü é+%20?#.pdf', 't/sp  ace/../x.pdf', 't/\u{1F4CE} clip.png', 't/]]>cdata.txt'];
    for (const k of names) {
      await upload(aws, k, `old ${k}`);
      await upload(aws, k, `new ${k}`);
    }
    await new Promise((r) => setTimeout(r, 1100)); // deleted in a later second, as in life
    for (const k of names) await remove(aws, k);
    await remove(aws, names[0]!); // two markers stacked on one of them
    const before = await versions(aws);
    const ctx = await context();
    const outcomes = await restoreDeleted(ctx, BUCKET, await planned(ctx, 't/'), { concurrency: 2, scope: { prefix: 't/', entries: before.length } });
    expect(outcomes.map((o) => [o.key, o.restored, o.error?.message])).toEqual([...names].sort().map((k) => [k, true, undefined]));
    for (const k of names) expect((await read(aws, k))!.toString()).toBe(`new ${k}`);
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker)).toEqual([]);
    expect(outcomes.find((o) => o.key === names[0])!.removed).toHaveLength(2);
  });

  it('refuses to send a version id that is not a delete marker, before any request', async () => {
    const key = 'g/file.pdf';
    const data = await upload(aws, key, 'keep me');
    await new Promise((r) => setTimeout(r, 1100));
    await remove(aws, key);
    const ctx = await context();
    const [k] = await planned(ctx, key);
    // A data version slipped into the markers (a defect upstream), newer than the data it hides.
    const wrong = { ...k!.data[0]!, deleteMarker: false, lastModified: new Date(Date.now() + 60_000) };
    const forged: KeyVersions = { ...k!, markers: [...k!.markers, wrong] };
    expect(markersToRemove(forged)).toContain(wrong);
    await expect(restoreDeleted(ctx, BUCKET, [forged], { concurrency: 1, scope: { prefix: key, entries: 2 } })).rejects.toThrow(/it is a data version, not a delete marker/);
    expect((await versions(aws)).map((v) => v.versionId)).toContain(data);
    expect(await read(aws, key)).toBeUndefined(); // nothing was sent: the marker is still there
  });

  it('a DeleteObjects that times out and lands later: re-read, sent again only while still listed, nothing else removed', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `late/${i}.pdf`);
    for (const k of keys) await upload(aws, k, k);
    await new Promise((r) => setTimeout(r, 1100));
    for (const k of keys) await remove(aws, k);
    const before = await versions(aws);
    const proxy = await startFaultProxy(moto.endpoint);
    try {
      const isDeleteObjects = (q: { method: string; path: string }) => q.method === 'POST' && new URL(q.path, 'http://s3').searchParams.has('delete');
      // The first request is held past the client's deadline, then reaches S3 and takes effect.
      proxy.delay(isDeleteObjects, 1500, { times: 1 });
      const env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url };
      const ctx = await context(env, createAwsClients({ region: 'us-east-1', env, requestTimeoutMs: 400 }));
      const outcomes = await restoreDeleted(ctx, BUCKET, await planned(ctx, 'late/'), { concurrency: 3, scope: { prefix: 'late/', entries: before.length } });
      expect(outcomes.every((o) => o.restored), JSON.stringify(outcomes)).toBe(true);
      for (const o of outcomes) expect(o.removed).toEqual(before.filter((v) => v.key === o.key && v.deleteMarker).map((v) => v.versionId));
      // Not resent by the SDK on its own: six requests, the listing (the held one not landed yet,
      // its marker still listed), then that key's marker once more, then the listing again.
      const seq = proxy.requests.map((q) => (isDeleteObjects(q) ? 'D' : q.method === 'GET' ? 'L' : '?')).join('');
      expect(seq).toMatch(/^L+D{6}L+DL+$/);
      await proxy.delayedLanded();
      const after = await versions(aws);
      expect(dataVersions(after)).toEqual(dataVersions(before));
      expect(after.filter((v) => v.deleteMarker)).toEqual([]);
      ctx.aws.destroy();
    } finally {
      await proxy.stop();
    }
  });
});
