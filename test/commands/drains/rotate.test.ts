// drains test and drains rotate end to end: moto (SSM, Lambda configuration, S3), the Heroku
// API stand-in, the receiver served locally from the function's environment, and a
// Logplex-like sender posting to whatever drains Heroku has while the token rotates.
import { beforeEach, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { tempDir } from '../../support/temp.js';
import { join } from 'node:path';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { motoAvailable } from '../../support/moto.js';
import { useFaultProxy } from '../../support/fixtures.js';
import { APPS, BUCKET, FUNCTION, useDrainWorld } from './world.js';
import type { HerokuApiServer } from '../../support/heroku-api.js';
import { sendBatch, startStream, type LogplexStream } from '../../support/logplex-sender.js';
import { functionEnvironment, getDrainParameters, listKeys, putDrainParameters, type FaultProxy, type ProxiedRequest } from '../../support/aws-fixtures.js';
import { waitFor } from '../../support/stand-in.js';
import { startHerokuProxy } from '../../support/drain-stand-ins.js';

const HEROKU_TOKEN = 'heroku-api-token-2b7d9f1a3c5e7a9b1d3f';
const TOKEN = 'drain-token-9c1e3a5b7d9f1b3d5f7a9c1e3b5d7f9a';

describe.skipIf(!motoAvailable)('drains test and rotate', () => {
  const world = useDrainWorld({ herokuToken: HEROKU_TOKEN, token: TOKEN });
  const { moto, aws, heroku, receiver, receiverDrains } = world;
  const proxy = useFaultProxy(() => moto.endpoint);
  /** The CLI's environment: AWS through the fault proxy, Heroku through its stand-in. */
  let env: Record<string, string>;
  /** Every token the function ever had during a test: none may be printed. */
  const secrets = new Set<string>([HEROKU_TOKEN, TOKEN]);

  const expectNoSecrets = (r: CliResult) => world.expectNoSecrets(r, secrets);
  beforeEach(() => {
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url, ...heroku.env };
  });

  async function wired(): Promise<void> {
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(0);
  }

  /** Every line a stream delivered is in S3, under its app. */
  async function expectStored(stream: LogplexStream, app: string): Promise<void> {
    const delivered = stream.results.filter((b) => b.outcome === 'delivered').flatMap((b) => b.lines);
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const stored = new Set<string>();
    for (const key of await listKeys(aws, BUCKET, `logs/${app}/`)) {
      const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString('utf8');
      for (const m of text.matchAll(/stream batch \d+ line \d+/g)) stored.add(m[0]);
    }
    for (const line of delivered) expect(stored.has(line), `${line} stored`).toBe(true);
  }

  it('test: a wired app delivers a synthetic Logplex batch to S3 under its key', async () => {
    await wired();
    const r = await runCli(['drains', 'test', '--json'], { env });
    expect(r.code).toBe(0);
    const doc = r.json<{ apps: { app: string; ok: boolean; status: number; key: string }[] }>();
    expect(doc.apps.map((a) => [a.app, a.ok, a.status])).toEqual(APPS.map((a) => [a, true, 200]));
    const keys = await listKeys(aws, BUCKET);
    for (const a of doc.apps) {
      expect(a.key).toMatch(new RegExp(`^logs/${a.app}/\\d{4}/\\d{2}/\\d{2}/\\d{13}-[0-9a-f]{32}\\.gz$`));
      expect(keys).toContain(a.key);
    }
    await expectNoSecrets(r);
  });

  it('test: a token the receiver rejects is failure mode B (exit 1)', async () => {
    heroku.addDrain('raxx-api-prod', `${receiver.base}?token=${TOKEN}&app=raxx-api-prod`);
    await putDrainParameters(aws, { url: `${receiver.base}?token=wrong-token-1234567890`, token: 'wrong-token-1234567890' });
    secrets.add('wrong-token-1234567890');
    heroku.addDrain('raxx-api-prod', `${receiver.base}?token=wrong-token-1234567890&app=raxx-api-prod`);
    const r = await runCli(['drains', 'test', '--app', 'raxx-api-prod', '--timeout', '5'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[B\] the receiver rejected the token \(403\)/);
    expect(r.stderr).toMatch(/failure mode B/);
    await expectNoSecrets(r);
  });

  it('test: S3 refusing writes is failure mode C', async () => {
    await wired();
    const { DeleteBucketCommand } = await import('@aws-sdk/client-s3');
    await (await aws.s3()).send(new DeleteBucketCommand({ Bucket: BUCKET }));
    const r = await runCli(['drains', 'test', '--app', 'raxx-api-prod', '--timeout', '5'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[C\]/);
    await expectNoSecrets(r);
  });

  it('rotate --dry-run prints the steps and changes nothing', async () => {
    await wired();
    const before = heroku.calls.length;
    const r = await runCli(['drains', 'rotate', '--dry-run'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/step 1\/8 {2}generate a new token: planned/);
    expect(r.stdout).toMatch(/step 8\/8 {2}function drops the old token: planned/);
    // The plan shows every old drain as removed (in step 7), none as kept.
    for (const app of APPS) expect(r.stdout).toMatch(new RegExp(`${app}\\n {4}add {5}\\S+\\n {4}remove {2}\\S+ `));
    expect(r.stdout).not.toMatch(/keep .*stale/);
    expect(heroku.calls.slice(before).every((c) => c.method === 'GET')).toBe(true);
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
    expect((await getDrainParameters(aws)).token).toBe(TOKEN);
    await expectNoSecrets(r);
  });

  it('rotate --dry-run --json is one JSON document with the steps and each app\'s plan', async () => {
    await wired();
    const r = await runCli(['drains', 'rotate', '--dry-run', '--json'], { env });
    expect(r.code).toBe(0);
    const doc = r.json<{ dryRun: boolean; steps: { status: string }[]; plan: { app: string; plan: { add: string | null; remove: { class: string }[] } }[] }>();
    expect(doc.dryRun).toBe(true);
    expect(doc.steps.map((s) => s.status)).toEqual(Array(8).fill('planned'));
    expect(doc.plan.map((p) => p.app)).toEqual(APPS);
    for (const p of doc.plan) {
      expect(p.plan.add).toMatch(/\?token=\*\*\*\*&app=/);
      expect(p.plan.remove.map((d) => d.class)).toEqual(['stale']);
    }
    await expectNoSecrets(r);
  });

  it('rotate without --yes and without a terminal changes nothing (exit 5)', async () => {
    await wired();
    const r = await runCli(['drains', 'rotate'], { env });
    expect(r.code).toBe(5);
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
    await expectNoSecrets(r);
  });

  it('rotate names receiver drains the classifier does not recognise, moves the one on another path and flags the add-on one', async () => {
    await wired();
    const stray = heroku.addDrain('raxx-api-prod', `${receiver.base}other/path?token=${TOKEN}&app=raxx-api-prod`);
    const addon = heroku.addDrain('raxx-console-prod', `${receiver.base}?token=${TOKEN}&app=raxx-console-prod`, { addon: 'logger-cubic-1234' });
    const plan = await runCli(['drains', 'rotate', '--dry-run'], { env });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(`raxx-api-prod {2}stray {3}${stray.id} .*another path: removed in step 7`));
    expect(plan.stdout).toMatch(new RegExp(`raxx-console-prod {2}stray {3}${addon.id} .*add-on logger-cubic-1234 sends to the receiver`));
    expect(plan.stderr).toMatch(/warning: raxx-console-prod: the add-on drain \S+ sends to the receiver; rotation cannot move it/);

    const r = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10'], { env });
    expect(r.code).toBe(0);
    const next = (await functionEnvironment(aws, FUNCTION)).DRAIN_TOKEN!;
    expect(heroku.drains('raxx-api-prod').map((d) => d.url)).toEqual([`${receiver.base}?token=${next}&app=raxx-api-prod`]);
    // The add-on's drain is not raxx-ops' to remove: it stays, as the plan said.
    expect(heroku.drains('raxx-console-prod').map((d) => d.id)).toContain(addon.id);
    await expectNoSecrets(plan);
    await expectNoSecrets(r);
  });

  it('rotate end to end while Logplex keeps posting: no 403, nothing lost, the old token rejected afterwards', async () => {
    await wired();
    const app = 'raxx-api-prod';
    // Logplex posts to the drains Heroku has at the moment each batch starts; with two (old and
    // new) it posts to both, so alternate between them.
    let turn = 0;
    const stream = startStream(
      () => {
        const urls = receiverDrains(app).map((d) => d.url);
        return urls[turn++ % urls.length]!;
      },
      { intervalMs: 20, linesPerBatch: 3, retries: 2 },
    );
    const r = await runCli(['drains', 'rotate', '--yes', '--grace', '1', '--timeout', '10'], { env });
    // A few batches after the rotation, on the drains it left.
    await stream.sentSince(Date.now(), 3);
    await stream.stop();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (let i = 1; i <= 8; i++) expect(r.stdout).toMatch(new RegExp(`step ${i}/8 .*: done`));

    const statuses = stream.results.flatMap((b) => b.history.map((h) => h.status));
    expect(stream.results.length).toBeGreaterThan(10);
    expect(statuses).not.toContain(403);
    expect(stream.results.every((b) => b.outcome === 'delivered')).toBe(true);
    await expectStored(stream, app);

    const fnEnv = await functionEnvironment(aws, FUNCTION);
    const next = fnEnv.DRAIN_TOKEN!;
    expect(next).not.toBe(TOKEN);
    expect(fnEnv.DRAIN_TOKEN_PREVIOUS).toBeUndefined();
    const params = await getDrainParameters(aws);
    expect(params).toEqual({ url: `${receiver.base}?token=${next}`, token: next });
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${next}&app=${a}`]);

    await waitFor(async () => (await sendBatch(`${receiver.base}?token=${TOKEN}&app=${app}`, [{ time: new Date(), procid: 'web.1', text: 'old token' }], { retries: 0 })).status === 403, 'old token rejected', 5000);
    const fresh = await sendBatch(`${receiver.base}?token=${next}&app=${app}`, [{ time: new Date(), procid: 'web.1', text: 'new token' }], { retries: 0 });
    expect(fresh.status).toBe(200);
    await expectNoSecrets(r);

    const again = await runCli(['drains', 'wire', '--json'], { env });
    expect(again.json<{ apps: { status: string }[] }>().apps.every((a) => a.status === 'unchanged')).toBe(true);
  });

  // Each failure point of a rotation: afterwards every app still has a drain the receiver
  // accepts, SSM matches a drain the function accepts, and a second rotate finishes the job.
  const interruptions: { name: string; inject: (h: HerokuApiServer, p: FaultProxy) => void; code: number; rolledBack: boolean; step: number }[] = [
    { name: 'the function update fails', inject: (_h, p) => p.fail((q) => q.method === 'PUT' && q.path.includes('/configuration')), code: 4, rolledBack: true, step: 2 },
    { name: 'SSM is unavailable for the write', inject: (_h, p) => p.fail((q) => q.target === 'AmazonSSM.PutParameter'), code: 4, rolledBack: true, step: 4 },
    { name: 'Heroku fails a POST', inject: (h) => h.failNext(1, 503, { method: 'POST', pathIncludes: '/apps/raxx-velvet-prod/' }), code: 4, rolledBack: true, step: 5 },
    { name: 'S3 is unavailable for the test', inject: (_h, p) => {
      let n = 0;
      p.fail((q) => q.method === 'HEAD' && ++n > 1);
    }, code: 4, rolledBack: true, step: 6 },
    { name: 'Heroku fails a DELETE of an old drain', inject: (h) => h.failNext(1, 503, { method: 'DELETE', pathIncludes: '/apps/raxx-console-prod/' }), code: 4, rolledBack: false, step: 7 },
    { name: 'the last function update fails', inject: (_h, p) => {
      let n = 0;
      p.fail((q) => q.method === 'PUT' && q.path.includes('/configuration') && ++n >= 2);
    }, code: 4, rolledBack: false, step: 8 },
  ];
  /** Every receiver drain of every app is accepted by the function now. */
  async function expectEveryDrainAccepted(apps: string[], text: string): Promise<void> {
    for (const a of apps) {
      const drains = receiverDrains(a);
      expect(drains.length, `${a} has a receiver drain`).toBeGreaterThan(0);
      for (const d of drains) {
        const sent = await sendBatch(d.url, [{ time: new Date(), procid: 'web.1', text }], { retries: 0 });
        expect(sent.status, `${a} ${d.url.replace(/token=[^&]+/, 'token=…')}`).toBe(200);
      }
    }
  }

  it('rotate settles a POST that landed although Heroku answered 503 by listing, and goes on', async () => {
    await wired();
    const via = await startHerokuProxy(heroku.url, (q) => (q.method === 'POST' && q.path.includes('/apps/raxx-velvet-prod/') ? { answer503: true } : {}));
    try {
      const r = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env: { ...env, HEROKU_API_URL: via.url } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const next = (await functionEnvironment(aws, FUNCTION)).DRAIN_TOKEN!;
      expect(next).not.toBe(TOKEN);
      for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${next}&app=${a}`]);
      await expectEveryDrainAccepted(APPS, 'after a POST that landed');
      await expectNoSecrets(r);
    } finally {
      await via.stop();
    }
  });

  it('rotate interrupted (Ctrl-C) while drains are being added: the ones that landed are rolled back too', async () => {
    // More apps than run at once, so that some are still waiting when Ctrl-C comes.
    const apps = [...APPS, 'raxx-extra1-prod', 'raxx-extra2-prod'];
    for (const a of apps.slice(APPS.length)) heroku.addApp(a);
    const config = join(tempDir('raxx-ops-rotate-'), 'config.json');
    writeFileSync(config, JSON.stringify({ apps }));
    const ac = new AbortController();
    const via = await startHerokuProxy(heroku.url, (q) => {
      if (q.method !== 'POST') return {};
      setTimeout(() => ac.abort(), 50);
      return { delayMs: 400 };
    });
    try {
      const cliEnv = { ...env, HEROKU_API_URL: via.url, RAXX_OPS_CONFIG: config };
      expect((await runCli(['drains', 'wire'], { env: { ...env, RAXX_OPS_CONFIG: config } })).code).toBe(0);
      const r = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env: cliEnv, signal: ac.signal });
      expect(r.code).toBe(130);
      expect(r.stdout).toMatch(/step 5\/8 .*FAILED/);
      expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
      for (const a of apps) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`]);
      await expectEveryDrainAccepted(apps, 'after Ctrl-C');
      await expectNoSecrets(r);
    } finally {
      await via.stop();
    }
  });

  it('rotate interrupted (Ctrl-C) during the grace wait keeps accepting the old token; a rerun finishes', async () => {
    await wired();
    const ac = new AbortController();
    const running = runCli(['drains', 'rotate', '--yes', '--grace', '60', '--timeout', '5'], { env, signal: ac.signal });
    // Step 7 is done once no app has a drain with the old token any more.
    await waitFor(() => APPS.every((a) => receiverDrains(a).length > 0 && receiverDrains(a).every((d) => !d.url.includes(`token=${TOKEN}&`))), 'old drains removed');
    ac.abort();
    const r = await running;
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/step 8\/8 .*FAILED/);
    // Where it stopped and that a rerun finishes, not just "interrupted".
    expect(r.stderr).toMatch(/error: rotation stopped at step 8[\s\S]*hint: [\s\S]*interrupted\n$/);
    const fnEnv = await functionEnvironment(aws, FUNCTION);
    expect(fnEnv.DRAIN_TOKEN_PREVIOUS).toBe(TOKEN);
    const late = await sendBatch(`${receiver.base}?token=${TOKEN}&app=raxx-api-prod`, [{ time: new Date(), procid: 'web.1', text: 'in flight' }], { retries: 0 });
    expect(late.status).toBe(200);
    await expectNoSecrets(r);

    const rerun = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env });
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(/resuming a rotation/);
    expect((await functionEnvironment(aws, FUNCTION)).DRAIN_TOKEN_PREVIOUS).toBeUndefined();
    await expectNoSecrets(rerun);
  });

  for (const c of interruptions) {
    it(`rotate interrupted when ${c.name}: stops at step ${c.step}, leaves working drains, a rerun finishes`, async () => {
      await wired();
      c.inject(heroku, proxy);
      const r = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env });
      expect(r.code).toBe(c.code);
      expect(r.stdout).toMatch(new RegExp(`step ${c.step}/8 .*FAILED`));
      expect(r.stderr).toMatch(new RegExp(`rotation stopped at step ${c.step} `));
      expect(r.stderr).toMatch(c.rolledBack ? /hint: rolled back/ : /hint: .*run `raxx-ops drains rotate` again to finish/);
      await expectNoSecrets(r);
      proxy.clear();

      if (c.rolledBack) expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
      await expectEveryAppDelivers(`after ${c.name}`);
      const rerun = await rerunFinishes();
      if (!c.rolledBack) expect(rerun.stdout).toMatch(/resuming a rotation/);
    });
  }

  /** Whatever happened, every app delivers through its drains, and SSM's URL is accepted. */
  async function expectEveryAppDelivers(text: string): Promise<void> {
    const fnEnv = await functionEnvironment(aws, FUNCTION);
    const accepted = [fnEnv.DRAIN_TOKEN, fnEnv.DRAIN_TOKEN_PREVIOUS].filter(Boolean);
    const params = await getDrainParameters(aws);
    expect(accepted).toContain(new URL(params.url!).searchParams.get('token'));
    for (const a of APPS) {
      const drains = receiverDrains(a);
      expect(drains.length).toBeGreaterThan(0);
      for (const d of drains) {
        const sent = await sendBatch(d.url, [{ time: new Date(), procid: 'web.1', text }], { retries: 0 });
        expect(sent.status, `${a} ${d.url.replace(/token=[^&]+/, 'token=…')}`).toBe(200);
      }
    }
  }

  /** A rerun ends the rotation: one drain per app on the function's only token. */
  async function rerunFinishes(): Promise<CliResult> {
    const rerun = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env });
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    const done = await functionEnvironment(aws, FUNCTION);
    expect(done.DRAIN_TOKEN_PREVIOUS).toBeUndefined();
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${done.DRAIN_TOKEN}&app=${a}`]);
    await expectNoSecrets(rerun);
    return rerun;
  }

  // Ctrl-C while AWS holds a write (it lands 5 s later): the run stops at once, rolls back
  // nothing that write may bring, and leaves every drain working once it lands.
  const heldWrites: { name: string; step: number; match: (q: ProxiedRequest) => boolean }[] = [
    { name: "the function's update", step: 2, match: (q) => q.method === 'PUT' && q.path.includes('/configuration') },
    { name: 'the SSM write', step: 4, match: (q) => q.target === 'AmazonSSM.PutParameter' },
  ];
  for (const w of heldWrites) {
    it(`rotate: Ctrl-C while ${w.name} is in flight stops at once; what lands later still works`, async () => {
      await wired();
      proxy.delay(w.match, 5000, { times: 1 });
      const abort = new AbortController();
      const run = runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '5'], { env, signal: abort.signal });
      await waitFor(() => proxy.requests.some(w.match), `${w.name} sent`);
      const pressed = Date.now();
      abort.abort();
      const r = await run;
      expect(Date.now() - pressed, 'stopped without waiting for AWS').toBeLessThan(3000);
      expect(r.code).toBe(130);
      expect(r.stdout).toMatch(new RegExp(`step ${w.step}/8 .*FAILED`));
      expect(r.stdout).toMatch(/a write got no answer and may still land/);
      expect(r.stderr).not.toMatch(/hint: rolled back/);
      await proxy.delayedLanded();
      proxy.clear();
      await expectEveryAppDelivers(`after Ctrl-C during ${w.name}`);
      await rerunFinishes();
    });
  }
});
