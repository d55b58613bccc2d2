// Closed days are trusted: a compacted day listed after the receiver's horizon (by S3's clock) is
// served from its manifest with no listing of its raw objects; every write into it marks it
// stale first, and nothing is written when the mark cannot be; `logs compact --verify` finds
// what was uploaded by hand. Against moto, whose clock is today's: every 2025 day is closed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compactedKeys, type Manifest } from '@raxx/log-format/compacted';
import { staleMarkPrefix } from '@raxx/log-format/closed-days';
import { acceptanceHorizon, buildShippedDayKey } from '@raxx/log-format/object-key';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js';
import { tempDir } from '../../support/temp.js';
import { batch, BUCKET, createDrainBucket, put, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const D1 = Date.parse('2025-06-01T00:00:00Z');
const HOUR = 3_600_000;
const now = () => new Date('2025-06-03T12:00:00Z');

describe.skipIf(!motoAvailable)('closed days (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let proxy: FaultProxy;
  let env: Record<string, string>;
  /** S3's clock minus this machine's, as the proxy shows it. */
  let offset = 0;
  const objects: Stored[] = [];
  const dir = tempDir('raxx-closed-');

  const cli = (argv: string[], at = now) => runCli(argv, { env, now: at });
  /** Listings of the raw objects of 2025-06-01 (not of the stale marks, nor of the day before that query's lead reaches into). */
  const rawListings = () => proxy.seen.filter((s) => s.includes('list-type=2') && s.includes(`prefix=logs%2F${API}%2F2025%2F06%2F01`)).length;
  const grep = (extra: string[] = [], at = now) => cli(['logs', 'grep', 'status', '--app', API, '--date', '2025-06-01', ...extra], at);
  const s3 = () => aws.s3();
  const getManifest = async (): Promise<Manifest> => {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await (await s3()).send(new GetObjectCommand({ Bucket: BUCKET, Key: compactedKeys(API, D1).manifest }));
    return JSON.parse(Buffer.from(await res.Body!.transformToByteArray()).toString()) as Manifest;
  };
  const marks = async (day = D1) => {
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const res = await (await s3()).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: staleMarkPrefix(API, day, 'compacted/') }));
    return (res.Contents ?? []).map((o) => o.Key!.split('/').pop()!);
  };
  const exists = async (key: string) => {
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    return (await s3()).send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(() => true, () => false);
  };

  beforeAll(async () => {
    proxy = await startFaultProxy(moto.endpoint, { clockOffsetMs: () => offset });
    await createDrainBucket(aws);
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint };
    for (let h = 0; h < 24; h += 2) objects.push(batch(API, D1 + h * HOUR, [`GET /items status=${h % 4 === 0 ? 503 : 200} n=${h}`], { source: 'heroku', dyno: 'router' }));
    await put(aws, objects);
  });

  afterEach(() => {
    proxy.setFaults([]);
    offset = 0;
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('a manifest listed before the horizon (S3 clock at 00:30 the next day) is verified by listing; listed after it, the day is served with no listing', async () => {
    // This machine's clock says 2025-06-03; S3's says 2025-06-02 00:30: the day is finished, not closed.
    offset = D1 + 24 * HOUR + 30 * 60_000 - Date.now();
    const early = await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json']);
    expect(early.code, early.stderr).toBe(0);
    expect(early.json<{ days: { status: string; closed?: boolean }[] }>().days[0]).toMatchObject({ status: 'compacted', closed: false });
    expect(Date.parse((await getManifest()).listedAt!)).toBeLessThan(acceptanceHorizon(D1));
    offset = 0;
    const raw = await grep(['--no-compacted']);
    expect(raw.code).toBe(0);
    proxy.seen.length = 0;
    const verified = await grep();
    expect(verified.stdout).toBe(raw.stdout);
    expect(rawListings()).toBeGreaterThan(0);

    // Listed again now (S3's clock past the horizon), found the same: stamped, not rewritten.
    const sealed = await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json']);
    expect(sealed.json<{ days: { status: string; closed?: boolean }[] }>().days[0]).toMatchObject({ status: 'up-to-date', closed: true });
    expect(Date.parse((await getManifest()).listedAt!)).toBeGreaterThanOrEqual(acceptanceHorizon(D1));
    proxy.seen.length = 0;
    const trusted = await grep(['--debug']);
    expect(trusted.stdout).toBe(raw.stdout);
    expect(rawListings()).toBe(0);
    expect(trusted.stderr).toMatch(/1 closed app-day\(s\) taken from their manifests without listing/);
    // logs query too: the closed day's records, no listing; the same rows as every object read raw.
    const sql = ['logs', 'query', 'SELECT count(*) AS n, sum(CASE WHEN status = 503 THEN 1 ELSE 0 END) AS errors FROM logs', '--app', API, '--date', '2025-06-01', '--json'];
    proxy.seen.length = 0;
    const q = await cli([...sql, '--debug']);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toMatch(/query: 1 closed app-day\(s\) taken from their manifests without listing/);
    expect(rawListings()).toBe(0);
    const qRaw = await cli([...sql, '--no-compacted']);
    expect(q.json<{ rows: unknown[] }>().rows).toEqual(qRaw.json<{ rows: unknown[] }>().rows);
    expect(qRaw.json<{ rows: unknown[] }>().rows).toEqual([{ n: 12, errors: 6 }]);
    expect(rawListings()).toBeGreaterThan(0);
    // --no-compacted lists, whatever the manifest says; so does compact --verify.
    proxy.seen.length = 0;
    expect((await grep(['--no-compacted'])).stdout).toBe(raw.stdout);
    expect(rawListings()).toBeGreaterThan(0);
    proxy.seen.length = 0;
    const again = await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json']);
    expect(again.json<{ days: { status: string; closed?: boolean }[] }>().days[0]).toMatchObject({ status: 'up-to-date', closed: true });
    expect(rawListings()).toBe(0);
    await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--verify']);
    expect(rawListings()).toBeGreaterThan(0);
  });

  it("this machine's clock off either way: S3's clock decides, the output is the same", async () => {
    const raw = await grep(['--no-compacted']);
    // A clock months ahead trusts nothing more than S3 allows: the closed day is still served whole.
    proxy.seen.length = 0;
    const ahead = await grep([], () => new Date('2026-01-01T00:00:00Z'));
    expect(ahead.stdout).toBe(raw.stdout);
    expect(rawListings()).toBe(0);
    // A clock a day behind still asks for the manifest (S3 decides); one that says the day has
    // barely begun does not: the day is listed, same lines.
    proxy.seen.length = 0;
    expect((await grep([], () => new Date(D1 + 12 * HOUR))).stdout).toBe(raw.stdout);
    expect(rawListings()).toBe(0);
    const behind = await grep([], () => new Date(D1 + 30 * 60_000));
    expect(behind.stdout).toBe(raw.stdout);
    expect(rawListings()).toBeGreaterThan(0);
    // S3's clock behind the day's horizon while this machine's is far ahead: compaction makes no trusted manifest.
    offset = D1 + 24 * HOUR + 10 * 60_000 - Date.now();
    const r = await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--force', '--json'], () => new Date('2026-01-01T00:00:00Z'));
    expect(r.json<{ days: { closed?: boolean }[] }>().days[0]!.closed).toBe(false);
    offset = 0;
    expect((await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json'])).json<{ days: { closed?: boolean }[] }>().days[0]!.closed).toBe(true);
  });

  it('a ship into the closed, compacted day marks it stale first: the next grep lists the day and prints the shipped lines', async () => {
    const file = join(dir, `${API}-2025-06-01.log`);
    await writeFile(file, 'shipped status=418 by hand\n');
    const r = await cli(['logs', 'ship', API, file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await exists(buildShippedDayKey('logs/', API, '2025-06-01'))).toBe(true);
    expect((await marks()).sort().map((m) => m.replace(/^[0-9a-f-]{36}/, 'ID'))).toEqual(['ID.open', 'ID.settled']);
    proxy.seen.length = 0;
    const g = await grep();
    expect(g.stdout).toContain('shipped status=418 by hand');
    expect(g.stdout).toBe((await grep(['--no-compacted'])).stdout);
    expect(rawListings()).toBeGreaterThan(0);
    // The next compaction takes it in; the marks it covers are removed once a later one finds them closed.
    const c = await cli(['logs', 'compact', '--app', API, '--date', '2025-06-01', '--json']);
    expect(c.json<{ days: { status: string; late: number }[] }>().days[0]).toMatchObject({ status: 'compacted', late: 1 });
  });

  it('a stale mark that cannot be written stops the write: exit 4, nothing shipped; one written whose answer was lost keeps readers listing', async () => {
    const file = join(dir, `${API}-2025-05-30.log`);
    await writeFile(file, 'never shipped\n');
    proxy.setFaults([{ method: 'PUT', path: (p) => p.includes('/compacted/stale/'), status: 500, times: 100 }]);
    const r = await cli(['logs', 'ship', API, file, '--json', '--retry-base-ms', '10']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/could not mark raxx-api-prod 2025-05-30 as changed before writing into it, so nothing was written/);
    expect(r.stderr).toMatch(/hint: .*compacted\/stale\//);
    expect(await exists(buildShippedDayKey('logs/', API, '2025-05-30'))).toBe(false);

    // The mark lands but its answer is lost (a time-out): the write still does not happen, and
    // the mark left behind keeps the closed day from being trusted.
    const { writeIntoDrainDays } = await import('../../../src/lib/shipping/drain-writes.js');
    const real = await s3();
    const lost = {
      send: async (command: { input: { Key?: string } }, options?: object) => {
        const out = await real.send(command as never, options);
        if (command.input.Key?.endsWith('.open')) throw Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
        return out;
      },
    };
    let wrote = false;
    const deps = { s3: lost as never, keyPrefix: 'logs/', compactedRoot: 'compacted/', signal: new AbortController().signal, endpoint: moto.endpoint, warn: () => undefined };
    const late = batch(API, D1 + 23 * HOUR, ['GET /late status=500 n=99'], { source: 'heroku', dyno: 'router' });
    await expect(writeIntoDrainDays(deps, { bucket: BUCKET, keys: [late.key] }, () => {
      wrote = true;
      return Promise.resolve();
    })).rejects.toThrow(/nothing was written/);
    expect(wrote).toBe(false);
    expect((await marks()).some((m) => m.endsWith('.open'))).toBe(true);
    proxy.seen.length = 0;
    await grep();
    expect(rawListings()).toBeGreaterThan(0);
  });

  it('an object uploaded by hand into a closed day: logs compact --verify finds it and compacts the day again; grep then prints it', async () => {
    // A day with no marks: the marks of the earlier tests are D1's.
    const D3 = Date.parse('2025-05-20T00:00:00Z');
    const day = [batch(API, D3 + HOUR, ['GET /a status=200 n=1'], { source: 'heroku', dyno: 'router' }), batch(API, D3 + 2 * HOUR, ['GET /b status=200 n=2'], { source: 'heroku', dyno: 'router' })];
    await put(aws, day);
    const at = ['--date', '2025-05-20'];
    expect((await cli(['logs', 'compact', '--app', API, ...at, '--json'])).json<{ days: { closed?: boolean }[] }>().days[0]!.closed).toBe(true);
    // By hand: one new object, one existing key uploaded again with other content (no marks: aws s3 cp).
    const extra = batch(API, D3 + 3 * HOUR, ['GET /c status=200 by-hand'], { source: 'heroku', dyno: 'router' });
    await put(aws, [extra, { ...day[0]!, body: gzipSync(Buffer.from('20 <158>1 2025-05-20T01:00:00+00:00 host heroku router - GET /a status=200 replaced\n')) }]);
    const plain = await cli(['logs', 'compact', '--app', API, ...at, '--json']);
    expect(plain.json<{ days: { status: string }[] }>().days[0]!.status).toBe('up-to-date');
    const verify = await cli(['logs', 'compact', '--app', API, ...at, '--verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.json<{ days: { status: string; changed?: number; late: number }[] }>().days[0]).toMatchObject({ status: 'compacted', changed: 2, late: 1 });
    const g = await cli(['logs', 'grep', 'status=200', '--app', API, ...at]);
    expect(g.stdout).toContain('by-hand');
    expect(g.stdout).toContain('replaced');
    expect(g.stdout).toBe((await cli(['logs', 'grep', 'status=200', '--app', API, ...at, '--no-compacted'])).stdout);
  });
});
