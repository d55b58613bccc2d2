// Drains commands against each other and against a slow or forgetful world: two operators at
// once, another change to the function while a rotation runs, a POST whose answer comes too
// late. AWS goes through a proxy that gives Lambda's configuration a RevisionId (moto has
// none) and refuses an update with a stale one (412), as Lambda does.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { motoAvailable } from '../../support/moto.js';
import { APPS, BUCKET, FUNCTION, useDrainWorld, withLatePost } from './world.js';
import { sendBatch } from '../../support/logplex-sender.js';
import { fixtureClients, functionEnvironment, getDrainParameters, putDrainParameters } from '../../support/aws-fixtures.js';
import { startLambdaRevisions, type AwsRequest, type LambdaRevisions } from '../../support/lambda-revisions.js';
import { startHerokuProxy } from '../../support/drain-stand-ins.js';
import { gate } from '../../support/stand-in.js';
import type { AwsClients } from '../../../src/lib/aws/clients.js';

const HEROKU_TOKEN = 'heroku-api-token-7c2e4a6b8d0f2a4c6e8b';
const TOKEN = 'drain-token-3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b';
const OTHER = 'drain-token-of-another-operator-5e7a9c1b3d5f';

const isUpdate = (q: AwsRequest) => q.method === 'PUT' && q.path.includes('/configuration');
const isGetConfiguration = (q: AwsRequest) => q.method === 'GET' && q.path.includes('/configuration');

describe.skipIf(!motoAvailable)('drains under concurrency and faults', () => {
  const world = useDrainWorld({ herokuToken: HEROKU_TOKEN, token: TOKEN });
  /** Straight to moto: reads that must not disturb the emulated revisions. */
  const { moto, aws, heroku, receiver, receiverDrains } = world;
  /** Through the RevisionId proxy: "another operator" changing the function. */
  let operator: AwsClients;
  let lambda: LambdaRevisions;
  let env: Record<string, string>;
  const secrets = new Set<string>([HEROKU_TOKEN, TOKEN, OTHER]);

  const expectNoSecrets = (r: CliResult) => world.expectNoSecrets(r, secrets);

  /** Another operator's change to the function, through the RevisionId emulation. */
  async function otherOperatorSets(variables: Record<string, string>): Promise<void> {
    const { UpdateFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
    await (await operator.lambda()).send(new UpdateFunctionConfigurationCommand({ FunctionName: FUNCTION, Environment: { Variables: { BUCKET_NAME: BUCKET, KEY_PREFIX: 'logs/', ...variables } } }));
  }

  /** The end state every run must leave: one receiver drain per app, on the token the function accepts; SSM the same; no previous token. */
  async function expectSettled(): Promise<string> {
    const fnEnv = await functionEnvironment(aws, FUNCTION);
    const token = fnEnv.DRAIN_TOKEN!;
    expect(fnEnv.DRAIN_TOKEN_PREVIOUS).toBeUndefined();
    expect(await getDrainParameters(aws)).toEqual({ url: `${receiver.base}?token=${token}`, token });
    for (const a of APPS) {
      expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${token}&app=${a}`]);
      const sent = await sendBatch(receiverDrains(a)[0]!.url, [{ time: new Date(), procid: 'web.1', text: 'settled' }], { retries: 0 });
      expect(sent.status).toBe(200);
    }
    return token;
  }
  beforeEach(async () => {
    lambda = await startLambdaRevisions(moto.endpoint);
    operator = fixtureClients({ ...moto.env, AWS_ENDPOINT_URL: lambda.url });
    env = { ...moto.env, AWS_ENDPOINT_URL: lambda.url, ...heroku.env };
    for (const a of APPS) heroku.addDrain(a, `${receiver.base}?token=${TOKEN}&app=${a}`);
  });
  afterEach(async () => {
    operator?.destroy();
    await lambda?.stop();
  });

  const rotate = (extra: string[] = [], e = env, signal?: AbortSignal) => runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10', ...extra], { env: e, signal });

  it('the emulation: every update changes the RevisionId, a stale one is refused with 412', async () => {
    const { GetFunctionConfigurationCommand, UpdateFunctionConfigurationCommand } = await import('@aws-sdk/client-lambda');
    const client = await operator.lambda();
    const first = (await client.send(new GetFunctionConfigurationCommand({ FunctionName: FUNCTION }))).RevisionId!;
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: FUNCTION, RevisionId: first, Environment: { Variables: { DRAIN_TOKEN: OTHER } } }));
    const second = (await client.send(new GetFunctionConfigurationCommand({ FunctionName: FUNCTION }))).RevisionId!;
    expect(second).not.toBe(first);
    await expect(client.send(new UpdateFunctionConfigurationCommand({ FunctionName: FUNCTION, RevisionId: first, Environment: { Variables: {} } }))).rejects.toMatchObject({ name: 'PreconditionFailedException' });
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ DRAIN_TOKEN: OTHER });
  });

  it('every update of a rotation carries the RevisionId it read, and it matches', async () => {
    const r = await rotate();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ours = lambda.updates.filter((u) => u.functionName === FUNCTION);
    expect(ours.length).toBe(2);
    for (const u of ours) {
      expect(u.sent).toMatch(/^[0-9a-f-]{36}$/);
      expect(u.status).toBe(200);
    }
    await expectSettled();
    await expectNoSecrets(r);
  });

  it("a function changed by someone else before rotate's update: 412, nothing overwritten, the rollback leaves it alone", async () => {
    // Rotate reads the function; before its update arrives, another operator changes it.
    lambda.hold(isGetConfiguration, { during: () => otherOperatorSets({ DRAIN_TOKEN: TOKEN, DRAIN_TOKEN_PREVIOUS: OTHER }) });
    const r = await rotate();
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/step 2\/8 .*FAILED/);
    expect(r.stderr).toMatch(/changed by someone else/);
    expect(lambda.updates.filter((u) => u.status === 412).length).toBe(1);
    // The other operator's change is what the function has; nothing else was written.
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, KEY_PREFIX: 'logs/', DRAIN_TOKEN: TOKEN, DRAIN_TOKEN_PREVIOUS: OTHER });
    expect((await getDrainParameters(aws)).token).toBe(TOKEN);
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`]);
    await expectNoSecrets(r);
  });

  it('a rollback after someone else changed the function stops and says so instead of writing the old tokens back', async () => {
    // Step 5 fails (a POST whose connection breaks, never made); while it is in flight, another operator changes the
    // function. Writing the old tokens back now would throw their change away.
    const via = await startHerokuProxy(heroku.url, (q) => {
      if (q.method !== 'POST' || !q.path.includes('/apps/raxx-console-prod/')) return {};
      void otherOperatorSets({ DRAIN_TOKEN: OTHER });
      return { delayMs: 800, drop: true };
    });
    try {
      const r = await rotate([], { ...env, HEROKU_API_URL: via.url });
      expect(r.code).toBe(4);
      expect(r.stdout).toMatch(/step 5\/8 .*FAILED/);
      expect(r.stdout).toMatch(/step 2 could not be rolled back: .*changed by someone else/);
      expect(r.stderr).not.toMatch(/hint: rolled back/);
      // The winner's change stands.
      expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, KEY_PREFIX: 'logs/', DRAIN_TOKEN: OTHER });
      await expectNoSecrets(r);
    } finally {
      await via.stop();
    }
  });

  it('the old token is dropped only while the function still has this run\'s token', async () => {
    // During the grace wait another operator gives the function a token of theirs; dropping
    // "the previous token" now would drop what their drains carry.
    const running = rotate(['--grace', '3']);
    const { waitFor } = await import('../../support/stand-in.js');
    await waitFor(() => APPS.every((a) => receiverDrains(a).length === 1 && !receiverDrains(a)[0]!.url.includes(`token=${TOKEN}&`)), 'old drains removed');
    const ours = (await functionEnvironment(aws, FUNCTION)).DRAIN_TOKEN!;
    await otherOperatorSets({ DRAIN_TOKEN: OTHER, DRAIN_TOKEN_PREVIOUS: ours });
    const r = await running;
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/step 8\/8 .*FAILED/);
    expect(r.stderr).toMatch(/changed by someone else/);
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, KEY_PREFIX: 'logs/', DRAIN_TOKEN: OTHER, DRAIN_TOKEN_PREVIOUS: ours });
    await expectNoSecrets(r);
  });

  for (const offsetMs of [0, 700, 2500]) {
    it(`two rotations ${offsetMs} ms apart with a slow function update: the second refuses (lease); one drain per app on an accepted token`, async () => {
      // The first run's function update takes 4 s: the second starts while it is on.
      lambda.hold(isUpdate, { beforeMs: 4000 });
      const started = rotate();
      // The gap between the two starts is what this case varies, not a wait for an event.
      await new Promise((res) => setTimeout(res, offsetMs));
      const later = await rotate();
      const earlier = await started;
      // Started together (0 ms), either run may take the lease first: one rotates, one refuses.
      const [one, second] = offsetMs === 0 && earlier.code !== 0 ? [later, earlier] : [earlier, later];
      expect(one.stderr).toBe('');
      expect(one.code).toBe(0);
      expect(second.code).toBe(4);
      expect(second.stderr).toMatch(/holds the drains lease \(running `.*drains rotate/);
      expect(second.stderr).toMatch(/hint: wait for it to finish \(rerun with --wait 600\)/);
      await expectSettled();
      await expectNoSecrets(second);
    });
  }

  it('two rotations, the second with --wait: it waits for the lease, then rotates again from the settled state', async () => {
    // The first run's function update is held (lease taken) until the second says it waits.
    const inUpdate = gate();
    const secondWaits = gate();
    lambda.hold(isUpdate, { before: async () => (inUpdate.open(), await secondWaits.opened) });
    const first = rotate();
    await inUpdate.opened;
    const second = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10', '--wait', '120'], { env, onStderr: (s) => /waiting for the drains lease/.test(s) && secondWaits.open() });
    const one = await first;
    expect(one.code).toBe(0);
    expect(second.stderr).toMatch(/waiting for the drains lease/);
    expect(second.code).toBe(0);
    const token = await expectSettled();
    expect(token).not.toBe(TOKEN);
    await expectNoSecrets(second);
  });

  /** A rotation half-way (steps 2 to 5 done): the function takes both tokens, SSM and a new drain per app carry the new one. */
  async function rotationHalfWay(next: string): Promise<void> {
    secrets.add(next);
    await otherOperatorSets({ DRAIN_TOKEN: next, DRAIN_TOKEN_PREVIOUS: TOKEN });
    await putDrainParameters(aws, { url: `${receiver.base}?token=${next}`, token: next });
    for (const a of APPS) heroku.addDrain(a, `${receiver.base}?token=${next}&app=${a}`);
  }
  const NEXT = 'drain-token-of-the-rotation-in-progress-8b0d2f';
  const isSsmRead = (q: AwsRequest) => q.target === 'AmazonSSM.GetParameters';

  it('wire --prune planned just before a rotation moved SSM: stops, prunes nothing', async () => {
    // wire reads SSM (the old URL); the rotation then writes SSM and adds the new drains, which
    // the old URL calls stale.
    lambda.hold(isSsmRead, { during: () => rotationHalfWay(NEXT) });
    const r = await runCli(['drains', 'wire', '--prune', '--yes'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/SSM drain_url changed since this run read it .*nothing was removed/);
    expect(heroku.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url).sort()).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`, `${receiver.base}?token=${NEXT}&app=${a}`].sort());
    await expectNoSecrets(r);
  });

  it('wire --prune and remove --stale during a rotation keep every drain whose token the function accepts', async () => {
    await rotationHalfWay(NEXT);
    // SSM has the new URL: the old drains are "stale", but the function still accepts their token.
    const wire = await runCli(['drains', 'wire', '--prune', '--yes'], { env });
    expect(wire.code).toBe(0);
    expect(wire.stderr).toMatch(/warning: raxx-api-prod: not removing \S+: the receiver function accepts its token/);
    const stale = await runCli(['drains', 'remove', '--stale', '--yes'], { env });
    expect(stale.code).toBe(0);
    expect(heroku.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    for (const a of APPS) {
      expect(receiverDrains(a)).toHaveLength(2);
      for (const d of receiverDrains(a)) expect((await sendBatch(d.url, [{ time: new Date(), procid: 'web.1', text: 'kept' }], { retries: 0 })).status).toBe(200);
    }
    // Once the rotation is over (the old token no longer accepted), the same clean-up removes them.
    await otherOperatorSets({ DRAIN_TOKEN: NEXT });
    const after = await runCli(['drains', 'remove', '--stale', '--yes'], { env });
    expect(after.code).toBe(0);
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${NEXT}&app=${a}`]);
    await expectNoSecrets(wire);
    await expectNoSecrets(stale);
  });

  /** Deletes the drains lease as someone cleaning up by hand would. */
  async function deleteLease(): Promise<void> {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await (await aws.s3()).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'raxx-ops/leases/drains.json' }));
  }

  it('a lease deleted under a running rotation stops it at once and rolls back (exit 4); a rerun then rotates', async () => {
    // The function update lands; before its answer, the lease is deleted and renewals (every
    // 1.5 s at this TTL) find it gone.
    // The answer is held until the run says it lost the lease: it must notice on its own.
    const lost = gate();
    lambda.hold(isUpdate, {
      during: async () => {
        await deleteLease();
        await lost.opened;
      },
    });
    const r = await runCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10'], {
      env: { ...env, RAXX_OPS_LEASE_TTL_MS: '6000' },
      onStderr: (s) => /lost the drains lease/.test(s) && lost.open(),
    }).finally(() => lost.open());
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/warning: lost the drains lease \(its object was deleted\); stopping/);
    expect(r.stderr).toMatch(/error: rotation stopped at step \d of 8 \(.*\): lost the drains lease \(its object was deleted\)/);
    expect(r.stdout).toMatch(/rolled back/);
    expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
    expect(await getDrainParameters(aws)).toEqual({ url: `${receiver.base}?token=${TOKEN}`, token: TOKEN });
    for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`]);
    await expectNoSecrets(r);
    const again = await rotate();
    expect(again.code, again.stderr).toBe(0);
    expect(await expectSettled()).not.toBe(TOKEN);
  }, 90_000);

  it('a rotation killed (SIGKILL) mid-run: the immediate rerun takes over the dead run\'s lease and finishes', async () => {
    const { spawn } = await import('node:child_process');
    const { sourceCli } = await import('../../support/pty.js');
    const [cmd, ...args] = sourceCli(['drains', 'rotate', '--yes', '--grace', '0', '--timeout', '10']);
    const child = spawn(cmd!, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: 'ignore' });
    const gone = new Promise((res) => child.once('exit', res));
    // Killed while its function update is on the wire: the update still lands.
    lambda.hold(isUpdate, {
      before: async () => {
        child.kill('SIGKILL');
        await gone;
      },
    });
    await gone;
    const r = await rotate();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: took over the drains lease of \\S+: its run \\(\`raxx-ops drains rotate\` since \\S+, pid ${child.pid} on this host\\) is gone`));
    expect(await expectSettled()).not.toBe(TOKEN);
    await expectNoSecrets(r);
  }, 90_000);

  it('wire started while a rotation runs refuses on the lease and changes nothing', async () => {
    // The rotation's function update (lease taken) is held until wire has answered.
    const inUpdate = gate();
    const wired = gate();
    lambda.hold(isUpdate, { before: async () => (inUpdate.open(), await wired.opened) });
    const rotation = rotate();
    await inUpdate.opened;
    const wire = await runCli(['drains', 'wire', '--prune', '--yes'], { env }).finally(() => wired.open());
    expect(wire.code).toBe(4);
    expect(wire.stderr).toMatch(/holds the drains lease \(running `.*drains rotate/);
    expect((await rotation).code).toBe(0);
    await expectSettled();
  });

  it('rotate re-reads the function before removing the old drains: changed by someone else, it removes none', async () => {
    // The third read of the function's configuration is step 7's; just before it, another
    // operator gives the function a token of theirs.
    let reads = 0;
    lambda.hold((q) => isGetConfiguration(q) && ++reads === 3, { before: () => otherOperatorSets({ DRAIN_TOKEN: OTHER, DRAIN_TOKEN_PREVIOUS: TOKEN }) });
    const r = await rotate();
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/step 7\/8 .*FAILED/);
    expect(r.stderr).toMatch(/changed by someone else .*no drain was removed/);
    // The old drains (whose token the function still accepts) are all there.
    for (const a of APPS) expect(receiverDrains(a).some((d) => d.url === `${receiver.base}?token=${TOKEN}&app=${a}`)).toBe(true);
    await expectNoSecrets(r);
  });

  describe('a POST whose answer is lost', () => {
    const velvetPost = (q: { method: string; path: string }) => q.method === 'POST' && q.path.includes('/apps/raxx-velvet-prod/');

    it('wire: the answer comes after the deadline; listing finds the drain that landed, and nothing is left untracked', async () => {
      // Start with no drain at all, so that every app gets a POST.
      for (const a of APPS) {
        for (const d of heroku.drains(a)) {
          const res = await fetch(`${heroku.url}/apps/${a}/log-drains/${d.id}`, { method: 'DELETE', headers: { accept: 'application/vnd.heroku+json; version=3', authorization: `Bearer ${HEROKU_TOKEN}` } });
          expect(res.status).toBe(200);
        }
      }
      const via = await startHerokuProxy(heroku.url, (q) => (velvetPost(q) ? { holdAnswerMs: 2500 } : {}));
      try {
        const r = await runCli(['drains', 'wire', '--json'], { env: { ...env, HEROKU_API_URL: via.url, HEROKU_TIMEOUT: '1' } });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.json<{ apps: { app: string; status: string }[] }>().apps.map((a) => a.status)).toEqual(['changed', 'changed', 'changed']);
        await via.held();
        for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`]);
        const again = await runCli(['drains', 'wire', '--json'], { env });
        expect(again.json<{ apps: { status: string }[] }>().apps.every((a) => a.status === 'unchanged')).toBe(true);
      } finally {
        await via.stop();
      }
    });

    it('rotate: a POST that timed out but landed is settled by listing; the rotation ends with one drain per app', async () => {
      const r = await withLatePost(heroku.url, velvetPost, (e) => rotate([], { ...env, ...e }));
      await expectSettled();
      await expectNoSecrets(r);
    });

    it('rotate: a POST dropped on the way (never made) is settled by listing, then rolled back; no drain is left behind', async () => {
      const via = await startHerokuProxy(heroku.url, (q) => (velvetPost(q) ? { drop: true } : {}));
      try {
        const r = await rotate([], { ...env, HEROKU_API_URL: via.url, HEROKU_TIMEOUT: '1' });
        expect(r.code).toBe(4);
        expect(r.stderr).toMatch(/raxx-velvet-prod: .*the change may or may not have been made[\s\S]*rotation stopped at step 5 /);
        expect(r.stderr).toMatch(/hint: rolled back/);
        expect(await functionEnvironment(aws, FUNCTION)).toEqual({ BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, KEY_PREFIX: 'logs/' });
        for (const a of APPS) expect(receiverDrains(a).map((d) => d.url)).toEqual([`${receiver.base}?token=${TOKEN}&app=${a}`]);
        await expectNoSecrets(r);
      } finally {
        await via.stop();
      }
    });
  });
});
