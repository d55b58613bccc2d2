// rotate-access-key against an unlucky world: the holders (two apps in the Heroku stand-in and
// the Infisical stand-in) behind fault proxies that answer a write after the client's deadline
// and still deliver it, and a run SIGKILLed at each step. Whatever happens, afterwards every
// holder has a key IAM has, at most one key of the user is held by nobody, and no report says
// "rotated" unless a key that rotation created is in every holder.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useHeroku, useMoto } from '../../support/fixtures.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../../support/aws-fixtures.js';
import { startInfisicalApi, type InfisicalApiServer } from '../../support/infisical-api.js';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { sourceCli, root } from '../../support/pty.js';
import { tempDir } from '../../support/temp.js';
import { accessKeys, DRAIN_BUCKET, KEY_ID_VAR as ID, KEY_SECRET_VAR as SECRET, seedRotation } from './fixtures.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

const HEROKU_TOKEN = 'heroku-api-token-5e7a9b1d3f2b7d9f1a3c';
const APPS = ['raxx-api-prod', 'raxx-console-prod'];
const PATH = '/MooseQuest/aws/support-attachments/';
const VAULT = 'Infisical prod:/MooseQuest/aws/support-attachments';

/** The holders' writes, as the proxies see them. */
const appWrite = (app: string) => (q: ProxiedRequest) => q.method === 'PATCH' && q.path === `/apps/${app}/config-vars`;
const vaultWrite = (q: ProxiedRequest) => q.method === 'PATCH' && q.path === '/api/v4/secrets/batch';

describe.skipIf(!motoAvailable)('attachments rotate-access-key under faults', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: [] });
  let vault: InfisicalApiServer;
  let iam: FaultProxy;
  let hproxy: FaultProxy;
  let vproxy: FaultProxy;
  let env: Record<string, string>;
  let original: { id: string; secret: string };
  let secrets: Set<string>;
  beforeEach(async () => {
    original = await seedRotation(aws, heroku, APPS);
    vault = await startInfisicalApi();
    vault.setSecret('prod', PATH, ID, original.id);
    vault.setSecret('prod', PATH, SECRET, original.secret);
    secrets = new Set([original.secret, HEROKU_TOKEN, vault.clientSecret]);
    iam = await startFaultProxy(moto.endpoint);
    hproxy = await startFaultProxy(heroku.url);
    vproxy = await startFaultProxy(vault.url);
    const config = join(tempDir('raxx-rotate-'), 'config.json');
    writeFileSync(config, JSON.stringify({ attachments: { infisical: { apiUrl: vproxy.url, projectId: vault.projectId, environments: { prod: 'prod' } } } }));
    env = {
      ...moto.env,
      AWS_ENDPOINT_URL: iam.url,
      HEROKU_API_KEY: HEROKU_TOKEN,
      HEROKU_API_URL: hproxy.url,
      HEROKU_TIMEOUT: '1',
      INFISICAL_TIMEOUT: '1',
      INFISICAL_CLIENT_ID: vault.clientId,
      INFISICAL_CLIENT_SECRET: vault.clientSecret,
      RAXX_OPS_CONFIG: config,
    };
  });
  afterEach(async () => {
    for (const p of [iam, hproxy, vproxy]) await p?.stop();
    await vault?.stop();
  });

  function noSecretIn(r: { stdout: string; stderr: string }): void {
    for (const app of APPS) secrets.add(heroku.configVars(app)[SECRET] ?? '');
    secrets.add(vault.secret('prod', PATH, SECRET) ?? '');
    secrets.delete('');
    expectNoSecretsIn(r, secrets);
  }

  async function rotate(argv: string[] = ['--yes'], opts: { signal?: AbortSignal } = {}): Promise<CliResult> {
    const r = await runCli(['attachments', 'rotate-access-key', ...argv], { env, ...opts });
    noSecretIn(r);
    return r;
  }

  function holdings(): { holder: string; id: string | undefined; secret: string | undefined }[] {
    return [
      ...APPS.map((app) => ({ holder: app, id: heroku.configVars(app)[ID], secret: heroku.configVars(app)[SECRET] })),
      { holder: VAULT, id: vault.secret('prod', PATH, ID), secret: vault.secret('prod', PATH, SECRET) },
    ];
  }

  /**
   * The invariants, once every delayed write has landed: each holder has a key IAM has (one
   * secret per key id), at most one key is held by nobody, and a report that says "rotated"
   * means every holder has the one key left, which is not the original.
   */
  async function expectSafe(report?: CliResult): Promise<void> {
    for (const p of [hproxy, vproxy]) await p.delayedLanded();
    const keys = await accessKeys(aws);
    const secretOf = new Map<string, string>([[original.id, original.secret]]);
    for (const h of holdings()) {
      expect(keys, `${h.holder} holds a key IAM has`).toContain(h.id);
      if (!secretOf.has(h.id!)) secretOf.set(h.id!, h.secret!);
      expect(h.secret, `${h.holder}: the secret of ${h.id}`).toBe(secretOf.get(h.id!));
    }
    for (const app of APPS) expect(heroku.configVars(app).OTHER).toBe('kept');
    const held = new Set(holdings().map((h) => h.id));
    expect(keys.filter((k) => !held.has(k)).length, 'keys nobody holds').toBeLessThanOrEqual(1);
    if (report && /^rotated: /m.test(report.stdout)) expectRotated();
    return;

    function expectRotated(): void {
      expect(keys).toHaveLength(1);
      expect(keys[0]).not.toBe(original.id);
      for (const h of holdings()) expect(h.id, `${h.holder} after "rotated"`).toBe(keys[0]);
    }
  }

  async function rerunRotates(): Promise<void> {
    for (const p of [iam, hproxy, vproxy]) p.clear();
    const r = await rotate();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rotated: raxx-api-prod, raxx-console-prod, Infisical prod:\/MooseQuest\/aws\/support-attachments hold /m);
    await expectSafe(r);
    expect(await accessKeys(aws)).not.toContain(original.id);
  }

  it('rotates every holder, the vault included, and reports the key each holds and that IAM has it', async () => {
    const r = await rotate();
    expect(r.code, r.stderr).toBe(0);
    const [key] = await accessKeys(aws);
    for (const h of holdings()) expect(h.id).toBe(key);
    expect(r.stdout).toContain(`holders now:\n  raxx-api-prod: ${key} (IAM has it)\n  raxx-console-prod: ${key} (IAM has it)\n  ${VAULT}: ${key} (IAM has it)\n`);
    expect(vproxy.requests.filter(vaultWrite)).toHaveLength(1);
    await expectSafe(r);
  });

  it.each([
    ['no Infisical credentials', { INFISICAL_CLIENT_ID: undefined, INFISICAL_CLIENT_SECRET: undefined }, /no Infisical credentials: INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET \(or INFISICAL_TOKEN\) not set/],
    ['half of them', { INFISICAL_CLIENT_SECRET: undefined }, /INFISICAL_CLIENT_SECRET not set/],
    ['a wrong client secret', { INFISICAL_CLIENT_SECRET: 'wrong-secret-0123456789' }, /Infisical rejected the machine identity/],
    ['a token Infisical does not know', { INFISICAL_TOKEN: 'st.not-a-token-0123456789' }, /Infisical rejected the access token \(INFISICAL_TOKEN\)/],
    ['a bad INFISICAL_TIMEOUT', { INFISICAL_TIMEOUT: 'soon' }, /INFISICAL_TIMEOUT must be a number of seconds/],
  ])('%s: exit 3 with a hint before anything changes', async (_what, extra, message) => {
    secrets.add('wrong-secret-0123456789').add('st.not-a-token-0123456789');
    const r = await runCli(['attachments', 'rotate-access-key', '--yes'], { env: { ...env, ...extra } });
    noSecretIn(r);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(await accessKeys(aws)).toEqual([original.id]);
    expect(hproxy.requests.filter((q) => q.method === 'PATCH')).toEqual([]);
  });

  describe('a write answered after the deadline, landing later', () => {
    // The reproduction: the PATCH is held 2.5 s, the client gives up after 1 s; the write lands.
    it.each([
      ['the first app', appWrite(APPS[0]!), () => hproxy],
      ['the second app', appWrite(APPS[1]!), () => hproxy],
      ['the vault', vaultWrite, () => vproxy],
    ])('%s, once: the same write is sent again and the rotation finishes', async (_what, match, proxy) => {
      proxy().delay(match, 2500, { times: 1 });
      const r = await rotate();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^rotated: /m);
      await expectSafe(r);
    });

    it.each([
      ['the first app', appWrite(APPS[0]!), () => hproxy],
      ['the second app', appWrite(APPS[1]!), () => hproxy],
      ['the vault', vaultWrite, () => vproxy],
    ])('%s, every time: the run stops, keeps the new key, says where each holder stands; a rerun finishes', async (_what, match, proxy) => {
      proxy().delay(match, 5000);
      const r = await rotate(['--yes', '--json']);
      expect(r.code).toBe(4);
      const doc = r.json<{ rolledBack: boolean; unknownOutcome: boolean; rotated?: boolean; rollback: string[]; holdersAfter: { holder: string; keyId: string; inIam: boolean }[]; newKeyId: string }>();
      expect(doc.rolledBack).toBe(false);
      expect(doc.unknownOutcome).toBe(true);
      expect(doc.rotated).toBe(false);
      expect(doc.rollback.join('\n')).toMatch(new RegExp(`kept ${doc.newKeyId}: a write of it to .* got no answer and may still land`));
      expect(doc.holdersAfter.every((h) => h.inIam)).toBe(true);
      expect(await accessKeys(aws)).toContain(doc.newKeyId);
      expect(r.stderr).not.toMatch(/nothing is changed/);
      expect(r.stderr).toMatch(/run raxx-ops attachments rotate-access-key again to finish/);
      await expectSafe(r);
      await rerunRotates();
    });

    it('in text: never "rolled back: nothing is changed", and the holders are listed', async () => {
      hproxy.delay(appWrite(APPS[1]!), 5000);
      const r = await rotate();
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/may or may not have been made/);
      expect(r.stderr).not.toMatch(/nothing is changed/);
      expect(r.stdout).toMatch(/^holders now:$/m);
      expect(r.stdout).toMatch(/^ {2}writes without an answer, which may still land: raxx-console-prod \(AKIA/m);
      expect(r.stdout).not.toMatch(/^rotated/m);
      await expectSafe(r);
    });

    it('a rollback write that gets no answer: the key it would replace is kept', async () => {
      // Ctrl-C once the first app holds the new key; putting the old key back there gets no answer.
      const abort = new AbortController();
      hproxy.after(appWrite(APPS[0]!), () => {
        hproxy.delay(appWrite(APPS[0]!), 2500);
        abort.abort();
      });
      const r = await rotate(['--yes', '--json'], { signal: abort.signal });
      expect(r.code).toBe(130);
      const doc = r.json<{ rolledBack: boolean; rollback: string[] }>();
      expect(doc.rolledBack).toBe(false);
      expect((await accessKeys(aws)).length).toBe(2);
      await expectSafe(r);
      await rerunRotates();
    });
  });

  it('a holder with a key id IAM does not have: a rerun rotates, never copies the live key or says "already done"', async () => {
    heroku.setConfigVars(APPS[1]!, { [ID]: 'AKIAGONEGONEGONEGONE0', [SECRET]: 'gone-secret-value-1234567890' });
    secrets.add('gone-secret-value-1234567890');
    const r = await rotate();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/raxx-console-prod: AKIAGONEGONEGONEGONE0 \(NOT in IAM: this holder has no working key\)/);
    expect(r.stdout).not.toMatch(/already done/);
    expect(r.stdout).toMatch(/step 1\/3 {2}create a new access key for raxx-support-backend-user: done/);
    await expectSafe(r);
    expect(await accessKeys(aws)).not.toContain(original.id);
  });

  describe('SIGKILL at each step, then a rerun', () => {
    /** Runs the CLI as a process and kills it once the request matching `at` has been answered. */
    async function killedAt(proxy: () => FaultProxy, at: (q: ProxiedRequest) => boolean): Promise<void> {
      const child = spawn(sourceCli(['attachments', 'rotate-access-key', '--yes'])[0]!, sourceCli(['attachments', 'rotate-access-key', '--yes']).slice(1), {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: tempDir('raxx-home-'), NO_COLOR: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      proxy().after(at, () => child.kill('SIGKILL'));
      const code = await exited;
      expect(code, `killed, not finished: ${output}`).toBeNull();
      noSecretIn({ stdout: output, stderr: '' });
      // The killed run's lease is left behind; taking over a dead process's lease belongs to the
      // lease itself. Here it is removed by hand, as an operator with --force would.
      const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
      await (await aws.s3()).send(new DeleteObjectCommand({ Bucket: DRAIN_BUCKET, Key: 'raxx-ops/leases/attachments-access-key.json' }));
    }

    it.each([
      ['after CreateAccessKey', () => iam, (q: ProxiedRequest) => q.action === 'CreateAccessKey'],
      ['after the first app was written', () => hproxy, appWrite(APPS[0]!)],
      ['after both apps were written', () => hproxy, appWrite(APPS[1]!)],
      ['after the vault was written', () => vproxy, vaultWrite],
      ['after the old key was deleted', () => iam, (q: ProxiedRequest) => q.action === 'DeleteAccessKey'],
    ])('%s', async (_what, proxy, at) => {
      await killedAt(proxy, at);
      await expectSafe();
      await rerunRotates();
    });
  });
});
