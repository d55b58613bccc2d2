// The lease changing commands take (an S3 object written with conditions): one holder at a
// time, who and since when when refused; a dead holder on this host taken over at once; --force
// takes any lease after a typed confirmation; expiry judged by S3's clock, never a laptop's; a
// lost lease stops the run; released at the end, never needed by reads or dry runs.
import { beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { acquireLease, LeaseHeldError, LeaseLostError, LEASE_PREFIX, type LeaseRecord } from '../../src/lib/run/lease.js';
import { waitFor } from '../support/stand-in.js';
import { createContext } from '../../src/lib/run/context.js';
import { motoAvailable } from '../support/moto.js';
import { useHeroku, useMoto } from '../support/fixtures.js';
import { createBucket, listKeys, putDrainParameters, startFaultProxy } from '../support/aws-fixtures.js';
import { runCli } from '../support/run-cli.js';

const BUCKET = 'raxx-heroku-logs-prod';
const KEY = `${LEASE_PREFIX}drains.json`;
const HEROKU_TOKEN = 'heroku-token-lease-test-0123456789';

describe.skipIf(!motoAvailable)('lease (moto)', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'] });
  let env: Record<string, string>;

  beforeEach(async () => {
    await createBucket(aws, BUCKET);
    await putDrainParameters(aws, { url: 'http://127.0.0.1:9/?token=t0k3n-for-lease-tests', token: 't0k3n-for-lease-tests' });
    env = { ...moto.env, ...heroku.env };
  });

  const plant = async (holder: Partial<LeaseRecord>) => {
    const record: LeaseRecord = { name: 'drains', owner: 'alice@laptop', command: 'raxx-ops drains rotate', startedAt: '2025-06-01T10:00:00.000Z', expiresAt: new Date(Date.now() + 600_000).toISOString(), token: 'x', ...holder };
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: JSON.stringify(record) }));
  };
  const leaseKeys = () => listKeys(aws, BUCKET, LEASE_PREFIX);
  /** The lease's age by S3's clock: the response's Date − LastModified. */
  const s3Age = async () => {
    const head = new HeadObjectCommand({ Bucket: BUCKET, Key: KEY });
    let date = '';
    head.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        date = (out.response as { headers: Record<string, string> }).headers.date!;
        return out;
      },
      { step: 'deserialize' },
    );
    const res = await (await aws.s3()).send(head);
    return Date.parse(date) - res.LastModified!.getTime();
  };
  const context = (opts: { now?: () => Date; s3?: string } = {}) =>
    createContext(
      { env: 'prod', json: false, color: false, debug: false, yes: true },
      { stdout: { write: () => true }, stderr: { write: (s: string) => ((said += s), true) }, env: { ...env, ...(opts.s3 ? { AWS_ENDPOINT_URL_S3: opts.s3 } : {}) }, ...(opts.now ? { now: opts.now } : {}) },
    );
  let said = '';

  it('five runs at once: exactly one holds the lease; the others are told who holds it', async () => {
    const ctxs = await Promise.all(Array.from({ length: 5 }, () => createContext({ env: 'prod', json: false, color: false, debug: false, yes: true }, { stdout: { write: () => true }, stderr: { write: () => true }, env })));
    const results = await Promise.allSettled(ctxs.map((ctx, i) => acquireLease(ctx, 'drains', `run ${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) expect(r.reason).toBeInstanceOf(LeaseHeldError);
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
    // --force asks first (typed on a terminal): without one and without --yes, nothing happens.
    const unconfirmed = await runCli(['drains', 'wire', '--force'], { env });
    expect(unconfirmed.code).toBe(5);
    expect(unconfirmed.stderr).toMatch(/the drains lease is held by alice@laptop: `raxx-ops drains rotate` since 2025-06-01T10:00:00Z, renewed \d+ s ago, live until \S+ \(S3's clock\)/);
    expect(heroku.calls.filter((c) => c.method === 'POST')).toEqual([]);
    const forced = await runCli(['drains', 'wire', '--force', '--yes'], { env });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(/warning: took over the drains lease of alice@laptop/);
    expect(await leaseKeys()).toEqual([]);
  });

  it('an expired lease (by S3\'s clock): refused with a hint to --force; --force --yes takes it over, runs, and releases it', async () => {
    // Its own expiresAt says it is live for hours: only S3's clock counts.
    await plant({ ttlMs: 1000, expiresAt: new Date(Date.now() + 3 * 3600_000).toISOString() });
    await waitFor(async () => (await s3Age()) > 1000, 'the lease 1 s old by S3\'s clock');
    const refused = await runCli(['drains', 'wire'], { env });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/it expired at \S+ \(S3's clock\)[\s\S]*hint: that run seems to have died: .*--force/);
    const r = await runCli(['drains', 'wire', '--force', '--yes'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: took over the drains lease of alice@laptop/);
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

  it('a holder on this host whose process is gone is taken over at once, saying so', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await plant({ owner: `someone@${hostname()}`, host: hostname(), pid: dead });
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: took over the drains lease of someone@\\S+: its run \\(\`raxx-ops drains rotate\` since 2025-06-01T10:00:00Z, pid ${dead} on this host\\) is gone`));
    expect(await leaseKeys()).toEqual([]);
  });

  it('a holder on this host whose process runs, or on another host with the same pid, is left alone', async () => {
    await plant({ owner: `someone@${hostname()}`, host: hostname(), pid: process.ppid });
    expect((await runCli(['drains', 'wire'], { env })).code).toBe(4);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await plant({ owner: 'bob@other-laptop', host: 'other-laptop', pid: dead });
    expect((await runCli(['drains', 'wire'], { env })).code).toBe(4);
    expect(heroku.calls.filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('two hosts\' clocks 20 minutes apart never take a live lease', async () => {
    for (const [holderSkew, takerSkew] of [
      [-20, 0],
      [0, 20],
      [20, -20],
    ]) {
      await moto.reset();
      await createBucket(aws, BUCKET);
      const holderCtx = await context({ now: () => new Date(Date.now() + holderSkew! * 60_000) });
      const held = await acquireLease(holderCtx, 'drains', 'raxx-ops drains rotate');
      const takerCtx = await context({ now: () => new Date(Date.now() + takerSkew! * 60_000) });
      // Another process on another host (this process's pid is never judged dead).
      const err = await acquireLease(takerCtx, 'drains', 'raxx-ops drains wire').catch((e: unknown) => e);
      expect(err, `holder ${holderSkew} min, taker ${takerSkew} min`).toBeInstanceOf(LeaseHeldError);
      expect((err as LeaseHeldError).message).not.toMatch(/expired/);
      await held.release();
      await holderCtx.close();
      await takerCtx.close();
    }
  });

  it('a lease deleted or taken over under its holder aborts the run\'s signal with the reason', async () => {
    for (const [what, change] of [
      ['its object was deleted', async () => (await aws.s3()).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: KEY }))],
      ['someone else took it over', async () => (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: '{}' }))],
    ] as const) {
      said = '';
      const ctx = await context();
      const lease = await acquireLease(ctx, 'drains', 'raxx-ops drains rotate', { ttlMs: 1200 });
      await change();
      await waitFor(() => ctx.signal.aborted, 'the run\'s signal aborted');
      const reason = ctx.signal.reason as LeaseLostError;
      expect(reason).toBeInstanceOf(LeaseLostError);
      expect(reason.exitCode).toBe(4);
      expect(reason.message).toContain(what);
      expect(() => ctx.checkInterrupted()).toThrow(LeaseLostError);
      expect(said).toMatch(/warning: lost the drains lease/);
      await lease.release();
      await ctx.close();
    }
  });

  it('renewals that keep failing lose the lease at half the TTL, before anyone may see it expired', async () => {
    const proxy = await startFaultProxy(moto.endpoint);
    try {
      const ctx = await context({ s3: proxy.url });
      const ttl = 2000;
      await acquireLease(ctx, 'drains', 'raxx-ops drains rotate', { ttlMs: ttl });
      const cut = performance.now();
      proxy.fail((q) => q.method === 'PUT', { status: 503 });
      await waitFor(() => ctx.signal.aborted, 'the run\'s signal aborted');
      expect(performance.now() - cut).toBeLessThan(ttl);
      expect((ctx.signal.reason as Error).message).toMatch(/lost the drains lease \(not renewed for \d+ s\)/);
      // The object is still there and live by S3's clock: nobody else took it meanwhile.
      expect(await s3Age()).toBeLessThanOrEqual(ttl);
      await ctx.close();
    } finally {
      await proxy.stop();
    }
  });

  it('a lease object someone wrote by hand (not JSON, or {}) is an unknown holder: refused, and --force --yes takes it', async () => {
    for (const body of ['not json at all', '{}']) {
      await (await aws.s3()).send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: body }));
      const r = await runCli(['drains', 'wire'], { env });
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/error: an unknown holder holds the drains lease \(running `an unknown command` since /);
      const forced = await runCli(['drains', 'wire', '--force', '--yes'], { env });
      expect(forced.code, forced.stderr).toBe(0);
      expect(await leaseKeys()).toEqual([]);
    }
  });

  it('Ctrl-C while the lease is being written: the write is seen through, then the lease released; no other run is blocked', async () => {
    const proxy = await startFaultProxy(moto.env.AWS_ENDPOINT_URL!);
    try {
      // The lease PUT is held 1.5 s (it lands afterwards); Ctrl-C comes while it is held.
      proxy.delay((r) => r.method === 'PUT' && r.path.includes(LEASE_PREFIX), 1500, { times: 1 });
      const ac = new AbortController();
      const run = runCli(['drains', 'wire', '--yes'], { env: { ...env, AWS_ENDPOINT_URL_S3: proxy.url }, signal: ac.signal });
      await waitFor(() => proxy.requests.some((r) => r.method === 'PUT' && r.path.includes(LEASE_PREFIX)), 'the lease write sent');
      ac.abort();
      const r = await run;
      await proxy.delayedLanded();
      expect(r.code).toBe(130);
      // Nothing wired, and the lease the held write created is gone: the next run takes it at once.
      expect(await leaseKeys()).toEqual([]);
      expect(heroku.drains('raxx-api-prod')).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('is released when the command fails', async () => {
    heroku.failNext(1, 503, { method: 'POST' });
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(4);
    expect(await leaseKeys()).toEqual([]);
  });
});
