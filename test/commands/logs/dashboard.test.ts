// logs dashboard over HTTP on a shipping system with a missing required day: the five
// Monitoring API endpoints, the bearer token on POST, the page's grid, refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { authRows } from '../../support/supabase-api.js';
import { startDashboard, type DashboardServer } from '../../support/dashboard-server.js';
import { DAYS, FAILED_API_DAY, MISSING_AUTH_DAY, NOW, startShippingStack, type ShippingStack } from '../../support/shipping-stack.js';
import { handleDashboard } from '../../../src/lib/shipping/dashboard.js';
import { DEFAULTS } from '../../../src/lib/core/config.js';

const TOKEN = 'dashboard-token-0123456789abcdef';

describe('the dashboard handler without a token configured', () => {
  it('POST /api/logs/ship is disabled (403), whatever the request carries', async () => {
    const deps = { s3: () => Promise.reject(new Error('not reached')), config: DEFAULTS, env: {}, now: () => NOW.getTime(), endpoint: 'http://127.0.0.1:9', signal: new AbortController().signal, via: 'dashboard' };
    for (const auth of [undefined, 'Bearer ', 'Bearer anything']) {
      const r = await handleDashboard({ method: 'POST', url: '/api/logs/ship', headers: { authorization: auth }, body: '{"source":"auth","date":"2026-10-01"}' }, deps);
      expect(r.status).toBe(403);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
      expect(JSON.parse(r.body)).toMatchObject({ error: 'manual shipping is disabled', hint: expect.stringMatching(/RAXX_OPS_DASHBOARD_TOKEN/) });
    }
  });
});

describe.skipIf(!motoAvailable)('logs dashboard (moto + Supabase stand-in)', () => {
  let stack: ShippingStack;
  let dash: DashboardServer;
  beforeAll(async () => {
    stack = await startShippingStack();
    dash = await startDashboard({ ...stack.env, RAXX_OPS_DASHBOARD_TOKEN: TOKEN }, () => NOW);
  }, 120_000);
  afterAll(async () => {
    const r = await dash?.stop();
    if (r) expect(r.stderr).not.toContain(TOKEN);
    await stack?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${dash.url}${path}`, { headers });
  const post = (body: unknown, auth?: string) => fetch(`${dash.url}/api/logs/ship`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('GET /api/logs/health: critical, with the runbook reasons', async () => {
    const res = await get('/api/logs/health');
    expect(res.status).toBe(200);
    const h = (await res.json()) as { status: string; reasons: string[]; logs: { name: string; health: string; missing: string[] }[] };
    expect(h.status).toBe('critical');
    expect(h.reasons).toContain(`source auth (required) missing ${MISSING_AUTH_DAY}`);
    expect(h.logs.find((l) => l.name === 'api')).toMatchObject({ health: 'warning', missing: [FAILED_API_DAY, '2026-10-07'] });
  });

  it('GET /api/logs/status: the report as JSON, 7 or 30 days', async () => {
    const r7 = (await (await get('/api/logs/status')).json()) as { days: string[]; rows: { name: string }[] };
    expect(r7.days).toEqual(DAYS);
    expect(r7.rows.map((x) => x.name)).toEqual(['auth', 'api', 'raxx-api-prod', 'raxx-console-prod']);
    const r30 = (await (await get('/api/logs/status?days=30')).json()) as { days: string[] };
    expect(r30.days).toHaveLength(30);
    const bad = await get('/api/logs/status?days=9');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'days must be 7 or 30' });
  });

  it('GET /api/logs/report: the text report', async () => {
    const res = await get('/api/logs/report');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^Health: CRITICAL$/m);
  });

  it('GET /api/logs/supabase: a shipped day from S3; refusals for the rest', async () => {
    const res = await get('/api/logs/supabase?source=auth&date=2026-10-01&limit=5');
    expect(res.status).toBe(200);
    const day = (await res.json()) as { total: number; truncated: boolean; entries: { type: string; metadata: { actor_username: string } }[] };
    expect(day).toMatchObject({ total: 40, truncated: true });
    expect(day.entries).toHaveLength(5);
    expect(day.entries[0]).toMatchObject({ type: 'auth', metadata: { actor_username: '[REDACTED:email]' } });
    const cases: [string, number, RegExp][] = [
      [`/api/logs/supabase?source=auth&date=${MISSING_AUTH_DAY}`, 404, /has not been shipped/],
      ['/api/logs/supabase?source=nope&date=2026-10-01', 400, /unknown source "nope"/],
      ['/api/logs/supabase?source=auth&date=2026-02-30', 400, /date must be a UTC day/],
      ['/api/logs/supabase?source=auth&date=2026-10-01&limit=0', 400, /limit must be/],
      ['/api/logs/nothing', 404, /no such endpoint/],
    ];
    for (const [path, status, error] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(status);
      expect(((await r.json()) as { error: string }).error).toMatch(error);
    }
    expect((await post({})).status).toBe(401);
    expect((await fetch(`${dash.url}/api/logs/health`, { method: 'DELETE' })).status).toBe(405);
  });

  it('a request for another host name is refused (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${dash.url}/api/logs/health`, { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it('POST /api/logs/ship: refused without the token or with a wrong one; with it, ships and the health follows', async () => {
    for (const auth of [undefined, 'Bearer wrong', `Basic ${Buffer.from(`:${TOKEN}`).toString('base64')}`, `Bearer ${TOKEN}x`]) {
      const r = await post({ source: 'auth', date: MISSING_AUTH_DAY }, auth);
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    const bad: [unknown, RegExp][] = [
      ['{not json', /not JSON/],
      [{ date: MISSING_AUTH_DAY }, /needs "source"/],
      [{ source: 'auth', date: '2026-10-08' }, /has not ended/],
      [{ source: 'nope', date: MISSING_AUTH_DAY }, /unknown source/],
    ];
    for (const [body, error] of bad) {
      const r = await post(body, `Bearer ${TOKEN}`);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toMatch(error);
    }
    // The missing day's rows turn up in Supabase; a manual ship fills the gap.
    stack.supabase.rows.push(...authRows(MISSING_AUTH_DAY, 12));
    const r = await post({ source: 'auth', date: MISSING_AUTH_DAY }, `Bearer ${TOKEN}`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ source: 'auth', day: MISSING_AUTH_DAY, outcome: 'shipped', lines: 12, via: 'dashboard' });
    const again = await post({ source: 'auth', date: MISSING_AUTH_DAY }, `Bearer ${TOKEN}`);
    expect(await again.json()).toMatchObject({ outcome: 'skipped' });
    const h = (await (await get('/api/logs/health')).json()) as { status: string };
    expect(h.status).toBe('warning');
    // A day Supabase has no rows for ships nothing, and says so.
    const empty = await post({ source: 'api', date: '2026-10-07' }, `Bearer ${TOKEN}`);
    expect(empty.status).toBe(200);
    expect(await empty.json()).toMatchObject({ outcome: 'empty', lines: 0 });
    // Supabase refusing its token is the dashboard's upstream failing: 502, recorded as a failed run.
    const upstream = await startDashboard({ ...stack.env, RAXX_OPS_DASHBOARD_TOKEN: TOKEN, SUPABASE_ACCESS_TOKEN: 'sbp_revoked' }, () => NOW);
    try {
      const r502 = await fetch(`${upstream.url}/api/logs/ship`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ source: 'api', date: '2026-10-07' }) });
      expect(r502.status).toBe(502);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
      expect(await r502.json()).toMatchObject({ error: expect.stringMatching(/api 2026-10-07 failed: Supabase refused the access token \(401/), hint: expect.stringMatching(/SUPABASE_ACCESS_TOKEN/) });
    } finally {
      await upstream.stop();
    }
  });

  it('GET /: the grid, each cell coloured and labelled, with the page refreshing itself and nothing external', async () => {
    const res = await get('/');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await res.text();
    expect(html).toMatch(/<meta http-equiv="refresh" content="60">/);
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toMatch(/<tr data-name="api">/);
    expect(html).toMatch(new RegExp(`data-day="${FAILED_API_DAY}" data-state="missing"[^>]*><span class="label">✗ missing</span>`));
  });
});
