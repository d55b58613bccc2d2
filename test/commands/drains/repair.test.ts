// drains rotate as the repair of failure mode B, end to end: moto (SSM, Lambda configuration,
// S3), the Heroku API stand-in, the receiver served locally from the function's environment, and
// a Logplex-like sender posting to every receiver drain of every app while the repair runs. From
// each mixed state a hand, a killed run or a forgotten drain can leave, the repair must end with
// SSM, the function and every drain on one token, `drains test` green, and no batch refused
// that the function accepted before (nor any of the drains' batches once it accepts them again).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { motoAvailable } from '../../support/moto.js';
import { useFaultProxy } from '../../support/fixtures.js';
import { APPS, BUCKET, FUNCTION, useDrainWorld, withLatePost } from './world.js';
import { sendBatch, startStream, type LogplexStream } from '../../support/logplex-sender.js';
import { functionEnvironment, getDrainParameters, putDrainParameters, setFunctionEnvironment } from '../../support/aws-fixtures.js';
import { startLambdaRevisions } from '../../support/lambda-revisions.js';
import { waitFor } from '../../support/stand-in.js';

const HEROKU_TOKEN = 'heroku-api-token-4e6a8c0b2d4f6a8c0e2b';
const TOKEN = 'drain-token-1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a';
const BY_HAND = 'drain-token-typed-by-hand-2c4e6a8b0d2f4a6c';
const STALE = 'drain-token-stale-previous-3d5f7b9a1c3e5a7b';
const OLD = 'drain-token-left-on-a-drain-4e6a8c0b2d4f6b8d';
const HALF = 'drain-token-of-a-killed-rotation-5f7b9d1c3e5a7c9e';
const IN_SSM = 'drain-token-put-in-ssm-by-hand-6a8c0e2d4f6b8d0f';
const ALL = [HEROKU_TOKEN, TOKEN, BY_HAND, STALE, OLD, HALF, IN_SSM];

describe.skipIf(!motoAvailable)('drains rotate repairs failure mode B', () => {
  const world = useDrainWorld({ herokuToken: HEROKU_TOKEN, token: TOKEN });
  const { moto, aws, heroku, receiver, receiverDrains } = world;
  const proxy = useFaultProxy(() => moto.endpoint);
  let env: Record<string, string>;
  let streams: { app: string; stream: LogplexStream }[] = [];

  const drainUrl = (token: string, app: string) => `${receiver.base}?token=${token}&app=${app}`;
  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

  const expectNoSecrets = (r: CliResult) => world.expectNoSecrets(r, new Set(ALL));

  /** The function's tokens, as a hand in the console would set them; returns once the receiver follows. */
  async function setTokens(current: string | undefined, previous?: string): Promise<void> {
    const vars: Record<string, string> = { BUCKET_NAME: BUCKET, KEY_PREFIX: 'logs/' };
    if (current) vars.DRAIN_TOKEN = current;
    if (previous) vars.DRAIN_TOKEN_PREVIOUS = previous;
    await setFunctionEnvironment(aws, FUNCTION, vars);
    const probe = current ?? previous;
    if (probe) await waitFor(async () => (await sendBatch(drainUrl(probe, 'raxx-api-prod'), [{ time: new Date(), procid: 'web.1', text: 'follow' }], { retries: 0 })).status === 200, 'receiver follows the function');
    else await waitFor(async () => (await sendBatch(drainUrl(TOKEN, 'raxx-api-prod'), [{ time: new Date(), procid: 'web.1', text: 'follow' }], { retries: 0 })).status !== 200, 'receiver follows the function');
  }

  /** Logplex posts to every drain an app has at the moment a batch starts: take turns. */
  function startSending(): void {
    streams = APPS.map((app) => {
      let turn = 0;
      const stream = startStream(
        () => {
          const urls = receiverDrains(app).map((d) => d.url);
          return urls[turn++ % urls.length]!;
        },
        { intervalMs: 20, linesPerBatch: 2, retries: 2 },
      );
      return { app, stream };
    });
  }
  /** Stops once every app has sent a few batches after the repair, on the drains it left. */
  async function stopSending(): Promise<void> {
    const since = Date.now();
    await Promise.all(streams.map((s) => s.stream.sentSince(since, 3)));
    await Promise.all(streams.map((s) => s.stream.stop()));
  }

  /**
   * Per app and token: a token the function accepted when the repair started is never refused;
   * any other is refused only until its first batch is taken. Counts batches started from
   * `since` on; returns the 403s among them.
   */
  function expectNoRefusalOnceAccepted(acceptedBefore: string[], since = 0): number {
    let refused = 0;
    for (const { app, stream } of streams) {
      const byToken = new Map<string, number[]>();
      for (const b of stream.results.filter((x) => x.startedAt.getTime() >= since)) {
        const t = tokenOf(b.url);
        byToken.set(t, [...(byToken.get(t) ?? []), b.history.at(-1)?.status ?? 0]);
      }
      for (const [t, statuses] of byToken) {
        const label = `${app} on ${ALL.includes(t) ? `token #${ALL.indexOf(t)}` : 'the new token'}`;
        if (acceptedBefore.includes(t)) expect(statuses.filter((s) => s !== 200), label).toEqual([]);
        const firstOk = statuses.indexOf(200);
        if (firstOk >= 0) expect(statuses.slice(firstOk).filter((s) => s === 403), `${label}: refused after it was accepted`).toEqual([]);
        refused += statuses.filter((s) => s === 403).length;
      }
      expect(stream.results.length, `${app} sent`).toBeGreaterThan(3);
    }
    return refused;
  }

  /** SSM, the function and one drain per app on one token; `drains test` green. Returns the token. */
  async function expectSettled(): Promise<string> {
    const fnEnv = await functionEnvironment(aws, FUNCTION);
    const token = fnEnv.DRAIN_TOKEN!;
    expect(fnEnv.DRAIN_TOKEN_PREVIOUS).toBeUndefined();
    expect(await getDrainParameters(aws)).toEqual({ url: `${receiver.base}?token=${token}`, token });
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([drainUrl(token, a)]);
    const test = await runCli(['drains', 'test', '--timeout', '10'], { env });
    expect(test.stderr).toBe('');
    expect(test.code).toBe(0);
    return token;
  }
  beforeEach(() => {
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url, ...heroku.env };
    streams = [];
  });
  afterEach(async () => {
    await Promise.all(streams.map((s) => s.stream.stop()));
  });

  const rotate = (extra: string[] = [], e = env) => runCli(['drains', 'rotate', '--yes', '--grace', '1', '--timeout', '10', ...extra], { env: e });

  it("the function's token changed by hand while Logplex posts: test and doctor name the repair, it ends with no batch refused once accepted and `drains test` green", async () => {
    for (const a of APPS) heroku.addDrain(a, drainUrl(TOKEN, a));
    startSending();
    await waitFor(() => streams.every((s) => s.stream.results.some((b) => b.status === 200)), 'batches delivered');
    await setTokens(BY_HAND);
    await waitFor(() => streams.every((s) => s.stream.results.some((b) => b.status === 403)), 'batches refused');

    // The hints lead to the repair, not in a circle.
    const test = await runCli(['drains', 'test', '--app', 'raxx-api-prod', '--timeout', '5'], { env });
    expect(test.code).toBe(1);
    expect(test.stdout).toMatch(/\[B\] the receiver rejected the token \(403\) .*fix: `raxx-ops drains rotate`: it repairs/);
    expect(test.stderr).toMatch(/hint: `raxx-ops drains rotate`: it repairs/);
    const doctor = await runCli(['doctor', '--json', '--app', 'raxx-api-prod'], { env });
    const token = doctor.json<{ checks: { id: string; findings: { status: string; fix?: string; mode?: string }[] }[] }>().checks.find((c) => c.id === 'token')!;
    const fails = token.findings.filter((f) => f.status === 'fail');
    expect(fails.length).toBeGreaterThan(0);
    for (const f of fails) expect(f).toMatchObject({ mode: 'B', fix: 'raxx-ops drains rotate' });

    const writes = () => heroku.calls.filter((c) => c.method !== 'GET').length;
    const writesBefore = writes();
    const plan = await runCli(['drains', 'rotate', '--dry-run'], { env });
    expect(writes()).toBe(writesBefore);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^repair \(failure mode B\): the drain tokens of raxx-api-prod, raxx-console-prod, raxx-velvet-prod are out of line$/m);
    expect(plan.stdout).toMatch(/accepts again, from step 2, the token the drains of raxx-api-prod, raxx-console-prod, raxx-velvet-prod carry/);
    expect((await functionEnvironment(aws, FUNCTION)).DRAIN_TOKEN).toBe(BY_HAND);

    const started = Date.now();
    const r = await rotate();
    await stopSending();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (let i = 1; i <= 8; i++) expect(r.stdout).toMatch(new RegExp(`step ${i}/8 .*: done`));
    expect(r.stdout).toMatch(/step 3\/8 .*with the new token and with the drains' token/);
    expect(r.stdout).toMatch(/^repaired: SSM, the function and every app's drains hold one new token/m);

    // From the repair's start: refused only until its first change (step 2) was live, as before
    // it; none after. A handful at most, at one batch per 20 ms per app.
    const refused = expectNoRefusalOnceAccepted([], started);
    expect(refused).toBeLessThan(150);
    const next = await expectSettled();
    expect([TOKEN, BY_HAND]).not.toContain(next);
    const old = await sendBatch(drainUrl(TOKEN, 'raxx-api-prod'), [{ time: new Date(), procid: 'web.1', text: 'old' }], { retries: 0 });
    expect(old.status).toBe(403);
    await expectNoSecrets(plan);
    await expectNoSecrets(r);
  });

  // Mixed states: the function (DRAIN_TOKEN, DRAIN_TOKEN_PREVIOUS), SSM (url token, drain_token)
  // and each app's drain tokens; which tokens the function accepts at the start.
  const states: { name: string; fn: [string | undefined, string?]; ssm: [string, string]; drains: string[][]; says: RegExp; fresh: boolean }[] = [
    { name: "function's token changed by hand, DRAIN_TOKEN_PREVIOUS stale", fn: [BY_HAND, STALE], ssm: [TOKEN, TOKEN], drains: [[TOKEN], [TOKEN], [TOKEN]], says: /DRAIN_TOKEN_PREVIOUS is a token no drain carries/, fresh: true },
    { name: 'the function has no DRAIN_TOKEN', fn: [undefined], ssm: [TOKEN, TOKEN], drains: [[TOKEN], [TOKEN], [TOKEN]], says: /the function has no DRAIN_TOKEN/, fresh: true },
    { name: 'SSM changed by hand', fn: [TOKEN], ssm: [IN_SSM, IN_SSM], drains: [[TOKEN], [TOKEN], [TOKEN]], says: /SSM drain_url carries a token the function refuses/, fresh: true },
    { name: 'SSM drain_url and drain_token disagree', fn: [TOKEN], ssm: [TOKEN, IN_SSM], drains: [[TOKEN], [TOKEN], [TOKEN]], says: /drain_token differs from the token in drain_url/, fresh: true },
    { name: "one app's drains on an old token beside its current one", fn: [TOKEN], ssm: [TOKEN, TOKEN], drains: [[TOKEN, OLD], [TOKEN], [OLD]], says: /the drains of raxx-api-prod, raxx-velvet-prod carry a token the function refuses/, fresh: true },
    { name: 'a rotation killed while wiring, then SSM changed by hand', fn: [HALF, TOKEN], ssm: [IN_SSM, IN_SSM], drains: [[HALF, TOKEN], [TOKEN], [TOKEN]], says: /resum|SSM drain_url carries a token the function refuses/, fresh: false },
    { name: 'three tokens in use, two accepted', fn: [HALF, TOKEN], ssm: [HALF, HALF], drains: [[HALF], [TOKEN], [OLD]], says: /carry 3 different tokens/, fresh: false },
    { name: 'drains on two refused tokens, the function changed by hand', fn: [BY_HAND], ssm: [TOKEN, TOKEN], drains: [[TOKEN], [TOKEN], [OLD]], says: /refused.*raxx-velvet-prod .*until step 5/, fresh: true },
  ];

  for (const s of states) {
    it(`repairs: ${s.name}`, async () => {
      await setTokens(s.fn[0], s.fn[1]);
      await putDrainParameters(aws, { url: `${receiver.base}?token=${s.ssm[0]}`, token: s.ssm[1] });
      APPS.forEach((a, i) => s.drains[i]!.forEach((t) => heroku.addDrain(a, drainUrl(t, a))));
      const acceptedBefore = s.fn.filter((t): t is string => Boolean(t));
      startSending();
      await waitFor(() => streams.every((x) => x.stream.results.length > 1), 'batches sent');

      const r = await rotate();
      await stopSending();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^repair \(failure mode B\)/m);
      expect(r.stdout).toMatch(s.says);
      expectNoRefusalOnceAccepted(acceptedBefore);
      const next = await expectSettled();
      if (s.fresh) expect(ALL).not.toContain(next);
      await expectNoSecrets(r);
    });
  }

  it('a repair stopped by a failed POST is not rolled back: every drain stays accepted, a rerun finishes', async () => {
    await setTokens(BY_HAND);
    for (const a of APPS) heroku.addDrain(a, drainUrl(TOKEN, a));
    heroku.failNext(1, 503, { method: 'POST', pathIncludes: '/apps/raxx-velvet-prod/' });
    const r = await rotate();
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/step 5\/8 .*FAILED/);
    expect(r.stderr).not.toMatch(/rolled back/);
    expect(r.stderr).toMatch(/hint: .*run `raxx-ops drains rotate` again to finish/);
    // The function accepts the drains' token and the new one; SSM holds one it accepts.
    const fnEnv = await functionEnvironment(aws, FUNCTION);
    expect(fnEnv.DRAIN_TOKEN_PREVIOUS).toBe(TOKEN);
    expect([fnEnv.DRAIN_TOKEN, TOKEN]).toContain(tokenOf((await getDrainParameters(aws)).url!));
    for (const a of APPS) {
      for (const d of receiverDrains(a)) expect((await sendBatch(d.url, [{ time: new Date(), procid: 'web.1', text: 'after' }], { retries: 0 })).status).toBe(200);
    }
    await expectNoSecrets(r);

    const rerun = await rotate();
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(/resuming a rotation/);
    expect(await expectSettled()).toBe(fnEnv.DRAIN_TOKEN);
    await expectNoSecrets(rerun);
  });

  it("a repair whose function update fails changes nothing else and says a rerun goes on from what is true", async () => {
    await setTokens(BY_HAND);
    for (const a of APPS) heroku.addDrain(a, drainUrl(TOKEN, a));
    proxy.fail((q) => q.method === 'PUT' && q.path.includes('/configuration'));
    const r = await rotate();
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/step 2\/8 .*FAILED/);
    expect(r.stderr).toMatch(/hint: .*if the function's update did not take, the drains it refused are refused still; run `raxx-ops drains rotate` again/);
    expect(heroku.calls.filter((c) => c.method !== 'GET')).toEqual([]);
    expect((await getDrainParameters(aws)).token).toBe(TOKEN);
    proxy.clear();
    const rerun = await rotate();
    expect(rerun.code).toBe(0);
    await expectSettled();
    await expectNoSecrets(r);
  });

  it("a function update whose answer is lost after it landed: the SDK's retry meets its own change, which is recognised, and the repair goes on", async () => {
    await setTokens(BY_HAND);
    for (const a of APPS) heroku.addDrain(a, drainUrl(TOKEN, a));
    const lambda = await startLambdaRevisions(proxy.url);
    try {
      lambda.hold((q) => q.method === 'PUT' && q.path.includes('/configuration'), { dropAnswer: true });
      const r = await rotate([], { ...env, AWS_ENDPOINT_URL: lambda.url });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // The lost answer, then the SDK's retry refused (412): the run judged it by what the function holds.
      expect(lambda.updates.map((u) => u.status)).toEqual([200, 412, 200]);
      await expectSettled();
      await expectNoSecrets(r);
    } finally {
      await lambda.stop();
    }
  });

  it('a drain POST whose answer comes after the deadline is settled by listing; the repair ends with one drain per app', async () => {
    await setTokens(BY_HAND);
    for (const a of APPS) heroku.addDrain(a, drainUrl(TOKEN, a));
    const r = await withLatePost(heroku.url, (q) => q.method === 'POST' && q.path.includes('/apps/raxx-console-prod/'), (e) => rotate([], { ...env, ...e }));
    await expectSettled();
    await expectNoSecrets(r);
  });
});
