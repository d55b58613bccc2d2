// The shipping handlers the receiver's zip carries: the dashboard behind a Function URL event,
// and the 02:00 UTC daily ship (3 attempts, Slack when a day still fails), on the stand-ins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { motoAvailable } from '../support/moto.js';
import { authRows } from '../support/supabase-api.js';
import { NOW, startShippingStack, type ShippingStack } from '../support/shipping-stack.js';
import { dailyShipHandler, dashboardHandler } from '../../src/lambda/shipping.js';

const TOKEN = 'lambda-dashboard-token-abcdef012345';

describe.skipIf(!motoAvailable)('shipping Lambda handlers (moto + Supabase stand-in)', () => {
  let stack: ShippingStack;
  let env: Record<string, string>;
  beforeAll(async () => {
    stack = await startShippingStack();
    const { RAXX_OPS_CONFIG, ...rest } = stack.env;
    // The function has no file system to read a config from: its JSON is a variable.
    env = { ...rest, RAXX_OPS_CONFIG_JSON: await readFile(RAXX_OPS_CONFIG!, 'utf8'), RAXX_OPS_DASHBOARD_TOKEN: TOKEN, SHIP_RETRY_BASE_MS: '1', AWS_LAMBDA_FUNCTION_NAME: 'raxx-log-shipping' };
  }, 120_000);
  afterAll(() => stack?.stop());

  const event = (method: string, path: string, extra: { query?: string; body?: string; headers?: Record<string, string>; base64?: boolean } = {}) => ({
    rawPath: path,
    rawQueryString: extra.query ?? '',
    headers: extra.headers ?? {},
    ...(extra.body !== undefined ? { body: extra.base64 ? Buffer.from(extra.body).toString('base64') : extra.body, isBase64Encoded: Boolean(extra.base64) } : {}),
    requestContext: { http: { method } },
  });

  it('dashboard: health, status, report, a shipped day, the page; POST needs the token', async () => {
    const handle = dashboardHandler(env, () => NOW.getTime());
    const health = await handle(event('GET', '/api/logs/health'));
    expect(health.statusCode).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'critical' });
    expect((JSON.parse((await handle(event('GET', '/api/logs/status', { query: 'days=30' }))).body) as { days: unknown[] }).days).toHaveLength(30);
    expect((await handle(event('GET', '/api/logs/report'))).body).toMatch(/^Health: CRITICAL$/m);
    const day = JSON.parse((await handle(event('GET', '/api/logs/supabase', { query: 'source=auth&date=2026-10-02' }))).body) as { total: number };
    expect(day.total).toBe(41);
    const page = await handle(event('GET', '/'));
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/data-state="missing"/);
    expect((await handle(event('POST', '/api/logs/ship', { body: '{"source":"auth","date":"2026-10-04"}' }))).statusCode).toBe(401);
    stack.supabase.rows.push(...authRows('2026-10-04', 3));
    const shipped = await handle(event('POST', '/api/logs/ship', { body: '{"source":"auth","date":"2026-10-04"}', base64: true, headers: { authorization: `Bearer ${TOKEN}` } }));
    expect(shipped.statusCode).toBe(200);
    expect(JSON.parse(shipped.body)).toMatchObject({ outcome: 'shipped', lines: 3, via: 'lambda:raxx-log-shipping', by: 'lambda:raxx-log-shipping' });
  });

  it('daily ship: yesterday of every Supabase source; a shipped day is skipped', async () => {
    stack.supabase.requests.length = 0;
    const result = await dailyShipHandler(env, () => NOW.getTime())();
    expect(result.day).toBe('2026-10-07');
    expect(result.runs.map((r) => [r.source, r.outcome])).toEqual([
      ['auth', 'skipped'],
      ['api', 'empty'],
    ]);
    expect(result.failed).toEqual([]);
  });

  it('daily ship: a day that fails 3 times is reported to Slack, each attempt recorded', async () => {
    stack.slack.messages.length = 0;
    const before = stack.supabase.requests.filter((r) => r.status === 401).length;
    const result = await dailyShipHandler({ ...env, SUPABASE_ACCESS_TOKEN: 'sbp_revoked' }, () => Date.parse('2026-10-10T02:00:00Z'))();
    expect(result.day).toBe('2026-10-09');
    expect(result.failed.map((f) => [f.source, f.attempts])).toEqual([
      ['auth', 3],
      ['api', 3],
    ]);
    expect(stack.supabase.requests.filter((r) => r.status === 401).length - before).toBe(6);
    expect(stack.slack.messages.map((m) => m.text)).toEqual([
      expect.stringMatching(/auth 2026-10-09 failed after 3 attempts: Supabase refused the access token \(401/),
      expect.stringMatching(/api 2026-10-09 failed after 3 attempts/),
    ]);
    expect(JSON.stringify(stack.slack.messages)).not.toContain('sbp_revoked');
  });
});
