// Shipped log sources in moto: `logs status` health over 7 days with gaps (required vs
// optional), the Slack summary, and `logs sources setup|test` (lifecycle, permissions).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { motoAvailable } from '../../support/moto.js';
import { useMoto, useS3FaultProxy, useSlack } from '../../support/fixtures.js';
import { createSourceBuckets } from '../../support/shipping-stack.js';
import { runCli } from '../../support/run-cli.js';
import type { SourceStatus } from '../../../src/lib/shipping/status.js';

const BUCKET = 'raxx-heroku-logs-prod';
const DATED_BUCKET = 'raxx-batch-logs-test';
// The 7 days judged: 2025-06-03 … 2025-06-09 (today, the 10th, is not complete yet).
const now = () => new Date('2025-06-10T08:00:00Z');
const WEEK = ['2025-06-03', '2025-06-04', '2025-06-05', '2025-06-06', '2025-06-07', '2025-06-08', '2025-06-09'];

describe('logSources in the configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raxx-sources-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const withConfig = async (logSources: unknown[]) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ logSources }));
    return runCli(['config', 'show'], { env: { RAXX_OPS_CONFIG: file } });
  };

  it('config show lists them with their defaults filled in', async () => {
    const r = await withConfig([{ name: 'auth', required: true }, { name: 'batch', layout: 'dated', bucket: 'raxx-batch-logs' }]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/log sources \(ship\)\s+auth \(required\): receiver, raxx-heroku-logs-prod, 2555 days; batch: dated, raxx-batch-logs, 2555 days/);
  });

  const bad: [string, unknown[], RegExp][] = [
    ['a name that cannot be a key folder', [{ name: 'Auth Logs' }], /logSources\.0\.name: not a valid source name/],
    ['the same name twice', [{ name: 'auth' }, { name: 'auth' }], /logSources: source names must be unique/],
    ['a pattern that is not a regular expression', [{ name: 'auth', redact: [{ name: 'x', pattern: '(' }] }], /logSources\.0\.redact\.0\.pattern: not a valid JavaScript regular expression/],
    ['an unknown layout', [{ name: 'auth', layout: 'hourly' }], /logSources\.0\.layout/],
    ['a mistyped field', [{ name: 'auth', requried: true }], /logSources\.0: .*requried/],
  ];
  for (const [name, sources, message] of bad) {
    it(`${name}: exit 3 naming the field`, async () => {
      const r = await withConfig(sources);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/hint:/);
    });
  }
});

describe.skipIf(!motoAvailable)('shipped sources (moto)', () => {
  const moto = useMoto();
  const proxy = useS3FaultProxy(() => moto.endpoint);
  const slack = useSlack();
  const { aws } = moto;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    await createSourceBuckets(aws, [BUCKET, DATED_BUCKET]);
    dir = await mkdtemp(join(tmpdir(), 'raxx-sources-'));
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        logSources: [
          { name: 'auth', required: true },
          { name: 'api', required: false },
          { name: 'batch', layout: 'dated', bucket: DATED_BUCKET, retentionDays: 400 },
        ],
      }),
    );
    env = { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint, RAXX_OPS_CONFIG: config, SLACK_WEBHOOK_URL: slack.url };

    // auth misses the 5th (required: critical); api misses the last two days (optional: warning); batch has all.
    const shipped: [string, string[]][] = [
      ['auth', WEEK.filter((d) => d !== '2025-06-05')],
      ['api', WEEK.slice(0, 5)],
      ['batch', WEEK],
    ];
    for (const [source, days] of shipped) {
      for (const [i, day] of days.entries()) {
        const lines = Array.from({ length: i + 1 }, (_, n) => `${source} ${day} line ${n}\n`);
        const r = await runCli(['logs', 'ship', source, '-', '--date', day], { env, now, stdin: Readable.from(lines) });
        if (r.code !== 0) throw new Error(r.stderr);
      }
    }
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const status = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(['logs', 'status', ...args], { env: { ...env, ...extra }, now });
  const bySource = (doc: { sources: SourceStatus[] }) => Object.fromEntries(doc.sources.map((s) => [s.source, s]));

  it('status: a required source missing a day is critical (exit 1), an optional one a warning', async () => {
    const r = await status(['--source', 'auth', '--source', 'api', '--source', 'batch', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/critical: auth \(missing 2025-06-05\)/);
    expect(r.stderr).toMatch(/hint: a required source missed a day/);
    const doc = r.json<{ health: string; apps: unknown[]; sources: SourceStatus[] }>();
    expect(doc.health).toBe('critical');
    expect(doc.apps).toEqual([]);
    const s = bySource(doc);
    expect(s.auth).toMatchObject({ required: true, health: 'critical', missing: ['2025-06-05'], entries: 1 + 2 + 3 + 4 + 5 + 6 });
    expect(s.auth!.days.map((d) => d.day)).toEqual(WEEK);
    expect(s.auth!.days[2]).toMatchObject({ day: '2025-06-05', objects: 0, entries: null, missing: true });
    expect(s.auth!.days[0]!.bytes).toBeGreaterThan(0);
    expect(s.api).toMatchObject({ required: false, health: 'warning', missing: ['2025-06-08', '2025-06-09'], entries: 15 });
    expect(s.batch).toMatchObject({ health: 'healthy', missing: [], layout: 'dated', bucket: DATED_BUCKET, entries: 28 });
    expect(slack.messages).toEqual([]);
  });

  it('status without --app or --source covers every declared source, as a table', async () => {
    const r = await status(['--app', 'raxx-api-prod', '--source', 'auth', '--source', 'api', '--source', 'batch']);
    expect(r.stdout).toMatch(/SOURCE\s+REQUIRED\s+DAYS\s+ENTRIES\s+BYTES\s+MISSING\s+HEALTH/);
    expect(r.stdout).toMatch(/auth\s+yes\s+2025-06-03\.\.2025-06-09\s+21\s+.*2025-06-05\s+critical/);
    expect(r.stdout).toMatch(/api\s+no\s+.*2025-06-08, 2025-06-09\s+warning/);
    const all = await status(['--json']);
    expect(all.json<{ sources: SourceStatus[] }>().sources.map((s) => s.source)).toEqual(['auth', 'api', 'batch']);
  });

  it('--notify posts one summary on warning or critical, none when healthy', async () => {
    const warning = await status(['--source', 'api', '--source', 'batch', '--notify']);
    expect(warning.code).toBe(0);
    expect(slack.messages).toHaveLength(1);
    expect(slack.messages[0]!.text).toBe('raxx-ops logs status (--env prod): warning\n• source api: warning, missing 2025-06-08, 2025-06-09');

    const critical = await status(['--source', 'auth', '--notify', '--json']);
    expect(critical.code).toBe(1);
    expect(slack.messages).toHaveLength(2);
    expect(slack.messages[1]!.text).toMatch(/critical\n• source auth \(required\): critical, missing 2025-06-05/);

    const healthy = await status(['--source', 'batch', '--notify']);
    expect(healthy.code).toBe(0);
    expect(slack.messages).toHaveLength(2);
    expect(healthy.stderr + healthy.stdout + critical.stderr + critical.stdout).not.toContain('slacksecrettoken123');
  });

  it('--notify without SLACK_WEBHOOK_URL is a configuration error (exit 3) before any work', async () => {
    const r = await status(['--source', 'api', '--notify'], { SLACK_WEBHOOK_URL: undefined });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--notify needs SLACK_WEBHOOK_URL/);
    expect(r.stderr).toMatch(/hint:/);
    expect(proxy.seen).toEqual([]);
  });

  it('sources test: every bucket reachable, the four permissions granted, nothing written', async () => {
    const before = await keys(BUCKET);
    const r = await runCli(['logs', 'sources', 'test', '--json'], { env, now });
    expect(r.code).toBe(0);
    const doc = r.json<{ sources: { source: string; reachable: boolean; permissions: { permission: string; ok: boolean }[] }[] }>();
    expect(doc.sources.map((s) => s.source)).toEqual(['auth', 'api', 'batch']);
    for (const s of doc.sources) {
      expect(s.reachable).toBe(true);
      expect(s.permissions.map((p) => [p.permission, p.ok])).toEqual([
        ['s3:ListBucket', true],
        ['s3:GetObject', true],
        ['s3:PutObject', true],
        ['s3:AbortMultipartUpload', true],
      ]);
    }
    expect(await keys(BUCKET)).toEqual(before);
    expect(await versionCount(BUCKET)).toBe(before.length);
  });

  it('sources test: a denied permission and a missing bucket fail the check (exit 1)', async () => {
    proxy.setFaults([{ method: 'PUT', times: 100, status: 403 }]);
    const denied = await runCli(['logs', 'sources', 'test', 'auth'], { env, now });
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/s3:PutObject\s+denied \(AccessDenied\)/);
    expect(denied.stdout).toMatch(/s3:ListBucket\s+allowed/);
    expect(denied.stderr).toMatch(/error: auth: s3:PutObject/);
    expect(denied.stderr).toMatch(/hint: create the bucket or grant/);

    const cfg = join(dir, 'missing.json');
    await writeFile(cfg, JSON.stringify({ logSources: [{ name: 'ghost', bucket: 'raxx-no-such-bucket' }] }));
    const missing = await runCli(['logs', 'sources', 'test'], { env: { ...env, RAXX_OPS_CONFIG: cfg }, now });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/ghost\s+s3:\/\/raxx-no-such-bucket\/logs\/ghost\/\s+bucket raxx-no-such-bucket does not exist/);
  });

  it('sources setup: the plan under --dry-run, confirmation, 2,555-day rules per source, other rules kept, idempotent', async () => {
    const s3 = await aws.s3();
    const { PutBucketLifecycleConfigurationCommand, GetBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: BUCKET,
        LifecycleConfiguration: { Rules: [{ ID: 'drain-logs', Status: 'Enabled', Filter: { Prefix: 'logs/raxx-api-prod/' }, Expiration: { Days: 90 } }] },
      }),
    );
    const rules = async (bucket: string) => {
      try {
        return (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];
      } catch {
        return [];
      }
    };

    const dry = await runCli(['logs', 'sources', 'setup', '--dry-run'], { env, now });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/add rule raxx-ops-source-auth on s3:\/\/raxx-heroku-logs-prod: logs\/auth\/ expires after 2555 days/);
    expect(dry.stderr).toMatch(/add rule raxx-ops-source-batch on s3:\/\/raxx-batch-logs-test: batch\/ expires after 400 days/);
    expect(dry.stderr).toMatch(/dry run: nothing changed/);
    expect((await rules(BUCKET)).map((r) => r.ID)).toEqual(['drain-logs']);

    const unconfirmed = await runCli(['logs', 'sources', 'setup'], { env, now });
    expect(unconfirmed.code).toBe(5);
    expect((await rules(BUCKET)).map((r) => r.ID)).toEqual(['drain-logs']);

    const applied = await runCli(['logs', 'sources', 'setup', '--yes', '--json'], { env, now });
    expect(applied.code).toBe(0);
    const doc = applied.json<{ sources: { source: string; lifecycle: { action: string; applied: boolean } }[] }>();
    expect(doc.sources.map((s) => [s.source, s.lifecycle.action, s.lifecycle.applied])).toEqual([
      ['auth', 'add', true],
      ['api', 'add', true],
      ['batch', 'add', true],
    ]);
    const stored = await rules(BUCKET);
    expect(stored.map((r) => r.ID).sort()).toEqual(['drain-logs', 'raxx-ops-source-api', 'raxx-ops-source-auth']);
    expect(stored.find((r) => r.ID === 'drain-logs')).toMatchObject({ Expiration: { Days: 90 } });
    expect(stored.find((r) => r.ID === 'raxx-ops-source-auth')).toMatchObject({
      Filter: { Prefix: 'logs/auth/' },
      Expiration: { Days: 2555 },
      NoncurrentVersionExpiration: { NoncurrentDays: 2555 },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
    });
    expect((await rules(DATED_BUCKET))[0]).toMatchObject({ ID: 'raxx-ops-source-batch', Filter: { Prefix: 'batch/' }, Expiration: { Days: 400 } });

    // Again: nothing to change, so nothing to confirm.
    const again = await runCli(['logs', 'sources', 'setup', 'auth'], { env, now });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/lifecycle already in place/);
    expect(again.stdout).toMatch(/lifecycle\s+raxx-ops-source-auth, 2555 days: in place/);
  });

  it('sources setup: a broader rule that expires sooner is reported (S3 applies the earliest expiration)', async () => {
    const s3 = await aws.s3();
    const { PutBucketLifecycleConfigurationCommand, GetBucketLifecycleConfigurationCommand } = await import('@aws-sdk/client-s3');
    const current = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))).Rules ?? [];
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: BUCKET,
        LifecycleConfiguration: { Rules: [...current, { ID: 'drain-all', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 400 } }] },
      }),
    );
    const r = await runCli(['logs', 'sources', 'setup', '--yes'], { env, now });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/auth .*\n(.*\n)*\s+cut short by rule drain-all: logs\/ expires after 400 days/);
    expect(r.stderr).toMatch(/error: auth: rule drain-all expires logs\/ after 400 days, so auth would be kept 400 days, not 2555; api: rule drain-all/);
    expect(r.stderr).not.toMatch(/batch:/);
    expect(r.stderr).toMatch(/hint: S3 applies the earliest expiration/);
  });

  async function keys(bucket: string): Promise<string[]> {
    const s3 = await aws.s3();
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    return ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();
  }

  async function versionCount(bucket: string): Promise<number> {
    const s3 = await aws.s3();
    const { ListObjectVersionsCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    return (res.Versions ?? []).length + (res.DeleteMarkers ?? []).length;
  }
});
