import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Heroku from 'heroku-client';
import { parseRange, startHerokuApi, type HerokuApiServer, type HerokuDrain } from './heroku-api.js';

interface ClientError {
  statusCode: number;
  body: { id: string; message: string };
}

async function failure(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the request to fail');
}

/** A raw request, for what heroku-client never sends (a wrong Accept, no auth) and for headers. */
async function raw(api: HerokuApiServer, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${api.url}${path}`, {
    method: init.method ?? 'GET',
    headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${api.token}`, ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const DRAIN = 'https://abc123.lambda-url.us-east-1.on.aws/?token=s3cret&app=raxx-api-prod';

describe('Heroku Platform API stand-in', () => {
  let api: HerokuApiServer;
  let heroku: Heroku;

  beforeEach(async () => {
    api = await startHerokuApi({ apps: ['raxx-api-prod', 'raxx-console-prod'] });
    heroku = new Heroku({ token: api.token, host: api.url });
  });

  afterEach(async () => {
    await api.stop();
  });

  it('answers GET /apps/{app} by name and by id; an unknown app is 404 not_found', async () => {
    const app = await heroku.get<{ id: string; name: string }>('/apps/raxx-api-prod');
    expect(app.name).toBe('raxx-api-prod');
    expect(app.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await heroku.get<{ name: string }>(`/apps/${app.id}`)).name).toBe('raxx-api-prod');

    const err = await failure(heroku.get('/apps/raxx-nope-prod'));
    expect(err.statusCode).toBe(404);
    expect(err.body).toMatchObject({ id: 'not_found', message: "Couldn't find that app." });
    // A name Heroku could never have given an app is not found either.
    expect((await failure(heroku.get('/apps/Bad_Name'))).statusCode).toBe(404);
    expect(() => api.addApp('x')).toThrow(/invalid Heroku app name/);
  });

  it('lists, creates, refuses a duplicate, finds by id, token or URL, and deletes log drains', async () => {
    expect(await heroku.get('/apps/raxx-api-prod/log-drains')).toEqual([]);

    const drain = await heroku.post<HerokuDrain>('/apps/raxx-api-prod/log-drains', { body: { url: DRAIN } });
    expect(drain).toMatchObject({ url: DRAIN, addon: null, app: { name: 'raxx-api-prod' } });
    expect(drain.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(drain.token).toMatch(/^d\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(drain.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(api.calls.at(-1)).toMatchObject({ method: 'POST', path: '/apps/raxx-api-prod/log-drains', status: 201, body: { url: DRAIN } });

    const dup = await failure(heroku.post('/apps/raxx-api-prod/log-drains', { body: { url: DRAIN } }));
    expect(dup.statusCode).toBe(422);
    expect(dup.body).toEqual({ id: 'invalid_params', message: 'Url has already been taken' });
    // The same URL on another app is fine.
    await heroku.post('/apps/raxx-console-prod/log-drains', { body: { url: DRAIN } });

    const bad = await failure(heroku.post('/apps/raxx-api-prod/log-drains', { body: { url: 'not a url' } }));
    expect(bad.statusCode).toBe(422);
    expect(bad.body.id).toBe('invalid_params');

    expect(await heroku.get<HerokuDrain[]>('/apps/raxx-api-prod/log-drains')).toEqual([drain]);
    expect(await heroku.get(`/apps/raxx-api-prod/log-drains/${drain.id}`)).toEqual(drain);
    expect(await heroku.get(`/apps/raxx-api-prod/log-drains/${drain.token}`)).toEqual(drain);
    expect(await heroku.get(`/apps/raxx-api-prod/log-drains/${encodeURIComponent(DRAIN)}`)).toEqual(drain);

    const removed = await heroku.delete(`/apps/raxx-api-prod/log-drains/${encodeURIComponent(DRAIN)}`);
    expect(removed).toEqual(drain);
    expect(api.drains('raxx-api-prod')).toEqual([]);
    expect(api.drains('raxx-console-prod')).toHaveLength(1);

    const gone = await failure(heroku.delete(`/apps/raxx-api-prod/log-drains/${drain.id}`));
    expect(gone.statusCode).toBe(404);
    expect(gone.body.id).toBe('not_found');
  });

  it('refuses to delete a drain an add-on created', async () => {
    const d = api.addDrain('raxx-api-prod', 'syslog+tls://logs.papertrailapp.com:12345', { addon: 'papertrail-clean-12345' });
    expect(d.addon).toMatchObject({ name: 'papertrail-clean-12345' });
    const err = await failure(heroku.delete(`/apps/raxx-api-prod/log-drains/${d.id}`));
    expect(err.statusCode).toBe(422);
    expect(err.body.message).toMatch(/removing the add-on/);
    expect(api.drains('raxx-api-prod')).toHaveLength(1);
  });

  it('reads and merges config vars (null deletes)', async () => {
    api.setConfigVars('raxx-api-prod', { DATABASE_URL: 'postgres://o:p@db/raxx', KEEP: '1' });
    expect(await heroku.get('/apps/raxx-api-prod/config-vars')).toEqual({ DATABASE_URL: 'postgres://o:p@db/raxx', KEEP: '1' });
    const after = await heroku.patch('/apps/raxx-api-prod/config-vars', { body: { DATABASE_URL: null, NEW: 'x' } });
    expect(after).toEqual({ KEEP: '1', NEW: 'x' });
    expect(api.configVars('raxx-api-prod')).toEqual({ KEEP: '1', NEW: 'x' });
    expect((await failure(heroku.patch('/apps/raxx-api-prod/config-vars', { body: { N: 1 } }))).statusCode).toBe(422);
  });

  it('401s a wrong token, accepts Bearer and Basic with the token as password', async () => {
    const wrong = new Heroku({ token: 'not-the-token', host: api.url });
    const err = await failure(wrong.get('/apps/raxx-api-prod'));
    expect(err.statusCode).toBe(401);
    expect(err.body).toEqual({ id: 'unauthorized', message: 'Invalid credentials provided.' });

    expect((await raw(api, '/apps/raxx-api-prod')).status).toBe(200);
    const basic = Buffer.from(`:${api.token}`).toString('base64');
    expect((await raw(api, '/apps/raxx-api-prod', { headers: { Authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await raw(api, '/apps/raxx-api-prod', { headers: { Authorization: '' } })).status).toBe(401);
  });

  it('406s a request without the version 3 Accept header', async () => {
    const r = await raw(api, '/apps/raxx-api-prod', { headers: { Accept: 'application/json' } });
    expect(r.status).toBe(406);
    expect(r.body).toMatchObject({ id: 'not_acceptable' });
    expect(r.headers.get('ratelimit-remaining')).not.toBeNull();
  });

  it('counts down RateLimit-Remaining and answers 429 rate_limit when the pool is empty', async () => {
    api.setRateLimitRemaining(2);
    const first = await raw(api, '/apps/raxx-api-prod');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    await heroku.get('/apps/raxx-api-prod');
    const err = await failure(heroku.get('/apps/raxx-api-prod'));
    expect(err.statusCode).toBe(429);
    expect(err.body.id).toBe('rate_limit');
    const limited = await raw(api, '/apps/raxx-api-prod');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(api.rateLimitRemaining()).toBe(0);
  });

  it('injects failures for matching requests only, then recovers', async () => {
    api.failNext(2, 503, { method: 'POST', pathIncludes: '/log-drains' });
    // A GET is not matched.
    expect(await heroku.get('/apps/raxx-api-prod/log-drains')).toEqual([]);
    for (let i = 0; i < 2; i++) {
      const err = await failure(heroku.post('/apps/raxx-api-prod/log-drains', { body: { url: DRAIN } }));
      expect(err.statusCode).toBe(503);
    }
    expect(api.drains('raxx-api-prod')).toEqual([]);
    await heroku.post('/apps/raxx-api-prod/log-drains', { body: { url: DRAIN } });
    expect(api.calls.filter((c) => c.method === 'POST').map((c) => c.status)).toEqual([503, 503, 201]);

    api.failNext(1, 429);
    expect((await failure(heroku.get('/apps/raxx-api-prod'))).body.id).toBe('rate_limit');
  });

  it('pages a long list with 206 + Next-Range, which heroku-client follows to the end', async () => {
    await api.stop();
    api = await startHerokuApi({ apps: ['raxx-api-prod'], pageSize: 3 });
    heroku = new Heroku({ token: api.token, host: api.url });
    for (let i = 0; i < 8; i++) api.addDrain('raxx-api-prod', `https://drain-${i}.example.com/logs`);

    const all = await heroku.get<HerokuDrain[]>('/apps/raxx-api-prod/log-drains');
    expect(all).toHaveLength(8);
    expect(new Set(all.map((d) => d.id)).size).toBe(8);
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort());

    const gets = api.calls.filter((c) => c.path === '/apps/raxx-api-prod/log-drains');
    expect(gets.map((c) => c.status)).toEqual([206, 206, 200]);
    expect(gets[0]?.range).toBe('id ..; max=1000');
    expect(gets[1]?.range).toBe(`id ]${all[2]!.id}..; max=3`);
    expect(gets[2]?.range).toBe(`id ]${all[5]!.id}..; max=3`);

    const first = await raw(api, '/apps/raxx-api-prod/log-drains', { headers: { Range: 'id ..; max=2' } });
    expect(first.status).toBe(206);
    expect(first.headers.get('next-range')).toBe(`id ]${all[1]!.id}..; max=2`);
    expect(first.headers.get('content-range')).toBe(`id ${all[0]!.id}..${all[1]!.id}`);
    expect(first.headers.get('accept-ranges')).toBe('id');

    const bad = await raw(api, '/apps/raxx-api-prod/log-drains', { headers: { Range: 'name ..' } });
    expect(bad.status).toBe(416);
  });

  it('parses Range headers as Heroku writes them', () => {
    expect(parseRange('id ..; max=1000')).toMatchObject({ attr: 'id', max: 1000, firstExclusive: false });
    expect(parseRange('id ]abc..; max=10;')).toMatchObject({ attr: 'id', first: 'abc', firstExclusive: true, max: 10 });
    expect(parseRange('id a..z[; order=desc')).toMatchObject({ first: 'a', last: 'z', lastExclusive: true, order: 'desc' });
    expect(parseRange('bytes=0-100')).toBeUndefined();
  });
});
