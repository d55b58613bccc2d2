// Bad input to the logs commands: a clear message, a hint, the right exit code, no stdout.
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tempDir } from '../../support/temp.js';
import { join } from 'node:path';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { batch, createDrainBucket, put } from './fixtures.js';

const now = () => new Date('2025-06-02T12:00:00Z');

describe('logs: bad input without S3 (exit 2)', () => {
  const cases: { name: string; argv: string[]; stderr: RegExp }[] = [
    { name: 'bad date', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--date', '2025-13-01'], stderr: /--date: "2025-13-01" is not a date/ },
    { name: 'bad regex', argv: ['logs', 'grep', 'status=(5', '--app', 'raxx-api-prod'], stderr: /<pattern>: not a valid pattern/ },
    { name: 'a backreference (not linear-time)', argv: ['logs', 'grep', '(a)\\1', '--app', 'raxx-api-prod'], stderr: /<pattern>: not a valid pattern[\s\S]*hint: backreferences and lookaround are not supported/ },
    { name: 'lookahead', argv: ['logs', 'grep', 'a(?=b)', '--app', 'raxx-api-prod'], stderr: /hint: backreferences and lookaround are not supported/ },
    // Windows nobody meant: no crash, no overflow, no listing of hundreds of thousands of days.
    { name: '--since with an absurd count', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--since', '99999999h'], stderr: /--since: "99999999h" is not a time/ },
    { name: '--since past the retention', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--since', '9999999h'], stderr: /reaches outside the 400 days the drain bucket keeps/ },
    { name: '--since 401d', argv: ['logs', 'fetch', '--app', 'raxx-api-prod', '--since', '401d'], stderr: /reaches outside the 400 days/ },
    { name: 'a date before the retention', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--date', '2020-01-01'], stderr: /reaches outside the 400 days/ },
    { name: 'an ISO time far in the future', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--until', '9999-12-31T00:00:00Z'], stderr: /reaches outside the 400 days/ },
    { name: 'a date far in the future', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--date', '2200-06-01'], stderr: /reaches outside the 400 days/ },
    { name: '--since after --until', argv: ['logs', 'fetch', '--app', 'raxx-api-prod', '--since', '2025-06-02T10:00:00Z', '--until', '2025-06-02T09:00:00Z'], stderr: /--since .* is not before --until/ },
    { name: 'bad --since', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--since', 'soon'], stderr: /--since: "soon" is not a time/ },
    { name: 'grep without --app', argv: ['logs', 'grep', 'x'], stderr: /--app: is required/ },
    { name: 'fetch without --app', argv: ['logs', 'fetch'], stderr: /--app: is required/ },
    { name: 'invalid app name', argv: ['logs', 'grep', 'x', '--app', 'Raxx_API'], stderr: /--app: not a valid Heroku app name/ },
    { name: 'concurrency out of range', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '--concurrency', '1000'], stderr: /--concurrency: at most 512/ },
    { name: 'max-count not a number', argv: ['logs', 'grep', 'x', '--app', 'raxx-api-prod', '-m', 'lots'], stderr: /--max-count: / },
    { name: 'status thresholds upside down', argv: ['logs', 'status', '--warn-silent-minutes', '60', '--critical-silent-minutes', '30'], stderr: /critical threshold \(30 min\) must be above the warning threshold/ },
    { name: 'athena-setup: a day that does not exist', argv: ['logs', 'athena-setup', '--first-day', '2025-02-30', '--dry-run'], stderr: /--first-day: "2025-02-30" is not a date/ },
    { name: 'athena-setup: 9999-99-99', argv: ['logs', 'athena-setup', '--first-day', '9999-99-99', '--dry-run'], stderr: /--first-day: "9999-99-99" is not a date/ },
    { name: 'athena-setup: a first day after today (an empty projection)', argv: ['logs', 'athena-setup', '--first-day', '2025-06-03', '--dry-run'], stderr: /--first-day 2025-06-03 is after today \(2025-06-02\)/ },
    { name: 'status days zero', argv: ['logs', 'status', '--days', '0'], stderr: /--days: must be at least 1/ },
  ];
  for (const c of cases) {
    it(`${c.name} → 2`, async () => {
      const r = await runCli(c.argv, { now, env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' } });
      expect(r.stderr).toMatch(c.stderr);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/hint:/);
      expect(r.stdout).toBe('');
    });
  }
});

describe.skipIf(!motoAvailable)('logs: bad input against moto', () => {
  const moto = useMoto();
  const { aws } = moto;

  beforeAll(async () => {
    await createDrainBucket(aws);
    await put(aws, [batch('raxx-api-prod', Date.parse('2025-06-02T08:00:00Z'), ['hello'])]);
  });

  it('an app with no objects at all (a misspelt name): bad input, exit 2, as in drains list', async () => {
    const r = await runCli(['logs', 'grep', 'hello', '--app', 'raxx-api-prd', '--date', '2025-06-02'], { env: moto.env, now });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no log objects at all for raxx-api-prd in bucket/);
    expect(r.stderr).toMatch(/hint: check the name \(apps of --env prod: raxx-api-prod/);
    expect(r.stdout).toBe('');
  });

  it('a known app with a quiet window: a check result, exit 1', async () => {
    const r = await runCli(['logs', 'grep', 'hello', '--app', 'raxx-api-prod', '--date', '2025-01-02'], { env: moto.env, now });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no log objects for raxx-api-prod in 2025-01-02T00:00:00Z → 2025-01-03T00:00:00Z/);
    expect(r.stderr).toMatch(/hint: .*logs status --app raxx-api-prod/);
    expect(r.stdout).toBe('');
  });

  it('a missing bucket → 3 (the configuration names it), naming the bucket', async () => {
    const dir = tempDir('raxx-ops-cfg-');
    const cfg = join(dir, 'raxx-ops.json');
    await writeFile(cfg, JSON.stringify({ drain: { bucket: 'raxx-no-such-bucket' } }));
    for (const argv of [
      ['logs', 'grep', 'x', '--app', 'raxx-api-prod'],
      ['logs', 'fetch', '--app', 'raxx-api-prod'],
      ['logs', 'status', '--app', 'raxx-api-prod'],
    ]) {
      const r = await runCli(['--config', cfg, ...argv], { env: moto.env, now });
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/bucket raxx-no-such-bucket does not exist/);
      expect(r.stderr).toMatch(/hint: .*drain\.bucket/);
      expect(r.stdout).toBe('');
    }
  });

  it('S3 unreachable → 4 with a hint about the endpoint', async () => {
    const r = await runCli(['logs', 'grep', 'x', '--app', 'raxx-api-prod'], { env: { ...moto.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }, now });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot reach S3 at http:\/\/127\.0\.0\.1:9/);
  });
});
