// HTTP_PROXY / HTTPS_PROXY / NO_PROXY for every call that leaves the laptop: the lean S3 GET,
// the AWS SDK's clients, the Heroku API and Slack, each through a loopback forward proxy that
// counts what passes through it; NO_PROXY sends them direct.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../support/moto.js';
import { useHeroku, useMoto } from '../support/fixtures.js';
import { startHttpProxy, type HttpProxy } from '../support/http-proxy.js';
import { startSlack, type SlackStandIn } from '../support/slack-webhook.js';
import { runCli } from '../support/run-cli.js';
import { createAwsClients } from '../../src/lib/aws/clients.js';
import { noProxy, proxyFor } from '../../src/lib/core/proxy.js';
import { postSlack } from '../../src/lib/slack/notify.js';
import { InfisicalApi } from '../../src/lib/infisical/client.js';
import { proxiedFetch } from '../../src/lib/core/proxy.js';
import { startInfisicalApi } from '../support/infisical-api.js';
import { batch, createDrainBucket, put } from '../commands/logs/fixtures.js';
import { putDrainParameters } from '../support/aws-fixtures.js';

const API = 'raxx-api-prod';
const DAY = '2025-06-02';
const T = Date.parse(`${DAY}T10:00:00Z`);
const now = () => new Date('2025-06-03T12:00:00Z');

describe('which proxy a URL takes', () => {
  it.each([
    ['https://s3.us-east-1.amazonaws.com/x', { HTTPS_PROXY: 'http://p:3128' }, 'http://p:3128/'],
    ['https://s3.us-east-1.amazonaws.com/x', { https_proxy: 'p:3128' }, 'http://p:3128/'],
    ['https://api.heroku.com', { HTTP_PROXY: 'http://p:8080' }, 'http://p:8080/'],
    ['http://127.0.0.1:5000', { HTTPS_PROXY: 'http://p:3128' }, undefined],
    ['https://s3.us-east-1.amazonaws.com', { HTTPS_PROXY: 'http://p', NO_PROXY: '.amazonaws.com' }, undefined],
    ['https://s3.us-east-1.amazonaws.com', { HTTPS_PROXY: 'http://p', NO_PROXY: 'amazonaws.com' }, undefined],
    ['https://s3.us-east-1.amazonaws.com', { HTTPS_PROXY: 'http://p', NO_PROXY: '*.amazonaws.com' }, undefined],
    ['https://notamazonaws.com', { HTTPS_PROXY: 'http://p', NO_PROXY: 'amazonaws.com' }, 'http://p/'],
    ['http://[::1]:5000', { HTTP_PROXY: 'http://p', NO_PROXY: '::1' }, undefined],
    ['http://127.0.0.1:5000', { HTTP_PROXY: 'http://p', NO_PROXY: 'localhost, 127.0.0.1:5000' }, undefined],
    ['http://127.0.0.1:5001', { HTTP_PROXY: 'http://p', NO_PROXY: '127.0.0.1:5000' }, 'http://p/'],
    ['https://hooks.slack.com/x', { HTTPS_PROXY: 'http://p', NO_PROXY: '*' }, undefined],
    ['https://hooks.slack.com/x', {}, undefined],
  ])('%s with %j: %s', (url, env, expected) => {
    expect(proxyFor(url, env)?.href).toBe(expected);
  });

  it('NO_PROXY ignores empty entries', () => {
    expect(noProxy(new URL('http://a.example'), { NO_PROXY: ' , ,' })).toBe(false);
  });
});

describe.skipIf(!motoAvailable)('every outside call through the proxy (moto, Heroku and Slack stand-ins)', () => {
  const moto = useMoto();
  const { aws } = moto;
  const heroku = useHeroku({ apps: [API] }, 'file');
  let proxy: HttpProxy;
  let slack: SlackStandIn;

  beforeAll(async () => {
    await createDrainBucket(aws);
    await put(aws, Array.from({ length: 12 }, (_, i) => batch(API, T + i * 60_000, [`line ${i}`])));
    await putDrainParameters(aws, { url: 'https://abc.lambda-url.us-east-1.on.aws/?token=t0k3n', token: 't0k3n' });
    proxy = await startHttpProxy();
    slack = await startSlack();
  });

  afterAll(async () => {
    await proxy?.close();
    await slack?.close();
  });

  const moto_ = () => new URL(moto.endpoint).host;

  it('the lean S3 GET and listing: every request through HTTP_PROXY; NO_PROXY sends them direct', async () => {
    proxy.seen.length = 0;
    const r = await runCli(['logs', 'fetch', '--app', API, '--date', DAY], { env: { ...moto.env, HTTP_PROXY: proxy.url }, now });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(12);
    const gets = proxy.seen.filter((s) => s.startsWith(`GET http://${moto_()}/raxx-heroku-logs-prod/logs/`));
    expect(gets).toHaveLength(12);
    expect(proxy.seen.some((s) => s.includes('list-type=2'))).toBe(true);

    proxy.seen.length = 0;
    const direct = await runCli(['logs', 'fetch', '--app', API, '--date', DAY], { env: { ...moto.env, HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, now });
    expect(direct.code, direct.stderr).toBe(0);
    expect(proxy.seen).toEqual([]);
  });

  it('a proxy that wants a password gets it, and the password is never printed', async () => {
    const locked = await startHttpProxy({ auth: 'ops:s3cr3t@pw' });
    try {
      const url = locked.url.replace('http://', 'http://ops:s3cr3t%40pw@');
      const r = await runCli(['logs', 'fetch', '--app', API, '--date', DAY, '--debug'], { env: { ...moto.env, HTTP_PROXY: url }, now });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(12);
      expect(locked.seen.filter((s) => s.includes('/raxx-heroku-logs-prod/logs/'))).toHaveLength(12);
      expect(r.stdout + r.stderr).not.toContain('s3cr3t');
    } finally {
      await locked.close();
    }
  });

  it('the AWS SDK clients (S3, SSM) go through the proxy', async () => {
    proxy.seen.length = 0;
    const clients = createAwsClients({ region: 'us-east-1', env: { ...moto.env, HTTP_PROXY: proxy.url } });
    try {
      const { ListBucketsCommand } = await import('@aws-sdk/client-s3');
      const { DescribeParametersCommand } = await import('@aws-sdk/client-ssm');
      const buckets = await (await clients.s3()).send(new ListBucketsCommand({}));
      expect(buckets.Buckets?.map((b) => b.Name)).toContain('raxx-heroku-logs-prod');
      await (await clients.ssm()).send(new DescribeParametersCommand({}));
      expect(proxy.seen.filter((s) => s.startsWith(`GET http://${moto_()}/`)).length).toBeGreaterThanOrEqual(1);
      expect(proxy.seen.filter((s) => s.startsWith(`POST http://${moto_()}/`)).length).toBeGreaterThanOrEqual(1);
    } finally {
      clients.destroy();
    }
  });

  it('the Heroku API goes through the proxy (S3 and SSM beside it direct, by NO_PROXY), and direct when NO_PROXY names it', async () => {
    const env = { ...moto.env, HEROKU_API_KEY: heroku.token, HEROKU_API_URL: heroku.url, HTTP_PROXY: proxy.url, NO_PROXY: moto_() };
    proxy.seen.length = 0;
    const r = await runCli(['drains', 'list', '--app', API, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.seen.filter((s) => s.startsWith(`GET ${heroku.url}/apps/${API}/log-drains`))).toHaveLength(1);
    proxy.seen.length = 0;
    const direct = await runCli(['drains', 'list', '--app', API, '--json'], { env: { ...env, NO_PROXY: `${moto_()},${new URL(heroku.url).host}` } });
    expect(direct.code, direct.stderr).toBe(0);
    expect(proxy.seen).toEqual([]);
  });

  it('Slack notifications go through the proxy', async () => {
    proxy.seen.length = 0;
    await postSlack(slack.url, 'through the proxy', undefined, { HTTP_PROXY: proxy.url });
    expect(slack.messages.at(-1)?.text).toBe('through the proxy');
    // undici tunnels (CONNECT) even to a plain-HTTP host.
    expect(proxy.seen).toEqual([`CONNECT ${new URL(slack.url).host}`]);
    proxy.seen.length = 0;
    await postSlack(slack.url, 'direct', undefined, { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
    expect(slack.messages.at(-1)?.text).toBe('direct');
    expect(proxy.seen).toEqual([]);
  });

  it('the Infisical vault goes through the proxy, and direct when NO_PROXY names it', async () => {
    const vault = await startInfisicalApi();
    try {
      const client = (env: Record<string, string>) =>
        new InfisicalApi({ apiUrl: vault.url, projectId: vault.projectId, environment: 'prod', secretPath: '/MooseQuest/aws/support-attachments/', credentials: { token: vault.token }, fetch: () => proxiedFetch(env) });
      proxy.seen.length = 0;
      await client({ HTTP_PROXY: proxy.url }).setSecret('K', 'v');
      expect(proxy.seen.length).toBeGreaterThan(0);
      expect(proxy.seen.every((x) => x === `CONNECT ${new URL(vault.url).host}`)).toBe(true);
      proxy.seen.length = 0;
      expect(await client({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }).getSecret('K')).toBe('v');
      expect(proxy.seen).toEqual([]);
    } finally {
      await vault.stop();
    }
  });
});
