// The lease changing commands take (an S3 object written with conditions): one holder at a
// time, who and since when when refused, takeover only of an expired lease with --force,
// released at the end, never needed by reads or dry runs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { acquireLease, LeaseHeldError, LEASE_PREFIX, type LeaseRecord } from '../../src/lib/lease.js';
import { createContext } from '../../src/lib/context.js';
import { motoAvailable, startMoto, type MotoServer } from '../support/moto.js';
import { startHerokuApi, type HerokuApiServer } from '../support/heroku-api.js';
import { createBucket, fixtureClients, listKeys, putDrainParameters } from '../support/aws-fixtures.js';
import { runCli } from '../support/run-cli.js';
import type { AwsClients } from '../../src/lib/aws.js';

const BUCKET = 'raxx-heroku-logs-prod';
const KEY = `${LEASE_PREFIX}drains.json`;
const HEROKU_TOKEN = 'heroku-token-lease-test-0123456789';

describe.skipIf(!motoAvailable)('lease (moto)', () => {
  let moto: MotoServer;
  let aws: AwsClients;
  let heroku: HerokuApiServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    moto = await startMoto();
    aws = fixtureClients(moto.env);
  });
  afterAll(async () => {
    aws?.destroy();
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    await createBucket(aws, BUCKET);
    await putDrainParameters(aws, { url: 'http://127.0.0.1:9/?token=t0k3n-for-lease-tests', token: 't0k3n-for-lease-tests' });
    heroku = await startHerokuApi({ token: HEROKU_TOKEN, apps: ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'] });
    env = { ...moto.env, HEROKU_API_KEY: HEROKU_TOKEN, HEROKU_API_URL: heroku.url };
  });
  afterEach(async () => {
    await heroku?.stop();
  });

  const plant = async (holder: Partial<LeaseRecord>) => {
    const record: LeaseRecord = { name: 'drains', owner: 'alice@laptop', command: 'raxx-ops drains rotate', startedAt: '2025-06-01T10:00:00.000Z', expiresAt: new Date(Date.now() + 600_000).toISOString(), token: 'x', ...holder };
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: JSON.stringify(record) }));
  };
  const leaseKeys = () => listKeys(aws, BUCKET, LEASE_PREFIX);

  it('five runs at once: exactly one holds the lease; the others are told who holds it', async () => {
    const ctxs = await Promise.all(Array.from({ length: 5 }, () => createContext({ env: 'prod', json: false, color: false, debug: false, yes: true }, { stdout: { write: () => true }, stderr: { write: () => true }, env })));
    const results = await Promise.allSettled(ctxs.map((ctx, i) => acquireLease(ctx, 'drains', `run ${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(LeaseHeldError);
    const held = JSON.parse(await (await (await aws.s3()).send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).Body!.transformToString()) as LeaseRecord;
    expect(held.command).toBe((won[0] as PromiseFulfilledResult<{ record: LeaseRecord }>).value.record.command);
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    expect(await leaseKeys()).toEqual([]);
    for (const c of ctxs) await c.close();
  });

  it('a changing command refuses while another run holds the lease, naming it; reads and dry runs go on', async () => {
    await plant({});
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/error: alice@laptop holds the drains lease \(running `raxx-ops drains rotate` since 2025-06-01T10:00:00Z\)/);
    expect(r.stderr).toMatch(/hint: wait for it to finish \(rerun with --wait 600\)/);
    expect(heroku.calls.filter((c) => c.method === 'POST')).toEqual([]);
    expect((await runCli(['drains', 'wire', '--dry-run'], { env })).code).toBe(0);
    expect((await runCli(['drains', 'list'], { env })).code).toBe(0);
    // --force takes over only an expired lease.
    expect((await runCli(['drains', 'wire', '--force'], { env })).code).toBe(4);
  });

  it('an expired lease: refused with a hint to --force; --force takes it over, runs, and releases it', async () => {
    await plant({ expiresAt: '2025-06-01T10:10:00.000Z' });
    const refused = await runCli(['drains', 'wire'], { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/it expired at 2025-06-01T10:10:00.000Z[\s\S]*hint: that run seems to have died: .*--force/);
    const r = await runCli(['drains', 'wire', '--force'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: took over the expired drains lease of alice@laptop/);
    for (const app of ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod']) expect(heroku.drains(app)).toHaveLength(1);
    expect(await leaseKeys()).toEqual([]);
  });

  it('--wait waits for the holder to finish', async () => {
    await plant({});
    setTimeout(() => void (async () => {
      const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
      await (await aws.s3()).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: KEY }));
    })(), 600);
    const r = await runCli(['drains', 'wire', '--wait', '10'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/waiting for the drains lease held by alice@laptop/);
    expect(await leaseKeys()).toEqual([]);
  });

  it('is released when the command fails', async () => {
    heroku.failNext(1, 503, { method: 'POST' });
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(4);
    expect(await leaseKeys()).toEqual([]);
  });
});
