// The Infisical client against the stand-in: login, read and upsert by name, typed errors, and
// a write without an answer reported as an unknown outcome.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ExitCode, isUnknownOutcome } from '../../src/lib/core/errors.js';
import { InfisicalApi, infisicalCredentials, type InfisicalOptions } from '../../src/lib/infisical/client.js';
import { startInfisicalApi, type InfisicalApiServer } from '../support/infisical-api.js';
import { startFaultProxy, type FaultProxy } from '../support/aws-fixtures.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/lib/core/config.js';
import { tempDir } from '../support/temp.js';

const PATH = '/MooseQuest/aws/support-attachments/';

describe('InfisicalApi', () => {
  let api: InfisicalApiServer;
  let proxy: FaultProxy;
  beforeEach(async () => {
    api = await startInfisicalApi({ allowed: ['prod'] });
    proxy = await startFaultProxy(api.url);
  });
  afterEach(async () => {
    await proxy.stop();
    await api.stop();
  });
  const client = (o: Partial<InfisicalOptions> = {}) =>
    new InfisicalApi({ apiUrl: proxy.url, projectId: api.projectId, environment: 'prod', secretPath: PATH, credentials: { clientId: api.clientId, clientSecret: api.clientSecret }, retryBaseMs: 1, ...o });

  it('logs in once, creates then updates a secret, reads it back', async () => {
    const c = client();
    expect(await c.getSecret('K')).toBeUndefined();
    await c.setSecret('K', 'one');
    await c.setSecret('K', 'two');
    expect(await c.getSecret('K')).toBe('two');
    expect(api.calls.filter((x) => x.path.endsWith('/login'))).toHaveLength(1);
    expect(c.where).toBe('Infisical prod:/MooseQuest/aws/support-attachments');
    // A ready token works without a login.
    expect(await client({ credentials: { token: api.token } }).getSecret('K')).toBe('two');
  });

  it.each([
    ['wrong client secret', { credentials: { clientId: 'x', clientSecret: 'y' } }, /rejected the machine identity/],
    ['a token Infisical does not know', { credentials: { token: 'nope' } }, /rejected the access token \(INFISICAL_TOKEN\)/],
    ['an environment the identity may not use', { environment: 'staging' }, /refused PATCH .* in staging:/],
    // Read, a folder that is not there holds no secret; a write into it is refused.
    ['a folder that does not exist', { secretPath: '/nowhere/' }, /not found in prod:\/nowhere/],
  ])('%s: a configuration error (exit 3) with a hint', async (_what, o, message) => {
    const err = await client(o as Partial<InfisicalOptions>).setSecret('K', 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(message);
    expect((err as ConfigError).exitCode).toBe(ExitCode.Config);
    expect((err as ConfigError).hint).toBeTruthy();
  });

  it('reads are retried on 5xx; a write that gets no answer is an unknown outcome, sent once', async () => {
    const c = client({ timeoutMs: 300 });
    proxy.fail((r) => r.method === 'GET', { status: 503, times: 2 });
    expect(await c.getSecret('K')).toBeUndefined();
    proxy.delay((r) => r.method === 'PATCH', 1000);
    const err = await c.setSecret('K', 'v').catch((e: unknown) => e);
    expect(isUnknownOutcome(err)).toBe(true);
    expect((err as Error).message).toMatch(/did not answer PATCH \/api\/v4\/secrets\/batch within 0.3 s; the change may or may not have been made/);
    expect(proxy.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('credentials come from INFISICAL_TOKEN or the client id and secret; a missing half is named', () => {
    expect(infisicalCredentials({ INFISICAL_TOKEN: 't' })).toEqual({ token: 't' });
    expect(infisicalCredentials({ INFISICAL_CLIENT_ID: 'i', INFISICAL_CLIENT_SECRET: 's' })).toEqual({ clientId: 'i', clientSecret: 's' });
    expect(() => infisicalCredentials({ INFISICAL_CLIENT_ID: 'i' })).toThrow(/INFISICAL_CLIENT_SECRET not set/);
    expect(() => infisicalCredentials({})).toThrow(/INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET \(or INFISICAL_TOKEN\) not set/);
  });
});

describe('attachments.infisical in the config', () => {
  const load = (infisical: unknown, env = 'prod') => {
    const path = join(tempDir('raxx-config-'), 'c.json');
    writeFileSync(path, JSON.stringify({ attachments: { infisical } }));
    return loadConfig({ env, configPath: path, processEnv: {} });
  };

  it('defaults the API and the runbook folder; an env without a slug has no vault', async () => {
    const c = await load({ projectId: 'p-1', environments: { prod: 'prod' } });
    expect(c.attachments.infisical).toEqual({ apiUrl: 'https://app.infisical.com', projectId: 'p-1', environments: { prod: 'prod' }, secretPath: '/MooseQuest/aws/support-attachments/' });
    expect((await load({ projectId: 'p-1', environments: { prod: 'prod' } }, 'staging')).attachments.infisical?.environments.staging).toBeUndefined();
  });

  it.each([
    [{ environments: { prod: 'prod' } }, /attachments\.infisical\.projectId/],
    [{ projectId: 'p', environments: { prod: 'Prod Env' } }, /attachments\.infisical\.environments\.prod: not an Infisical environment slug/],
    [{ projectId: 'p', environments: { dev: 'dev' } }, /attachments\.infisical\.environments/],
    [{ projectId: 'p', environments: {}, secretPath: 'MooseQuest' }, /attachments\.infisical\.secretPath: must be a folder path/],
    [{ projectId: 'p', environments: {}, apiUrl: 'app.infisical.com' }, /attachments\.infisical\.apiUrl/],
  ])('%j is refused naming the field (exit 3)', async (infisical, message) => {
    const err = await load(infisical).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(message);
  });
});
