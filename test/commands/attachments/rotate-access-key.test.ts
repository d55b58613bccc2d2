// rotate-access-key end to end: IAM in moto (behind a proxy that can fail or interrupt chosen
// calls) and the Heroku API stand-in holding the apps' config vars.
import { beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useFaultProxy, useHeroku, useMoto } from '../../support/fixtures.js';
import { startFaultProxy } from '../../support/aws-fixtures.js';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { waitFor } from '../../support/stand-in.js';
import { accessKeys, DRAIN_BUCKET, KEY_ID_VAR as ID, KEY_SECRET_VAR as SECRET, seedRotation, USER } from './fixtures.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

const HEROKU_TOKEN = 'heroku-api-token-5e7a9b1d3f2b7d9f1a3c';
const HOLDERS = ['raxx-api-prod', 'raxx-console-prod'];
const BYSTANDER = 'raxx-velvet-prod';
const STAGING = 'raxx-api-staging';

interface StepsJson {
  newKeyId: string | null;
  steps: { step: number; name: string; status: string }[];
  rolledBack?: boolean;
}

describe.skipIf(!motoAvailable)('attachments rotate-access-key', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: [] });
  const proxy = useFaultProxy(() => moto.endpoint);
  let env: Record<string, string>;
  let original: { id: string; secret: string };
  /** Every secret that existed during a test: none may be printed. */
  let secrets: Set<string>;
  beforeEach(async () => {
    original = await seedRotation(aws, heroku, HOLDERS);
    secrets = new Set([original.secret, HEROKU_TOKEN]);
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.url, ...heroku.env };
  });

  async function rotate(argv: string[] = [], opts: { signal?: AbortSignal; prompt?: (q: string) => boolean | Promise<boolean> } = {}): Promise<CliResult> {
    const r = await runCli(['attachments', 'rotate-access-key', ...argv], { env, ...opts });
    for (const app of [...HOLDERS, BYSTANDER]) {
      const s = heroku.configVars(app)[SECRET];
      if (s) secrets.add(s);
    }
    expectNoSecretsIn(r, secrets);
    return r;
  }

  /** Every app that held the key still holds one IAM knows, with one secret per key id. */
  async function expectWorkingKey(): Promise<void> {
    const keys = await accessKeys(aws);
    const secretOf = new Map<string, string>([[original.id, original.secret]]);
    for (const app of HOLDERS) {
      const vars = heroku.configVars(app);
      expect(keys, `${app} holds a key IAM has`).toContain(vars[ID]);
      expect(vars[SECRET]).toBeTruthy();
      if (secretOf.has(vars[ID]!)) expect(vars[SECRET], `${app}: the secret of ${vars[ID]}`).toBe(secretOf.get(vars[ID]!));
      else secretOf.set(vars[ID]!, vars[SECRET]!);
      expect(vars.OTHER).toBe('kept');
    }
    expect(keys.length).toBeLessThanOrEqual(2);
  }

  /** Exactly one key, new, held by every app that held the old one; the bystander untouched. */
  async function expectRotated(): Promise<string> {
    const keys = await accessKeys(aws);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(original.id);
    const secret = heroku.configVars(HOLDERS[0]!)[SECRET];
    expect(secret).not.toBe(original.secret);
    for (const app of HOLDERS) expect(heroku.configVars(app)).toEqual({ [ID]: keys[0], [SECRET]: secret, OTHER: 'kept' });
    expect(heroku.configVars(BYSTANDER)).toEqual({ OTHER: 'kept' });
    return keys[0]!;
  }

  it('plans, then rotates: one key left, the apps holding it, the secret never printed', async () => {
    const dry = await rotate(['--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(dry.json<StepsJson>().steps.map((s) => s.status)).toEqual(['planned', 'planned', 'planned']);
    expect(await accessKeys(aws)).toEqual([original.id]);

    // No vault configured: the plan and the report say so in the same words.
    const byHand = 'the vault is not updated: Infisical is not configured for --env prod (attachments.infisical in the config); update AWS_ACCESS_KEY_ID_SUPPORT and AWS_SECRET_ACCESS_KEY_SUPPORT in Infisical at /MooseQuest/aws/support-attachments/ by hand, from `heroku config:get AWS_SECRET_ACCESS_KEY_SUPPORT -a raxx-api-prod`';
    expect(dry.json<{ vaultByHand: string }>().vaultByHand).toBe(byHand);
    const textPlan = await rotate(['--dry-run']);
    expect(textPlan.stdout).toContain(`  ${byHand}\n`);

    const unconfirmed = await rotate();
    expect(unconfirmed.code).toBe(5);
    expect(await accessKeys(aws)).toEqual([original.id]);

    const r = await rotate(['--yes', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = r.json<StepsJson>();
    expect(doc.steps.map((s) => s.status)).toEqual(['done', 'done', 'done']);
    expect(await expectRotated()).toBe(doc.newKeyId);
    expect(r.json<{ vaultByHand: string; rotated: boolean }>()).toMatchObject({ vaultByHand: byHand, rotated: true });
    const patches = heroku.calls.filter((c) => c.method === 'PATCH');
    expect(patches.map((c) => c.path)).toEqual(HOLDERS.map((a) => `/apps/${a}/config-vars`));
  });

  it('a user already at 2 keys: the leftover nobody holds is deleted first', async () => {
    const iam = await aws.iam();
    const { CreateAccessKeyCommand } = await import('@aws-sdk/client-iam');
    const leftover = (await iam.send(new CreateAccessKeyCommand({ UserName: USER }))).AccessKey!;
    secrets.add(leftover.SecretAccessKey!);
    const r = await rotate(['--yes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`delete the leftover key ${leftover.AccessKeyId}`);
    const now = await expectRotated();
    expect(now).not.toBe(leftover.AccessKeyId);
  });

  it('a staging app holding the same key (the runbook shares it) is rotated with prod, never cut off', async () => {
    heroku.setConfigVars(STAGING, { [ID]: original.id, [SECRET]: original.secret });
    const dry = await rotate(['--dry-run']);
    expect(dry.stdout).toContain(`  ${STAGING}: staging apps holding a key of raxx-support-backend-user, which both environments share: rotated with the others\n`);
    const r = await rotate(['--yes']);
    expect(r.code, r.stderr).toBe(0);
    const [key] = await accessKeys(aws);
    expect(heroku.configVars(STAGING)[ID]).toBe(key);
    expect(r.stdout).toContain(`  ${STAGING}: ${key} (IAM has it)\n`);
    // --app names exactly the holders: the staging app is not added then, and the old key it holds stays.
    const only = await rotate(['--yes', '--app', HOLDERS[0]!]);
    expect(only.code).toBe(4);
    expect(only.stderr).toMatch(/stopped at step 3 of 3 \(delete the old key\): kept AKIA\w+: raxx-console-prod holds it/);
    expect(only.stderr).toMatch(/hint: rotate every app that holds the key: run again without --app/);
    expect(await accessKeys(aws)).toContain(key);
    await expectWorkingKey();
  });

  it('--app names the apps; an app not holding the key yet gets it', async () => {
    const r = await rotate(['--yes', '--app', HOLDERS[0]!, '--app', HOLDERS[1]!, '--app', BYSTANDER]);
    expect(r.code).toBe(0);
    const [key] = await accessKeys(aws);
    expect(heroku.configVars(BYSTANDER)[ID]).toBe(key);
  });

  it('a second rotation while one runs is refused before it changes anything (the lease)', async () => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const started = new Date(Date.now() - 60_000).toISOString();
    const expires = new Date(Date.now() + 9 * 60_000).toISOString();
    const holder = { name: 'attachments-access-key', owner: 'ana@ops-laptop', command: 'raxx-ops attachments rotate-access-key', startedAt: started, expiresAt: expires, token: 't' };
    const key = 'raxx-ops/leases/attachments-access-key.json';
    await (await aws.s3()).send(new PutObjectCommand({ Bucket: DRAIN_BUCKET, Key: key, Body: JSON.stringify(holder) }));
    const r = await rotate(['--yes', '--json']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ana@ops-laptop holds the attachments-access-key lease \(running `raxx-ops attachments rotate-access-key`/);
    expect(r.stderr).toMatch(/^hint: wait for it to finish/m);
    expect(r.json<{ error: { exitCode: number } }>().error.exitCode).toBe(4);
    expect(await accessKeys(aws)).toEqual([original.id]);
    expect(heroku.calls.filter((c) => c.method === 'PATCH')).toEqual([]);
  });

  it('without the drain bucket (another account in an incident) it warns and rotates anyway', async () => {
    const { DeleteBucketCommand } = await import('@aws-sdk/client-s3');
    await (await aws.s3()).send(new DeleteBucketCommand({ Bucket: DRAIN_BUCKET }));
    const r = await rotate(['--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: could not take the attachments-access-key lease .*going on without it/);
    await expectRotated();
  });

  describe('stopped at each step, it leaves a working key and a rerun finishes', () => {
    async function rerunFinishes(): Promise<string> {
      proxy.clear();
      const r = await rotate(['--yes']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // The report: each holder, its key, that IAM has it, and the vault to update by hand.
      const key = await expectRotated();
      expect(r.stdout).toContain(`holders now:\n  raxx-api-prod: ${key} (IAM has it)\n  raxx-console-prod: ${key} (IAM has it)\n  the vault is not updated: `);
      return key;
    }

    it('step 1: CreateAccessKey fails', async () => {
      proxy.fail((q) => q.action === 'CreateAccessKey', { status: 503 });
      const r = await rotate(['--yes']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/stopped at step 1 of 3/);
      expect(r.stderr).toMatch(/hint:/);
      expect(await accessKeys(aws)).toEqual([original.id]);
      await expectWorkingKey();
      await rerunFinishes();
    });

    it('step 1: Ctrl-C right after the key was created (its secret would be lost): rolled back', async () => {
      const abort = new AbortController();
      // Ctrl-C as IAM's answer leaves: when the run has read it, the key is deleted; when the
      // press beats the reading, the key is an unknown outcome instead (the next test): kept,
      // and the rerun removes it.
      proxy.after((q) => q.action === 'CreateAccessKey', () => abort.abort());
      const r = await rotate(['--yes', '--json'], { signal: abort.signal });
      expect(r.code).toBe(130);
      const doc = r.json<StepsJson & { unknownOutcome?: boolean }>();
      if (doc.rolledBack) {
        expect(doc.steps[0]!.status).toBe('rolled back');
        expect(await accessKeys(aws)).toEqual([original.id]);
      } else expect(doc.unknownOutcome).toBe(true);
      await expectWorkingKey();
      await rerunFinishes();
    });

    it('step 1: Ctrl-C while IAM creates the key stops at once; the key that lands later is kept as an unknown outcome and the rerun removes it', async () => {
      // IAM takes 5 s to answer (and creates the key anyway): Ctrl-C must not wait for it.
      proxy.delay((q) => q.action === 'CreateAccessKey', 5000, { times: 1 });
      const abort = new AbortController();
      const run = rotate(['--yes', '--json'], { signal: abort.signal });
      await waitFor(() => proxy.requests.some((q) => q.action === 'CreateAccessKey'), 'CreateAccessKey sent');
      const pressed = Date.now();
      abort.abort();
      const r = await run;
      expect(Date.now() - pressed, 'stopped without waiting for IAM').toBeLessThan(3000);
      expect(r.code).toBe(130);
      const doc = r.json<StepsJson & { unknownOutcome?: boolean; rollback: string[] }>();
      // Never "rolled back: nothing is changed": a key may exist that this run never saw.
      expect(doc.rolledBack).toBe(false);
      expect(doc.unknownOutcome).toBe(true);
      expect(doc.rollback.join('\n')).toMatch(/CreateAccessKey got no answer: a key may have been created/);
      await proxy.delayedLanded();
      expect(await accessKeys(aws)).toHaveLength(2);
      await expectWorkingKey();
      await rerunFinishes();
      expect(await accessKeys(aws)).toHaveLength(1);
    });

    it('step 2: a config-var write fails half-way and so does the rollback: the rerun resumes with the new key', async () => {
      // Heroku through a proxy: the second app's PATCH fails; once the first app's PATCH has
      // landed, its next one (the rollback's) fails too, so the first app keeps the new key.
      const hproxy = await startFaultProxy(heroku.url);
      try {
        hproxy.fail((q) => q.method === 'PATCH' && q.path.includes(HOLDERS[1]!), { status: 503, times: 1 });
        hproxy.after((q) => q.method === 'PATCH' && q.path.includes(HOLDERS[0]!), () => hproxy.fail((q) => q.method === 'PATCH' && q.path.includes(HOLDERS[0]!), { status: 503, times: 1 }));
        env.HEROKU_API_URL = hproxy.url;
        const r = await rotate(['--yes']);
        expect(r.code).toBe(4);
        expect(r.stderr).toMatch(/stopped at step 2 of 3/);
        expect(r.stderr).toMatch(/run raxx-ops attachments rotate-access-key again to finish/);
      } finally {
        env.HEROKU_API_URL = heroku.url;
        await hproxy.stop();
      }
      const keys = await accessKeys(aws);
      expect(keys).toHaveLength(2);
      const fresh = keys.find((k) => k !== original.id)!;
      expect(heroku.configVars(HOLDERS[0]!)[ID]).toBe(fresh);
      expect(heroku.configVars(HOLDERS[1]!)[ID]).toBe(original.id);
      await expectWorkingKey();
      // The rerun takes the new key (and its secret) from the app holding it: no third key.
      expect(await rerunFinishes()).toBe(fresh);
      expect(proxy.requests.filter((q) => q.action === 'CreateAccessKey')).toHaveLength(1);
    });

    it('step 2: the apps cannot be verified: rolled back to the old key', async () => {
      // After the plan was read (the prompt comes after it), every config-var read fails.
      const r = await rotate([], {
        prompt: () => {
          heroku.failNext(4, 503, { method: 'GET', pathIncludes: 'config-vars' });
          return true;
        },
      });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/stopped at step 2 of 3/);
      expect(await accessKeys(aws)).toEqual([original.id]);
      for (const app of HOLDERS) expect(heroku.configVars(app)[ID]).toBe(original.id);
      await expectWorkingKey();
      await rerunFinishes();
    });

    it('step 3: deleting the old key fails: the apps keep the new key and the rerun only deletes', async () => {
      proxy.fail((q) => q.action === 'DeleteAccessKey', { status: 503 });
      const r = await rotate(['--yes']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/stopped at step 3 of 3/);
      expect(r.stderr).toMatch(/run raxx-ops attachments rotate-access-key again to finish/);
      const keys = await accessKeys(aws);
      expect(keys).toHaveLength(2);
      const fresh = keys.find((k) => k !== original.id)!;
      for (const app of HOLDERS) expect(heroku.configVars(app)[ID]).toBe(fresh);
      await expectWorkingKey();

      proxy.clear();
      const rerun = await rotate(['--yes', '--json']);
      expect(rerun.code).toBe(0);
      expect(rerun.json<StepsJson>().steps.map((s) => s.status)).toEqual(['already done', 'already done', 'done']);
      expect(await expectRotated()).toBe(fresh);
      expect(proxy.requests.filter((q) => q.action === 'CreateAccessKey')).toHaveLength(1);
    });
  });
});
