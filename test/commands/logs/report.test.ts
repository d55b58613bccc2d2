// logs report and logs status --history on a shipping system with a missing required day, an
// optional source whose last run failed and a drain app with a missing day.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { runCli } from '../../support/run-cli.js';
import { API_BUCKET, DAYS, DRAIN_BUCKET, FAILED_API_DAY, MISSING_APP_DAY, MISSING_AUTH_DAY, startShippingStack, type ShippingStack } from '../../support/shipping-stack.js';
import type { ShippingReport } from '../../../src/lib/shipping/report.js';

describe('logs report: bad input', () => {
  it('--days other than 7 or 30 → 2', async () => {
    const r = await runCli(['logs', 'report', '--days', '10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--days: must be 7 or 30/);
  });
  it('--runs 0 → 2', async () => {
    const r = await runCli(['logs', 'status', '--history', '--runs', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--runs: must be at least 1/);
  });
});

describe.skipIf(!motoAvailable)('logs report and status --history (moto + Supabase stand-in)', () => {
  let stack: ShippingStack;
  beforeAll(async () => {
    stack = await startShippingStack();
  }, 120_000);
  afterAll(() => stack?.stop());

  it('--json: 7 days per source and app, missing dates, last runs, storage and cost; critical', async () => {
    const r = await stack.cli(['logs', 'report', '--json']);
    expect(r.code).toBe(1);
    const report = r.json<ShippingReport>();
    expect(report.days).toEqual(DAYS);
    expect(report.health).toBe('critical');
    const row = (name: string) => report.rows.find((x) => x.name === name)!;
    expect(row('auth')).toMatchObject({ kind: 'source', required: true, missing: [MISSING_AUTH_DAY], health: 'critical', newestDay: '2026-10-07' });
    expect(row('auth').days.find((d) => d.day === '2026-10-01')).toMatchObject({ entries: 40, missing: false });
    expect(row('auth').lastRun).toMatchObject({ outcome: 'shipped', day: '2026-10-07', lines: 46 });
    expect(row('api')).toMatchObject({ required: false, missing: [FAILED_API_DAY, '2026-10-07'], health: 'warning', bucket: API_BUCKET });
    expect(row('api').lastRun).toMatchObject({ outcome: 'failed', day: FAILED_API_DAY });
    expect(row('api').storage).toMatchObject({ objects: 5, partial: false });
    expect(row('raxx-console-prod')).toMatchObject({ kind: 'app', missing: [MISSING_APP_DAY], health: 'warning' });
    expect(row('raxx-api-prod')).toMatchObject({ missing: [], health: 'healthy' });
    expect(report.buckets.map((b) => b.bucket).sort()).toEqual([API_BUCKET, DRAIN_BUCKET].sort());
    expect(report.buckets.every((b) => b.bytes > 0 && b.monthlyUsd > 0)).toBe(true);
    expect(report.reasons.join('\n')).toMatch(/source auth \(required\) missing 2026-10-04/);
    expect(report.reasons.join('\n')).toMatch(/api: the last run \(2026-10-06\) failed/);
  });

  it('text: the runbook report, people-readable', async () => {
    const r = await stack.cli(['logs', 'report']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Health: CRITICAL$/m);
    expect(r.stdout).toMatch(/Source auth \(required\) — s3:\/\/raxx-heroku-logs-prod — critical/);
    expect(r.stdout).toMatch(/ {2}2026-10-04 {2}MISSING/);
    expect(r.stdout).toMatch(/ {2}2026-10-01 {2}present {2}40 entries/);
    expect(r.stdout).toMatch(/last run: failed 2026-10-06 .* by .*\(cli\)/);
    expect(r.stdout).toMatch(/storage: 5 object\(s\), .*~\$0\.\d+\/month/);
    expect(r.stdout).toMatch(/Drain app raxx-console-prod .* warning[\s\S]*missing dates: 2026-10-03/);
    expect(r.stderr).toMatch(/critical: source auth \(required\) missing 2026-10-04/);
  });

  it('status --history: the last runs, the failed one and the successful ones', async () => {
    const r = await stack.cli(['logs', 'status', '--source', 'api', '--history']);
    expect(r.stdout).toMatch(/api: last 8 of 8 shipping run\(s\), newest first/);
    const lines = r.stdout.split('\n');
    const failed = lines.find((l) => l.includes(FAILED_API_DAY) && l.includes('failed'))!;
    expect(failed).toMatch(/failed\s+-\s+-\s+0\s+[\d.]+ s\s+\S+@\S+ \(cli\)\s+.*(503|SlowDown)/);
    expect(lines.filter((l) => /2026-10-0[1-5]\s+shipped\s+20\s/.test(l))).toHaveLength(5);
    expect(lines.filter((l) => /\s+empty\s+/.test(l))).toHaveLength(2);
    const json = await stack.cli(['logs', 'status', '--source', 'api', '--history', '--runs', '2', '--json']);
    const h = json.json<{ history: { source: string; runs: { outcome: string }[]; total: number }[] }>().history;
    expect(h[0]).toMatchObject({ source: 'api', total: 8 });
    expect(h[0]!.runs.map((x) => x.outcome)).toEqual(['failed', 'empty']);
  });
});
