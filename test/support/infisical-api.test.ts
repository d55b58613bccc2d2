// The Infisical stand-in itself, over raw HTTP: login, auth, the v4 secret calls and their errors.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startInfisicalApi, type InfisicalApiServer } from './infisical-api.js';

const PATH = '/MooseQuest/aws/support-attachments/';

describe('Infisical API stand-in', () => {
  let api: InfisicalApiServer;
  beforeEach(async () => {
    api = await startInfisicalApi({ allowed: ['prod'] });
  });
  afterEach(() => api.stop());

  async function call(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) {
    const token = opts.token === undefined ? api.token : opts.token;
    const res = await fetch(`${api.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(opts.body ? { 'content-type': 'application/json' } : {}) },
      ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }
  const q = (env = 'prod', path = PATH) => `projectId=${api.projectId}&environment=${env}&secretPath=${encodeURIComponent(path)}`;

  it('logs a machine identity in; its token reads and writes; wrong credentials and tokens are 401', async () => {
    expect((await call('POST', '/api/v1/auth/universal-auth/login', { token: null, body: { clientId: api.clientId, clientSecret: 'wrong' } })).status).toBe(401);
    const login = await call('POST', '/api/v1/auth/universal-auth/login', { token: null, body: { clientId: api.clientId, clientSecret: api.clientSecret } });
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ tokenType: 'Bearer', expiresIn: 7200 });
    const token = login.json.accessToken as string;
    const body = { projectId: api.projectId, environment: 'prod', secretPath: PATH, secretValue: 'v1' };
    expect((await call('PATCH', '/api/v4/secrets/K', { token, body })).status).toBe(404);
    expect((await call('POST', '/api/v4/secrets/K', { token, body })).status).toBe(200);
    expect((await call('POST', '/api/v4/secrets/K', { token, body })).status).toBe(400);
    expect((await call('PATCH', '/api/v4/secrets/K', { token, body: { ...body, secretValue: 'v2' } })).json).toMatchObject({ secret: { secretKey: 'K', secretValue: 'v2', version: 2 } });
    // The folder with or without its trailing "/" is the same folder.
    expect((await call('GET', `/api/v4/secrets/K?${q('prod', PATH.slice(0, -1))}`, { token })).json).toMatchObject({ secret: { secretValue: 'v2' } });
    expect(api.secret('prod', PATH, 'K')).toBe('v2');
    // A batch: all or nothing; upsert creates the missing ones.
    const batch = { projectId: api.projectId, environment: 'prod', secretPath: PATH, secrets: [{ secretKey: 'K', secretValue: 'v3' }, { secretKey: 'L', secretValue: 'w' }] };
    expect((await call('PATCH', '/api/v4/secrets/batch', { token, body: batch })).status).toBe(404);
    expect(api.secret('prod', PATH, 'K')).toBe('v2');
    expect((await call('PATCH', '/api/v4/secrets/batch', { token, body: { ...batch, mode: 'upsert' } })).status).toBe(200);
    expect([api.secret('prod', PATH, 'K'), api.secret('prod', PATH, 'L')]).toEqual(['v3', 'w']);
    expect((await call('GET', `/api/v4/secrets/K?${q()}`, { token: 'nope' })).status).toBe(401);
    expect((await call('GET', `/api/v4/secrets/K?${q()}`, { token: null })).status).toBe(401);
    api.revokeTokens();
    expect((await call('GET', `/api/v4/secrets/K?${q()}`, { token })).status).toBe(401);
  });

  it('404 for an unknown secret, folder, environment or project; 403 outside the identity’s environments', async () => {
    expect((await call('GET', `/api/v4/secrets/NONE?${q()}`)).status).toBe(404);
    expect((await call('GET', `/api/v4/secrets/K?${q('prod', '/elsewhere')}`)).json).toMatchObject({ statusCode: 404, error: 'Not Found' });
    expect((await call('GET', `/api/v4/secrets/K?${q('dev')}`)).status).toBe(404);
    expect((await call('GET', `/api/v4/secrets/K?projectId=other&environment=prod&secretPath=/`)).status).toBe(404);
    expect((await call('GET', `/api/v4/secrets/K?${q('staging')}`)).json).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect(api.calls.map((c) => c.status)).toEqual([404, 404, 404, 404, 403]);
  });
});
