// attachments restore against moto: a versioned bucket encrypted with the attachments KMS key.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { startFaultProxy } from '../../support/aws-fixtures.js';
import { startFaultProxy as startClockProxy } from '../../support/fault-proxy.js';
import { runCli } from '../../support/run-cli.js';
import { attachmentKey, BUCKET, createAttachmentsBucket, dataVersions, read, remove, upload, versions } from './fixtures.js';
import { startLatencyProxy } from '../../../bench/latency-proxy.mjs';
import { killAll, pressCtrlC, ptyAvailable, sourceCli, spawnPty } from '../../support/pty.js';
import { tempDir } from '../../support/temp.js';

interface RestoreJson {
  dryRun: boolean;
  summary: { restored: number; alreadyPresent: number; noDataVersion: number; planned: number; failed: number };
  keys: { key: string; status: string; deleteMarkers: string[]; current: string | null }[];
}

describe.skipIf(!motoAvailable)('attachments restore', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  let keyId: string;
  beforeEach(async () => {
    keyId = await createAttachmentsBucket(aws);
  });

  const cli = (argv: string[]) => runCli(['attachments', 'restore', ...argv], { env: moto.env });

  it('brings a deleted file back with its bytes intact, removing only the delete marker', async () => {
    const key = attachmentKey();
    const bytes = randomBytes(4096);
    const v1 = await upload(aws, key, bytes);
    await remove(aws, key);
    expect(await read(aws, key)).toBeUndefined();
    const before = await versions(aws);

    const r = await cli([key, '--yes']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/restored: removed 1 delete marker; version .* reads again/);
    expect((await read(aws, key))!.equals(bytes)).toBe(true);
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker)).toEqual([]);
    expect(after.find((v) => !v.deleteMarker)!.versionId).toBe(v1);
  });

  it('removes stacked delete markers down to the newest data version; older versions and markers below stay', async () => {
    const key = attachmentKey({ ext: 'png' });
    await upload(aws, key, 'first');
    const below = await remove(aws, key); // a marker under the newest data version: history, left alone
    await upload(aws, key, 'second');
    for (let i = 0; i < 3; i++) await remove(aws, key);
    const before = await versions(aws);

    const r = await cli([key, '--yes', '--json']);
    expect(r.code).toBe(0);
    const doc = r.json<RestoreJson>();
    expect(doc.keys).toHaveLength(1);
    expect(doc.keys[0]!.status).toBe('restored');
    expect(doc.keys[0]!.deleteMarkers).toHaveLength(3);
    expect(doc.keys[0]!.deleteMarkers).not.toContain(below);
    expect((await read(aws, key))!.toString()).toBe('second');
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker).map((v) => v.versionId)).toEqual([below]);
  });

  it('leaves a file that was never deleted untouched', async () => {
    const key = attachmentKey();
    await upload(aws, key, 'v1');
    await upload(aws, key, 'v2');
    const before = await versions(aws);
    const r = await cli([key, '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<RestoreJson>().keys[0]!.status).toBe('already present');
    expect(await versions(aws)).toEqual(before);
    expect((await read(aws, key))!.toString()).toBe('v2');
  });

  it('restores a whole ticket across several pages of versions, and removes no data version', async () => {
    const customer = randomUUID();
    const ticket = randomUUID();
    const deleted: { key: string; body: string }[] = [];
    const kept: string[] = [];
    for (let i = 0; i < 6; i++) {
      const key = attachmentKey({ customer, ticket, ext: i % 2 ? 'jpg' : 'pdf' });
      await upload(aws, key, `old ${i}`);
      await upload(aws, key, `file ${i}`);
      if (i % 3 === 2) kept.push(key);
      else {
        await remove(aws, key);
        if (i === 0) await remove(aws, key);
        deleted.push({ key, body: `file ${i}` });
      }
    }
    const other = attachmentKey({ customer }); // another ticket of the same customer: out of scope
    await upload(aws, other, 'x');
    await remove(aws, other);
    const before = await versions(aws);
    expect(before.filter((v) => v.key.startsWith(`${customer}/${ticket}/`)).length).toBeGreaterThan(9);

    const plan = await cli(['--customer', customer, '--ticket', ticket, '--dry-run', '--json', '--page-size', '3']);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.json<RestoreJson>().summary).toMatchObject({ planned: 4, alreadyPresent: 2, restored: 0 });
    expect(await versions(aws)).toEqual(before);

    // Through a proxy that counts the listing pages.
    const proxy = await startFaultProxy(moto.endpoint);
    const r = await runCli(['attachments', 'restore', '--customer', customer, '--ticket', ticket, '--yes', '--json', '--page-size', '3'], { env: { ...moto.env, AWS_ENDPOINT_URL: proxy.url } }).finally(() => proxy.stop());
    expect(r.code).toBe(0);
    const listings = proxy.requests.map((q) => new URL(q.path, 'http://s3').searchParams).filter((p) => p.has('versions') && p.get('prefix') === `${customer}/${ticket}/`);
    expect(listings.length, 'ListObjectVersions pages of the ticket').toBeGreaterThanOrEqual(4);
    const doc = r.json<RestoreJson>();
    expect(doc.summary).toMatchObject({ restored: 4, alreadyPresent: 2, failed: 0 });
    expect(doc.keys).toHaveLength(6);
    for (const d of deleted) expect((await read(aws, d.key))!.toString()).toBe(d.body);
    for (const k of kept) expect(doc.keys.find((x) => x.key === k)!.status).toBe('already present');
    expect(await read(aws, other)).toBeUndefined();
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker).map((v) => v.key)).toEqual([other]);
  });

  it('reports a key with only delete markers as having no data version (exit 1) and changes nothing', async () => {
    const key = attachmentKey();
    const v1 = await upload(aws, key, 'gone');
    await remove(aws, key);
    // A lifecycle rule expiring noncurrent versions leaves exactly this: the marker alone.
    const s3 = await aws.s3();
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key, VersionId: v1 }));
    const before = await versions(aws);
    expect(before).toHaveLength(1);
    const r = await cli([key, '--yes', '--json']);
    expect(r.code).toBe(1);
    expect(r.json<RestoreJson>().keys[0]!.status).toBe('no data version');
    expect(r.stderr).toMatch(/no data version left/);
    expect(r.stderr).toMatch(/hint:/);
    expect(await versions(aws)).toEqual(before);
  });

  it('--version-id makes an older version current by copying it under the bucket key', async () => {
    const key = attachmentKey();
    const old = randomBytes(2048);
    const v1 = await upload(aws, key, old);
    await upload(aws, key, 'overwritten by mistake');
    const before = await versions(aws);

    const r = await cli([key, '--version-id', v1, '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<RestoreJson>().keys[0]!.status).toBe('restored');
    expect((await read(aws, key))!.equals(old)).toBe(true);
    const after = await versions(aws);
    for (const v of dataVersions(before)) expect(dataVersions(after)).toContain(v);
    expect(dataVersions(after)).toHaveLength(3);
    const s3 = await aws.s3();
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toContain(keyId);

    const again = await cli([key, '--version-id', r.json<RestoreJson>().keys[0]!.current!, '--yes', '--json']);
    expect(again.json<RestoreJson>().keys[0]!.status).toBe('already present');
  });

  it('plans first: --dry-run and an unconfirmed run change nothing', async () => {
    const key = attachmentKey();
    await upload(aws, key, 'x');
    await remove(aws, key);
    const before = await versions(aws);
    const dry = await cli([key, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/plan \(dry run/);
    expect(dry.stdout).toMatch(/remove 1 delete marker/);
    const unconfirmed = await cli([key]);
    expect(unconfirmed.code).toBe(5);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect(await versions(aws)).toEqual(before);
  });

  /** A ticket of n files, each with an older version, the newest deleted (every third twice). */
  async function deletedTicket(n: number): Promise<{ customer: string; ticket: string; keys: string[]; bodies: Map<string, string> }> {
    const customer = randomUUID();
    const ticket = randomUUID();
    const keys: string[] = [];
    const bodies = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const key = attachmentKey({ customer, ticket });
      await upload(aws, key, `old ${i}`);
      await upload(aws, key, `file ${i}`);
      keys.push(key);
      bodies.set(key, `file ${i}`);
    }
    // Listings give whole seconds: deleted in a later second, as in life, the markers are
    // plainly above the data and the plan removes them by id without listing again.
    const uploaded = Math.floor(Date.now() / 1000);
    await new Promise((resolve) => setTimeout(resolve, (uploaded + 1) * 1000 - Date.now() + 20));
    for (const [i, key] of keys.entries()) {
      await remove(aws, key);
      if (i % 3 === 0) await remove(aws, key);
    }
    return { customer, ticket, keys: keys.sort(), bodies };
  }

  const isDeleteObjects = (q: { method: string; path: string }) => q.method === 'POST' && new URL(q.path, 'http://s3').searchParams.has('delete');

  it('removes the markers with DeleteObjects, --concurrency requests in flight, checks by listing (no HEAD), reports in the plan’s order', async () => {
    const { customer, ticket, keys, bodies } = await deletedTicket(24);
    // A file of the same ticket that reads: the delete marker under its newest version is history.
    const present = attachmentKey({ customer, ticket });
    await upload(aws, present, 'a');
    const history = await remove(aws, present);
    await upload(aws, present, 'b');
    const before = await versions(aws);
    // Counted where the requests arrive.
    const proxy = await startFaultProxy(moto.endpoint);
    const r = await runCli(['attachments', 'restore', '--customer', customer, '--ticket', ticket, '--yes', '--json', '--concurrency', '6'], { env: { ...moto.env, AWS_ENDPOINT_URL: proxy.url } }).finally(() => proxy.stop());
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json<RestoreJson>();
    expect(doc.summary).toMatchObject({ restored: 24, alreadyPresent: 1, failed: 0 });
    expect(doc.keys.map((k) => k.key)).toEqual([...keys, present].sort());
    expect(doc.keys.find((k) => k.key === present)).toMatchObject({ status: 'already present', deleteMarkers: [] });
    const deletes = proxy.requests.filter(isDeleteObjects);
    expect(deletes.length, 'DeleteObjects requests').toBeGreaterThan(1);
    expect(deletes.length).toBeLessThan(32);
    expect(proxy.requests.filter((q) => q.method === 'DELETE' || q.method === 'HEAD'), 'no per-key DeleteObject or HeadObject').toEqual([]);
    expect(proxy.peakInFlight, 'requests in flight at once').toBeGreaterThan(1);
    expect(proxy.peakInFlight).toBeLessThanOrEqual(6);
    for (const k of keys) expect((await read(aws, k))!.toString()).toBe(bodies.get(k));
    expect((await read(aws, present))!.toString()).toBe('b');
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker).map((v) => v.versionId)).toEqual([history]);
    // Two markers on every third key: both named in the report, and they were the listed ones.
    expect(doc.keys.filter((k) => k.deleteMarkers.length === 2)).toHaveLength(8);
    for (const k of doc.keys) expect(k.deleteMarkers.sort()).toEqual(before.filter((v) => v.key === k.key && v.deleteMarker && v.versionId !== history).map((v) => v.versionId).sort());
  });

  it('a DeleteObjects whose answer is lost after it landed is re-read, not resent; a key S3 refuses in Errors[] fails alone', async () => {
    const { customer, ticket, keys, bodies } = await deletedTicket(6);
    const refused = keys[4]!;
    // A bucket policy denying version removal of one key: S3 names that key in DeleteObjects' Errors[].
    const s3 = await aws.s3();
    const { PutBucketPolicyCommand, DeleteBucketPolicyCommand } = await import('@aws-sdk/client-s3');
    const Statement = [{ Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'], Resource: `arn:aws:s3:::${BUCKET}/${refused}` }];
    await s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
    const before = await versions(aws);
    const proxy = await startFaultProxy(moto.endpoint);
    // The first request reaches S3 and takes effect; its answer never comes back.
    proxy.fail(isDeleteObjects, { landed: true, times: 1 });
    // Four in flight: one marker a request (8 markers, 2 a slot), so the lost request is one key's.
    const r = await runCli(['attachments', 'restore', '--customer', customer, '--ticket', ticket, '--yes', '--json', '--concurrency', '4'], { env: { ...moto.env, AWS_ENDPOINT_URL: proxy.url } }).finally(() => proxy.stop());
    expect(r.code, r.stderr).toBe(4);
    const doc = r.json<RestoreJson>();
    expect(doc.summary).toMatchObject({ restored: 5, failed: 1 });
    expect(doc.keys.map((k) => k.key)).toEqual(keys);
    const deletes = proxy.requests.filter(isDeleteObjects);
    expect(deletes, 'each marker sent once: the lost request was re-read from the listing, not resent').toHaveLength(8);
    const listings = proxy.requests.filter((q) => q.method === 'GET' && new URL(q.path, 'http://s3').searchParams.has('versions'));
    expect(listings.length, 'the plan, then the re-read').toBeGreaterThanOrEqual(2);
    for (const k of doc.keys.filter((x) => x.key !== refused)) {
      expect(k.status).toBe('restored');
      expect(k.deleteMarkers.sort()).toEqual(before.filter((v) => v.key === k.key && v.deleteMarker).map((v) => v.versionId).sort());
      expect((await read(aws, k.key))!.toString()).toBe(bodies.get(k.key));
    }
    const f = doc.keys.find((k) => k.key === refused)! as RestoreJson['keys'][number] & { error?: string };
    expect(f).toMatchObject({ status: 'failed', deleteMarkers: [] });
    expect(f.error).toMatch(/AccessDenied/);
    expect(r.stderr).toContain(refused);
    expect(r.stderr).toMatch(/s3:DeleteObjectVersion/);
    expect(await read(aws, refused)).toBeUndefined();
    expect(dataVersions(await versions(aws))).toEqual(dataVersions(before));

    // With the policy gone the rerun restores the refused key and leaves the others as they are.
    await s3.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
    const again = await cli(['--customer', customer, '--ticket', ticket, '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json<RestoreJson>().summary).toMatchObject({ restored: 1, alreadyPresent: 5 });
    expect((await read(aws, refused))!.toString()).toBe(bodies.get(refused));
    expect(dataVersions(await versions(aws))).toEqual(dataVersions(before));
  });

  it('keys with odd characters under the prefix are not attachment keys: listed, warned about, left alone', async () => {
    const { customer, ticket, keys } = await deletedTicket(2);
    const odd = [`${customer}/${ticket}/a&b <c> "d".pdf`, `${customer}/${ticket}/ü é+%20.pdf`, `${customer}/${ticket}/x/../${randomUUID()}.pdf`];
    for (const k of odd) {
      await upload(aws, k, 'odd');
      await remove(aws, k);
    }
    const before = await versions(aws);
    const r = await cli(['--customer', customer, '--ticket', ticket, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 keys under .* do not follow <customer>\/<ticket>\/<file>\.<ext>; left alone/);
    expect(r.json<RestoreJson>().keys.map((k) => k.key)).toEqual(keys);
    const after = await versions(aws);
    for (const k of odd) expect(after.filter((v) => v.key === k)).toEqual(before.filter((v) => v.key === k));
  });

  it('two runs at once on one ticket: both end with every key restored, no data version touched', async () => {
    const { customer, ticket, keys, bodies } = await deletedTicket(12);
    const before = await versions(aws);
    const args = ['--customer', customer, '--ticket', ticket, '--yes', '--json', '--concurrency', '3'];
    const [a, b] = await Promise.all([cli(args), cli(args)]);
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(0);
      // Each run planned before the other's removals, or saw them: restored or already present.
      const s = r.json<RestoreJson>().summary;
      expect(s.restored + s.alreadyPresent).toBe(12);
      expect(s.failed).toBe(0);
    }
    for (const k of keys) expect((await read(aws, k))!.toString()).toBe(bodies.get(k));
    const after = await versions(aws);
    expect(dataVersions(after)).toEqual(dataVersions(before));
    expect(after.filter((v) => v.deleteMarker)).toEqual([]);
  });

  it('S3’s clock jumps 20 minutes after the plan: the refused request is re-read, then sent again and lands', async () => {
    const { customer, ticket, keys, bodies } = await deletedTicket(4);
    const before = await versions(aws);
    let requests = 0;
    // The plan's listing is signed in time; from the first removal on, S3's clock is 20 min ahead.
    const proxy = await startClockProxy(moto.endpoint, { clockOffsetMs: () => (++requests > 1 ? 20 * 60_000 : 0) });
    try {
      const r = await runCli(['attachments', 'restore', '--customer', customer, '--ticket', ticket, '--yes', '--json'], { env: { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint } });
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.skewed, 'requests refused as skewed').toBeGreaterThan(0);
      expect(r.json<RestoreJson>().summary).toMatchObject({ restored: 4, failed: 0 });
    } finally {
      await proxy.close();
    }
    for (const k of keys) expect((await read(aws, k))!.toString()).toBe(bodies.get(k));
    expect(dataVersions(await versions(aws))).toEqual(dataVersions(before));
  });

  it('--concurrency out of range is a usage error (exit 2) with the range', async () => {
    for (const bad of ['0', '65', 'many']) {
      const r = await cli([attachmentKey(), '--concurrency', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(/concurrency/);
    }
  });

  describe.runIf(ptyAvailable)('Ctrl-C while restoring (pty)', () => {
    afterEach(() => killAll());

    it('stops within a second with exit 130, removes no data version, and a rerun restores the rest', async () => {
      const { customer, ticket, keys } = await deletedTicket(40);
      const before = await versions(aws);
      // 100 ms per request, two keys at a time: about 4 s for the ticket, so Ctrl-C lands midway.
      const proxy = await startLatencyProxy({ target: moto.endpoint, delayMs: 100, cache: false });
      try {
        const t = spawnPty(sourceCli(['attachments', 'restore', '--customer', customer, '--ticket', ticket, '--yes', '--concurrency', '2']), {
          env: { ...moto.env, AWS_ENDPOINT_URL: proxy.url, HOME: tempDir('raxx-ops-pty-home-'), PATH: process.env.PATH },
        });
        await t.waitFor(/restoring [1-9]\d* of 40/, 30_000);
        await pressCtrlC(t);
        expect(t.output()).toMatch(/interrupted: \d+ keys? of 40 restored/);
      } finally {
        await proxy.close();
      }
      const mid = await versions(aws);
      expect(dataVersions(mid)).toEqual(dataVersions(before));
      const readable = (await Promise.all(keys.map((k) => read(aws, k)))).filter(Boolean).length;
      expect(readable).toBeGreaterThan(0);
      expect(readable).toBeLessThan(40);

      const again = await cli(['--customer', customer, '--ticket', ticket, '--yes', '--json']);
      expect(again.code).toBe(0);
      const s = again.json<RestoreJson>().summary;
      expect(s.restored + s.alreadyPresent).toBe(40);
      expect(s.alreadyPresent).toBeGreaterThanOrEqual(readable - 2);
      for (const k of keys) expect(await read(aws, k)).toBeDefined();
      expect(dataVersions(await versions(aws))).toEqual(dataVersions(before));
    }, 60_000);
  });
});
