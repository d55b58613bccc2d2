// logs ship from a Supabase source: the Management API stand-in (row cap, 24-hour range, 429s,
// auth errors) in front, moto behind; paging, entry shapes, redaction, skip on rerun, history.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { motoAvailable } from '../../support/moto.js';
import { useMoto, useS3FaultProxy, useSlack } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { authRows, edgeRows, startSupabase, type SupabaseStandIn } from '../../support/supabase-api.js';
import { microseconds, retryAfterMs, supabaseAccess } from '../../../src/lib/shipping/supabase.js';
import { API_BUCKET, createSourceBuckets, DRAIN_BUCKET as BUCKET, supabaseEnv, writeSourcesConfig } from '../../support/shipping-stack.js';

const now = () => new Date('2026-10-05T03:00:00Z');

describe('Supabase access (exit 3 with a hint)', () => {
  const cases: { name: string; ref: string; env: Record<string, string>; error: RegExp }[] = [
    { name: 'no project at all', ref: '', env: { SUPABASE_ACCESS_TOKEN: 't' }, error: /no Supabase project/ },
    { name: 'SUPABASE_URL not a URL', ref: '', env: { SUPABASE_URL: 'nope', SUPABASE_ACCESS_TOKEN: 't' }, error: /SUPABASE_URL is not a URL/ },
    { name: 'SUPABASE_URL of a custom domain', ref: '', env: { SUPABASE_URL: 'https://api.example.com', SUPABASE_ACCESS_TOKEN: 't' }, error: /does not name a project/ },
    { name: 'only the service-role key', ref: 'abcdefghijklmnopqrst', env: { SUPABASE_SERVICE_ROLE_KEY: 'eyJ…' }, error: /service-role key cannot read its platform logs/ },
    { name: 'no token', ref: 'abcdefghijklmnopqrst', env: {}, error: /SUPABASE_ACCESS_TOKEN is not set/ },
    { name: 'SUPABASE_API_URL not http', ref: 'abcdefghijklmnopqrst', env: { SUPABASE_ACCESS_TOKEN: 't', SUPABASE_API_URL: 'ftp://x' }, error: /SUPABASE_API_URL is not an http/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(() => supabaseAccess(c.ref, c.env)).toThrow(c.error);
      try {
        supabaseAccess(c.ref, c.env);
      } catch (err) {
        expect((err as { exitCode: number; hint?: string }).exitCode).toBe(3);
        expect((err as { hint?: string }).hint).toBeTruthy();
      }
    });
  }

  it('the ref from SUPABASE_URL, the public API by default', () => {
    expect(supabaseAccess('', { SUPABASE_URL: 'https://abcdefghijklmnopqrst.supabase.co', SUPABASE_ACCESS_TOKEN: 'sbp_x' })).toMatchObject({ projectRef: 'abcdefghijklmnopqrst', baseUrl: 'https://api.supabase.com' });
  });

  it('timestamps and Retry-After', () => {
    expect(microseconds('2026-10-01 10:00:00.123456')).toBe(Date.parse('2026-10-01T10:00:00Z') * 1000 + 123456);
    expect(microseconds('2026-10-01T10:00:00Z')).toBe(Date.parse('2026-10-01T10:00:00Z') * 1000);
    expect(microseconds(1_790_000_000_000_000)).toBe(1_790_000_000_000_000);
    expect(microseconds('yesterday')).toBeUndefined();
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
  });
});

describe.skipIf(!motoAvailable)('logs ship from Supabase (moto + Management API stand-in)', () => {
  const moto = useMoto();
  const proxy = useS3FaultProxy(() => moto.endpoint);
  const slack = useSlack();
  let supabase: SupabaseStandIn;
  const { aws } = moto;
  let env: Record<string, string>;

  beforeAll(async () => {
    supabase = await startSupabase({ cap: 1000 });
    await createSourceBuckets(aws);
    const config = await writeSourcesConfig('raxx-ship-supabase-');
    env = {
      ...moto.env,
      AWS_ENDPOINT_URL: proxy.endpoint,
      RAXX_OPS_CONFIG: config,
      SLACK_WEBHOOK_URL: slack.url,
      ...supabaseEnv(supabase),
    };
    supabase.rows.push(...authRows('2026-10-01', 2500, { failEvery: 10 }), ...authRows('2026-10-02', 30), ...edgeRows('2026-10-01', 40), ...edgeRows('2026-10-03', 5));
  });

  afterEach(() => {
    supabase.requests.length = 0;
    supabase.cap = 1000;
    supabase.forbiddenTokens.clear();
  });

  afterAll(async () => {
    await supabase?.close();
  });

  const ship = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(['logs', 'ship', ...args, '--retry-base-ms', '10'], { env: { ...env, ...extra }, now });

  async function read(bucket: string, key: string): Promise<string> {
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8');
  }

  async function versions(bucket: string, key: string): Promise<number> {
    const s3 = await aws.s3();
    const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
    return (res.Versions ?? []).filter((v) => v.Key === key).length;
  }

  async function history(bucket: string, source: string): Promise<{ outcome: string; day: string; lines: number | null; error: string | null }[]> {
    const { lastRuns } = await import('../../../src/lib/shipping/history.js');
    return (await lastRuns(await aws.s3(), bucket, source, 100)).runs;
  }

  it('2,500 auth rows behind a 1,000-row cap ship as 2,500 lines, in order, in the runbook shape, e-mails redacted; a rerun is skipped', async () => {
    const r = await ship(['auth', '--date', '2026-10-01', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const day = r.json<{ days: { status: string; key: string; lines: number; redactions: number }[] }>().days[0]!;
    expect(day).toMatchObject({ status: 'shipped', key: 'logs/auth/2026/10/01/1790812800000-shipped.gz', lines: 2500 });
    // No answer the client trusted was cut: every select returned fewer rows than the cap.
    const selects = supabase.requests.filter((q) => q.sql.startsWith('SELECT id'));
    expect(selects.every((q) => q.rows < 1000)).toBe(true);
    expect(supabase.requests.every((q) => Date.parse(q.end) - Date.parse(q.start) <= 24 * 3600_000)).toBe(true);

    const lines = (await read(BUCKET, day.key)).trimEnd().split('\n');
    expect(lines).toHaveLength(2500);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(new Set(entries.map((e) => (e.metadata as { id: string }).id)).size).toBe(2500);
    const times = entries.map((e) => e.timestamp as string);
    expect([...times].sort()).toEqual(times);
    expect(Object.keys(entries[0]!)).toEqual(['timestamp', 'level', 'type', 'user_id', 'action', 'result', 'ip_address', 'user_agent', 'metadata']);
    expect(entries[1]).toMatchObject({ timestamp: '2026-10-01T00:00:34.560Z', level: 'INFO', type: 'auth', user_id: 'user-1', action: 'token_refreshed', result: 'success', ip_address: '10.0.1.0', user_agent: 'Mozilla/5.0' });
    expect(entries[0]).toMatchObject({ level: 'ERROR', action: 'login', result: 'failure' });
    expect(lines.join('\n')).not.toMatch(/@example\.com/);
    expect((entries[1]!.metadata as { actor_username: string }).actor_username).toBe('[REDACTED:email]');
    expect(day.redactions).toBe(2500);

    supabase.requests.length = 0;
    const again = await ship(['auth', '--date', '2026-10-01']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/auth 2026-10-01 already shipped, skipped/);
    expect(supabase.requests).toHaveLength(0);
    expect(await versions(BUCKET, day.key)).toBe(1);
    const runs = await history(BUCKET, 'auth');
    expect(runs.map((x) => x.outcome)).toEqual(['skipped', 'shipped']);
    expect(runs[1]).toMatchObject({ day: '2026-10-01', lines: 2500, error: null });
  });

  it('a cap lower than the rows asked for is found by the count: still every row', async () => {
    supabase.cap = 7;
    const r = await ship(['auth', '--date', '2026-10-02', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<{ days: { lines: number }[] }>().days[0]!.lines).toBe(30);
  });

  it('429s are waited out as Retry-After says, then the day ships', async () => {
    supabase.throttle(3, '0');
    const r = await ship(['api', '--date', '2026-10-01', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/rate limited \(429\); waiting 0 ms/g)).toHaveLength(3);
    expect(supabase.requests.filter((q) => q.status === 429)).toHaveLength(3);
    const day = r.json<{ days: { key: string; lines: number }[] }>().days[0]!;
    expect(day).toMatchObject({ key: 'api/2026-10-01/api.log.gz', lines: 40 });
    const first = JSON.parse((await read(API_BUCKET, day.key)).split('\n')[0]!) as Record<string, unknown>;
    expect(first).toEqual({ timestamp: '2026-10-01T00:00:00.000Z', level: 'INFO', type: 'api', method: 'GET', path: '/rest/v1/users', status_code: 200, duration_ms: 12, user_id: null, request_id: 'ray0', ip_address: '10.1.0.0' });
  });

  it('--days N: the days before today, shipped days skipped, a day without rows ships nothing', async () => {
    const r = await ship(['api', '--days', '4', '--json']);
    expect(r.stderr.match(/nothing shipped, the day stays missing/g)).toHaveLength(2);
    expect(r.code).toBe(0);
    const days = r.json<{ days: { date: string; status: string; lines: number }[] }>().days;
    expect(days.map((d) => [d.date, d.status])).toEqual([
      ['2026-10-01', 'skipped'],
      ['2026-10-02', 'empty'],
      ['2026-10-03', 'shipped'],
      ['2026-10-04', 'empty'],
    ]);
    expect(await versions(API_BUCKET, 'api/2026-10-02/api.log.gz')).toBe(0);
  });

  it('--replace pulls a shipped day again: the same rows change nothing', async () => {
    const r = await ship(['api', '--date', '2026-10-03', '--replace', '--json']);
    expect(r.code).toBe(0);
    expect(r.json<{ days: { status: string }[] }>().days[0]!.status).toBe('unchanged');
    expect(await versions(API_BUCKET, 'api/2026-10-03/api.log.gz')).toBe(1);
  });

  const refusals: { name: string; extra?: Record<string, string | undefined>; setup?: () => void; code: number; stderr: RegExp }[] = [
    { name: 'a wrong token (401)', extra: { SUPABASE_ACCESS_TOKEN: 'sbp_wrong' }, code: 3, stderr: /Supabase refused the access token \(401: Unauthorized\)[\s\S]*hint: SUPABASE_ACCESS_TOKEN must be/ },
    { name: 'a token of another organization (403)', extra: { SUPABASE_ACCESS_TOKEN: 'sbp_other' }, setup: () => supabase.forbiddenTokens.add('sbp_other'), code: 3, stderr: /may not read project abcdefghijklmnopqrst's logs \(403/ },
    { name: 'an unknown project (404)', extra: { SUPABASE_URL: 'https://zzzzzzzzzzzzzzzzzzzz.supabase.co' }, code: 3, stderr: /Supabase has no project zzzzzzzzzzzzzzzzzzzz \(404/ },
    { name: 'only the service-role key', extra: { SUPABASE_ACCESS_TOKEN: undefined, SUPABASE_SERVICE_ROLE_KEY: 'eyJhbGciOi.service.role' }, code: 3, stderr: /service-role key cannot read its platform logs/ },
    { name: 'today, which has not ended', extra: {}, code: 2, stderr: /2026-10-05 has not ended/ },
    { name: '--delete-after', extra: {}, code: 2, stderr: /--delete-after has nothing to delete/ },
    { name: 'the API unreachable', extra: { SUPABASE_API_URL: 'http://127.0.0.1:9' }, code: 4, stderr: /Management API cannot be reached/ },
  ];
  for (const c of refusals) {
    it(`refused: ${c.name} → ${c.code}, nothing written, no token printed`, async () => {
      c.setup?.();
      const date = c.name.startsWith('today') ? '2026-10-05' : '2026-10-02';
      const args = ['api', '--date', date, ...(c.name === '--delete-after' ? ['--delete-after'] : []), ...(c.name.includes('unreachable') ? ['--retry-base-ms', '1'] : [])];
      const r = await ship(args, c.extra);
      expect(r.stderr).toMatch(c.stderr);
      expect(r.stderr).toMatch(/hint:/);
      expect(r.code).toBe(c.code);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toContain(supabase.token);
      expect(await versions(API_BUCKET, `api/${date}/api.log.gz`)).toBe(0);
    });
  }

  it('an upload that keeps failing is recorded as a failed run and notified; the next run ships', async () => {
    // Day 2 was shipped by the cap test: removed, so this run must upload.
    const s3 = await aws.s3();
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'logs/auth/2026/10/02/1790899200000-shipped.gz' }));
    // Every attempt, the SDK's own retries included.
    proxy.setFaults([{ method: 'PUT', path: (p) => p.includes('/logs/auth/2026/10/02/'), times: 1000, status: 503 }]);
    const failed = await ship(['auth', '--date', '2026-10-02']);
    expect(failed.code).toBe(4);
    expect(slack.messages.at(-1)?.text).toMatch(/auth 2026-10-02 failed/);
    proxy.setFaults([]);
    const ok = await ship(['auth', '--date', '2026-10-02']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/auth 2026-10-02 shipped: 30 lines/);
    const runs = (await history(BUCKET, 'auth')).filter((x) => x.day === '2026-10-02');
    expect(runs[0]).toMatchObject({ outcome: 'shipped', lines: 30 });
    expect(runs[1]).toMatchObject({ outcome: 'failed', lines: null });
    expect(runs[1]!.error).toMatch(/503|SlowDown|failed/i);
  });
});
