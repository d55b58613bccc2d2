// drains list / wire / remove / test against moto (SSM, S3, Lambda configuration), the Heroku
// Platform API stand-in and the receiver served locally.
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { motoAvailable } from '../../support/moto.js';
import { useHeroku, useMoto } from '../../support/fixtures.js';
import { createBucket, createReceiverFunction, listKeys, putDrainParameters } from '../../support/aws-fixtures.js';
import { tempDir } from '../../support/temp.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../support/stand-in.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

const HEROKU_TOKEN = 'heroku-api-token-7f3c9a1e5b2d4c6e8f0a';
const DRAIN_TOKEN = 'drain-token-5e8b1c4f7a2d9e6b3c0f1a4d7e2b5c8f';
const OLD_TOKEN = 'drain-token-old-0a1b2c3d4e5f6a7b8c9d0e1f';
const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
const BUCKET = 'raxx-heroku-logs-prod';

function expectNoSecrets(r: CliResult, secrets: string[] = [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN]): void {
  expectNoSecretsIn(r, secrets);
}

describe.skipIf(!motoAvailable)('drains list / wire / remove', () => {
  const moto = useMoto({ reset: 'each' });
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: APPS });
  let receiverBase: string;
  let env: Record<string, string>;
  const desired = (app: string, token = DRAIN_TOKEN) => `${receiverBase}?token=${token}&app=${app}`;
  const writes = () => heroku.calls.filter((c) => c.method === 'POST' || c.method === 'DELETE');
  /** The receiver function, which pruning asks which tokens it accepts before removing a drain. */
  const receiverFunction = () => createReceiverFunction(aws, moto.env, { functionName: 'raxx-heroku-log-drain-receiver', variables: { BUCKET_NAME: BUCKET, DRAIN_TOKEN } });

  beforeAll(async () => {
    receiverBase = `http://127.0.0.1:${await freePort()}/`;
  });
  beforeEach(async () => {
    await putDrainParameters(aws, { url: `${receiverBase}?token=${DRAIN_TOKEN}`, token: DRAIN_TOKEN });
    // The drain bucket also holds the lease changing commands take.
    await createBucket(aws, 'raxx-heroku-logs-prod');
    env = { ...moto.env, ...heroku.env };
  });

  it('wire from nothing adds exactly the current drain to every app, in one GET and one POST per app', async () => {
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const app of APPS) expect(heroku.drains(app).map((d) => d.url)).toEqual([desired(app)]);
    expect(heroku.calls.filter((c) => c.method === 'GET')).toHaveLength(3);
    expect(heroku.calls.filter((c) => c.method === 'POST')).toHaveLength(3);
    expect(r.stdout).toMatch(/plan:[\s\S]*raxx-api-prod[\s\S]*add\s+http:\/\/127\.0\.0\.1:\d+\/\?token=\*\*\*\*&app=raxx-api-prod/);
    expect(r.stdout).toMatch(/result:[\s\S]*raxx-velvet-prod\s+ok, added/);
    expectNoSecrets(r);
  });

  it('wire twice: the second run makes no POST and no DELETE', async () => {
    expect((await runCli(['drains', 'wire'], { env })).code).toBe(0);
    const before = writes().length;
    const r = await runCli(['drains', 'wire', '--json'], { env });
    expect(r.code).toBe(0);
    expect(writes().length).toBe(before);
    const doc = r.json<{ apps: { app: string; status: string }[] }>();
    expect(doc.apps.map((a) => a.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expectNoSecrets(r);
  });

  it('wire --dry-run prints the plan and changes nothing', async () => {
    const r = await runCli(['drains', 'wire', '--dry-run', '--app', 'raxx-api-prod'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dry run/);
    expect(writes()).toEqual([]);
    expect(heroku.drains('raxx-api-prod')).toEqual([]);
    expectNoSecrets(r);
  });

  it('wire --prune adds the current drain, removes stale ones, never touches foreign or add-on drains', async () => {
    await receiverFunction();
    const app = 'raxx-api-prod';
    const stale = heroku.addDrain(app, desired(app, OLD_TOKEN));
    const otherApp = heroku.addDrain(app, desired('raxx-console-prod'));
    const foreign = heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const addon = heroku.addDrain(app, 'syslog+tls://logs7.example-addon.com:12345', { addon: 'papertrail-cubic-12345' });

    const plain = await runCli(['drains', 'wire', '--app', app], { env });
    expect(plain.code).toBe(0);
    expect(heroku.drains(app)).toHaveLength(5);
    expect(plain.stdout).toMatch(/keep .*\(stale: other token\)/);

    // Pruning deletes drains: without a terminal or --yes it asks and changes nothing.
    const unasked = await runCli(['drains', 'wire', '--app', app, '--prune'], { env });
    expect(unasked.code).toBe(5);
    expect(unasked.stderr).toMatch(/confirmation needed: remove 2 stale drains while wiring\?/);
    expect(heroku.drains(app)).toHaveLength(5);
    const questions: string[] = [];
    const r = await runCli(['drains', 'wire', '--app', app, '--prune'], { env, prompt: (q) => (questions.push(q), true) });
    expect(questions).toEqual(['remove 2 stale drains while wiring?']);
    expect(r.code).toBe(0);
    const left = heroku.drains(app);
    expect(left.map((d) => d.id).sort()).toEqual([foreign.id, addon.id, left.find((d) => d.url === desired(app))!.id].sort());
    expect(left.some((d) => d.id === stale.id || d.id === otherApp.id)).toBe(false);
    expect(heroku.calls.filter((c) => c.method === 'DELETE').map((c) => c.path).sort()).toEqual([`/apps/${app}/log-drains/${otherApp.id}`, `/apps/${app}/log-drains/${stale.id}`].sort());
    expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
  });

  it('list shows each drain with its class, id and time; tokens and query masked', async () => {
    const app = 'raxx-api-prod';
    const current = heroku.addDrain(app, desired(app));
    heroku.addDrain(app, desired(app, OLD_TOKEN));
    heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const r = await runCli(['drains', 'list', '--app', app, '--app', 'raxx-console-prod', '--json'], { env });
    expect(r.code).toBe(0);
    const doc = r.json<{ apps: { app: string; drains: { id: string; class: string; url: string; created_at: string; token: string | null }[] }[] }>();
    expect(doc.apps.map((a) => a.app)).toEqual([app, 'raxx-console-prod']);
    const byClass = Object.fromEntries(doc.apps[0]!.drains.map((d) => [d.class, d]));
    expect(Object.keys(byClass).sort()).toEqual(['current', 'foreign', 'stale']);
    expect(byClass.current!.id).toBe(current.id);
    expect(byClass.current!.created_at).toBe(current.created_at);
    expect(byClass.current!.url).toMatch(/\?token=\*\*\*\*&app=raxx-api-prod$/);
    expect(byClass.current!.token).toBe('d.****');
    expect(byClass.foreign!.url).toBe('https://logs.example-vendor.com/ingest?token=****');
    expect(doc.apps[1]!.drains).toEqual([]);
    expect(heroku.calls).toHaveLength(2);

    const human = await runCli(['drains', 'list', '--app', app], { env });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`current\\s+${current.id}\\s+${current.created_at}`));
    expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
    expectNoSecrets(human, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
  });

  it('remove --all (emergency stop) removes every receiver drain and leaves foreign and add-on drains', async () => {
    for (const app of APPS) heroku.addDrain(app, desired(app));
    heroku.addDrain('raxx-api-prod', desired('raxx-api-prod', OLD_TOKEN));
    const foreign = heroku.addDrain('raxx-console-prod', 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const addon = heroku.addDrain('raxx-velvet-prod', 'syslog+tls://logs7.example-addon.com:12345', { addon: 'papertrail-cubic-12345' });

    const refused = await runCli(['drains', 'remove', '--all'], { env });
    expect(refused.code).toBe(5);
    expect(writes()).toEqual([]);

    const r = await runCli(['drains', 'remove', '--all', '--yes'], { env });
    expect(r.code).toBe(0);
    expect(heroku.drains('raxx-api-prod')).toEqual([]);
    expect(heroku.drains('raxx-console-prod').map((d) => d.id)).toEqual([foreign.id]);
    expect(heroku.drains('raxx-velvet-prod').map((d) => d.id)).toEqual([addon.id]);
    expect(heroku.calls.filter((c) => c.method === 'DELETE')).toHaveLength(4);
    expect(r.stdout).toMatch(/removed:[\s\S]*raxx-api-prod/);
    expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
  });

  it('remove asks first and --include-foreign widens --all; --stale and --id pick what they say', async () => {
    await receiverFunction();
    const app = 'raxx-api-prod';
    const current = heroku.addDrain(app, desired(app));
    const stale = heroku.addDrain(app, desired(app, OLD_TOKEN));
    const foreign = heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const questions: string[] = [];
    const no = await runCli(['drains', 'remove', '--stale', '--app', app], { env, prompt: (q) => (questions.push(q), false) });
    expect(no.code).toBe(5);
    expect(questions[0]).toMatch(/remove the stale drains: 1 drain on 1 app/);
    expect(heroku.drains(app)).toHaveLength(3);

    const r = await runCli(['drains', 'remove', '--stale', '--app', app], { env, prompt: () => true });
    expect(r.code).toBe(0);
    expect(heroku.drains(app).map((d) => d.id)).toEqual([current.id, foreign.id]);
    expect(r.stdout).toContain(stale.id);

    const byId = await runCli(['drains', 'remove', '--id', foreign.id, '--app', app, '--yes'], { env });
    expect(byId.code).toBe(0);
    expect(heroku.drains(app).map((d) => d.id)).toEqual([current.id]);

    heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const wide = await runCli(['drains', 'remove', '--all', '--include-foreign', '--app', app, '--yes'], { env });
    expect(wide.code).toBe(0);
    expect(heroku.drains(app)).toEqual([]);
    for (const x of [no, r, byId, wide]) expectNoSecrets(x, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
  });

  it('remove --all --include-foreign is an emergency stop that works without SSM', async () => {
    const app = 'raxx-api-prod';
    heroku.addDrain(app, desired(app));
    heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const addon = heroku.addDrain(app, 'syslog+tls://logs7.example-addon.com:12345', { addon: 'papertrail-cubic-12345' });
    await moto.reset();
    const r = await runCli(['drains', 'remove', '--all', '--include-foreign', '--app', app, '--yes'], { env });
    expect(r.code).toBe(0);
    // With the drain bucket gone too, the lease cannot be taken: said once, and the stop goes on.
    expect(r.stderr).toMatch(/^warning: could not take the drains lease \(.*\); going on without it\n$/);
    expect(heroku.drains(app).map((d) => d.id)).toEqual([addon.id]);
    expect(r.stdout).toMatch(/skip .*remove the add-on to remove it/);
    expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, 'vendor-secret-1234']);
  });

  it('one app failing does not stop the others: exit 4 naming it', async () => {
    heroku.failNext(1, 503, { method: 'POST', pathIncludes: '/apps/raxx-console-prod/' });
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/wiring failed for 1 app of 3: raxx-console-prod/);
    expect(heroku.drains('raxx-api-prod')).toHaveLength(1);
    expect(heroku.drains('raxx-velvet-prod')).toHaveLength(1);
    expect(heroku.drains('raxx-console-prod')).toHaveLength(0);
    expectNoSecrets(r);
    const again = await runCli(['drains', 'wire'], { env });
    expect(again.code).toBe(0);
    expect(heroku.drains('raxx-console-prod')).toHaveLength(1);
  });

  it('wire refuses before the first change when the Heroku rate-limit pool cannot cover the plan', async () => {
    heroku.setRateLimitRemaining(4);
    const r = await runCli(['drains', 'wire'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/rate limit: 1 requests left .* the plan needs 3; nothing was changed/);
    expect(r.stderr).toMatch(/hint: .*75 requests a minute/);
    expect(writes()).toEqual([]);
    expectNoSecrets(r);
  });

  describe('bad input', () => {
    const cases: { name: string; argv: string[]; env?: (e: Record<string, string>) => Record<string, string | undefined>; before?: () => Promise<void>; code: number; stderr: RegExp }[] = [
      { name: 'unknown app (404 from Heroku)', argv: ['drains', 'list', '--app', 'raxx-nope-prod'], code: 2, stderr: /raxx-nope-prod.*not found/ },
      { name: 'invalid app name', argv: ['drains', 'wire', '--app', 'Raxx_API'], code: 2, stderr: /--app: not a valid Heroku app name/ },
      { name: 'missing SSM drain_url', argv: ['drains', 'wire'], before: async () => (await moto.reset(), await createBucket(aws, 'raxx-heroku-logs-prod')), code: 3, stderr: /\/raxx\/log-drain\/drain_url/ },
      { name: 'Heroku 401', argv: ['drains', 'list'], env: (e) => ({ ...e, HEROKU_API_KEY: 'not-the-right-token-123456' }), code: 3, stderr: /Heroku rejected the API token/ },
      { name: 'no Heroku token', argv: ['drains', 'list'], env: (e) => ({ ...e, HEROKU_API_KEY: undefined }), code: 3, stderr: /no Heroku API token[\s\S]*heroku login[\s\S]*HEROKU_API_KEY/ },
      { name: 'remove without a selector', argv: ['drains', 'remove'], code: 2, stderr: /choose exactly one of --stale, --all or --id/ },
      { name: 'remove --include-foreign without --all', argv: ['drains', 'remove', '--stale', '--include-foreign'], code: 2, stderr: /--include-foreign only goes with --all/ },
      { name: 'remove --id of a drain the app does not have', argv: ['drains', 'remove', '--id', '00000000-0000-4000-8000-000000000000', '--app', 'raxx-api-prod', '--yes'], code: 2, stderr: /no drain 00000000-0000-4000-8000-000000000000 on raxx-api-prod/ },
      { name: 'test with a bad timeout', argv: ['drains', 'test', '--timeout', 'soon'], code: 2, stderr: /--timeout/ },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.code}`, async () => {
        await c.before?.();
        const r = await runCli(c.argv, { env: c.env ? c.env(env) : env });
        expect(r.code).toBe(c.code);
        expect(r.stderr).toMatch(c.stderr);
        expect(r.stderr).toMatch(/hint:/);
        expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, 'not-the-right-token-123456']);
      });
    }
  });

  it('test without a drain reports failure mode A and exits 1', async () => {
    await createBucket(aws, BUCKET);
    const r = await runCli(['drains', 'test', '--app', 'raxx-api-prod', '--timeout', '3'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\[A\] no current drain/);
    expect(r.stderr).toMatch(/failure mode A/);
    expect(await listKeys(aws, BUCKET)).toEqual([]);
    expectNoSecrets(r);
  });

  it('test: the hint of a failure mode names every app it concerns', async () => {
    await createBucket(aws, BUCKET);
    const r = await runCli(['drains', 'test', '--app', 'raxx-api-prod', '--app', 'raxx-console-prod', '--timeout', '3', '--json'], { env });
    expect(r.code).toBe(1);
    const doc = r.json<{ apps: { app: string; ok: boolean; mode: string; fix: string }[] }>();
    expect(doc.apps.map((a) => [a.app, a.ok, a.mode])).toEqual([['raxx-api-prod', false, 'A'], ['raxx-console-prod', false, 'A']]);
    expect(doc.apps[1]!.fix).toContain('drains wire --app raxx-console-prod`');
    expect(r.stderr).toMatch(/hint: run `raxx-ops drains wire --app raxx-api-prod --app raxx-console-prod`/);
    expectNoSecrets(r);
  });
});

describe.skipIf(!motoAvailable)('drains remove --all with SSM down (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  const heroku = useHeroku({ token: HEROKU_TOKEN, apps: APPS });
  let functionUrl: string;
  const app = 'raxx-api-prod';

  beforeAll(async () => {
    await createBucket(aws, 'raxx-heroku-logs-prod');
    await createReceiverFunction(aws, moto.env, { functionName: 'raxx-heroku-log-drain-receiver', variables: { DRAIN_TOKEN: DRAIN_TOKEN } });
    const { CreateFunctionUrlConfigCommand } = await import('@aws-sdk/client-lambda');
    functionUrl = (await (await aws.lambda()).send(new CreateFunctionUrlConfigCommand({ FunctionName: 'raxx-heroku-log-drain-receiver', AuthType: 'NONE' }))).FunctionUrl!;
  });

  it("recognises receiver drains by the function's URL and keeps foreign ones", async () => {
    const receiver = heroku.addDrain(app, `${functionUrl}?token=${DRAIN_TOKEN}&app=${app}`);
    const oldToken = heroku.addDrain(app, `${functionUrl}?token=${OLD_TOKEN}&app=${app}`);
    const foreign = heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const closed = `http://127.0.0.1:${await freePort()}`;
    // SSM unreachable; S3, Lambda and Heroku answer.
    const env = { ...moto.env, AWS_ENDPOINT_URL_SSM: closed, ...heroku.env };
    const r = await runCli(['drains', 'remove', '--all', '--app', app, '--yes'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: SSM could not be read .*; recognising receiver drains by the function's URL /);
    expect(heroku.drains(app).map((d) => d.id)).toEqual([foreign.id]);
    expect(r.stdout).toContain(receiver.id);
    expect(r.stdout).toContain(oldToken.id);
    expectNoSecrets(r, [HEROKU_TOKEN, DRAIN_TOKEN, OLD_TOKEN, 'vendor-secret-1234']);
  });

  it('without a function URL, drain.receiverUrl from the config does it; with neither, a clear error', async () => {
    heroku.addDrain(app, `https://receiver.example.com/drain?token=${DRAIN_TOKEN}&app=${app}`);
    const foreign = heroku.addDrain(app, 'https://logs.example-vendor.com/ingest?token=vendor-secret-1234');
    const closed = `http://127.0.0.1:${await freePort()}`;
    const env = { ...moto.env, AWS_ENDPOINT_URL_SSM: closed, AWS_ENDPOINT_URL_LAMBDA: closed, ...heroku.env };
    const none = await runCli(['drains', 'remove', '--all', '--app', app, '--yes'], { env });
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/cannot tell receiver drains from others[\s\S]*hint: set drain\.receiverUrl/);
    expect(heroku.drains(app)).toHaveLength(2);
    const dir = tempDir('raxx-ops-cfg-');
    const cfg = join(dir, 'raxx-ops.json');
    await writeFile(cfg, JSON.stringify({ drain: { receiverUrl: 'https://receiver.example.com/drain' } }));
    const r = await runCli(['--config', cfg, 'drains', 'remove', '--all', '--app', app, '--yes'], { env });
    expect(r.code).toBe(0);
    expect(heroku.drains(app).map((d) => d.id)).toEqual([foreign.id]);
  });
});
