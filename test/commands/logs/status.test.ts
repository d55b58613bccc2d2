// logs status: crafted timelines in moto, the clock pinned with runCli's `now`.
import { beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { startHerokuApi } from '../../support/heroku-api.js';
import { assess, type AppStatus } from '../../../src/lib/logs/health.js';
import { batch, createDrainBucket, put, type Stored } from './fixtures.js';

const MIN = 60_000;
const D1 = Date.parse('2025-06-01T00:00:00Z');
const D2 = Date.parse('2025-06-02T00:00:00Z');
const NOW = D2 + 3 * 60 * MIN; // 03:00 on day 2
const now = () => new Date(NOW);

/** Objects every `step` minutes from `from` up to (not including) `to`. */
function every(app: string, from: number, to: number, step: number): Stored[] {
  const out: Stored[] = [];
  for (let t = from; t < to; t += step * MIN) out.push(batch(app, t, [`tick ${t}`]));
  return out;
}

const timelines = {
  // Every 10 minutes through yesterday and today, the newest 4 minutes old.
  healthy: (app: string) => every(app, D1 + 2 * MIN, NOW - 3 * MIN, 10),
  // Like healthy, but nothing between 01:00 and 01:25 today: 00:52 → 01:32 is a 40-minute silence.
  warning: (app: string) => every(app, D1 + 2 * MIN, NOW - 3 * MIN, 10).filter((o) => o.time < D2 + 60 * MIN || o.time >= D2 + 85 * MIN),
  // Fine until 23:30 yesterday, silent since: 3.5 h, critical on both days.
  silent: (app: string) => every(app, D1 + 2 * MIN, D2 - 30 * MIN, 10),
  // Nothing yesterday (a missing day), objects again from 00:01 today.
  missing: (app: string) => every(app, D2 + 1 * MIN, NOW - 2 * MIN, 10),
};
const APPS = { healthy: 'raxx-ok-prod', warning: 'raxx-gap-prod', silent: 'raxx-quiet-prod', missing: 'raxx-late-prod' } as const;

describe.skipIf(!motoAvailable)('logs status (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;
  const all: Stored[] = [];

  beforeAll(async () => {
    env = moto.env;
    await createDrainBucket(aws);
    for (const [kind, app] of Object.entries(APPS)) all.push(...timelines[kind as keyof typeof timelines](app));
    await put(aws, all, 32);
  });

  const status = (args: string[]) => runCli(['logs', 'status', ...Object.values(APPS).flatMap((a) => ['--app', a]), '--json', ...args], { env, now });
  const byApp = (doc: { apps: AppStatus[] }) => Object.fromEntries(doc.apps.map((a) => [a.app, a]));

  it('classifies each timeline by its health now; an app critical now → exit 1', async () => {
    const r = await status([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/critical: raxx-quiet-prod\n/);
    const doc = r.json<{ apps: AppStatus[]; health: string }>();
    expect(doc.health).toBe('critical');
    const s = byApp(doc);

    const ok = s[APPS.healthy]!;
    expect(ok.health).toBe('healthy');
    expect(ok.days.map((d) => d.day)).toEqual(['2025-06-01', '2025-06-02']);
    expect(ok.days[0]!.objects).toBe(all.filter((o) => o.app === APPS.healthy && o.time < D2).length);
    expect(ok.days[0]!.bytes).toBe(all.filter((o) => o.app === APPS.healthy && o.time < D2).reduce((n, o) => n + o.body.length, 0));
    expect(ok.days[0]!.first).toBe('2025-06-01T00:02:00.000Z');
    expect(ok.days[1]!.partial).toBe(true);
    expect(ok.minutesSinceNewest).toBe(8);
    expect(ok.days[1]!.minutesSinceNewest).toBe(8);
    expect(ok.days[0]!.minutesSinceNewest).toBeNull();

    // Recovered: today's 40-minute gap is over, so the app is healthy now, the gap listed;
    // the day keeps its warning as the record.
    const gap = s[APPS.warning]!;
    expect(gap.health).toBe('healthy');
    expect(gap.gaps).toEqual([{ minutes: 40, from: '2025-06-02T00:52:00.000Z', to: '2025-06-02T01:32:00.000Z', ongoing: false }]);
    expect(gap.reasons.join()).toMatch(/recovered; earlier: silent 40 min from 2025-06-02 00:52/);
    expect(gap.days[0]!.health).toBe('healthy');
    expect(gap.days[1]!.health).toBe('warning');
    expect(gap.days[1]!.longestSilence).toMatchObject({ minutes: 40, from: '2025-06-02T00:52:00.000Z', to: '2025-06-02T01:32:00.000Z', ongoing: false });

    const quiet = s[APPS.silent]!;
    expect(quiet.health).toBe('critical');
    expect(quiet.reasons).toEqual(['silent 3 h 38 min (ongoing)']);
    expect(quiet.days.map((d) => d.health)).toEqual(['critical', 'critical']);
    expect(quiet.days[1]!.longestSilence).toMatchObject({ minutes: 218, ongoing: true });
    expect(quiet.minutesSinceNewest).toBe(218);

    // Newly wired: its first object ever is today at 00:01. Yesterday is not a missing day and
    // the minute before the first object is no silence.
    const late = s[APPS.missing]!;
    expect(late.health).toBe('healthy');
    expect(late.firstObject).toBe('2025-06-02T00:01:00.000Z');
    expect(late.gaps).toEqual([]);
    expect(late.days[0]).toMatchObject({ day: '2025-06-01', objects: 0, health: 'healthy' });
    expect(late.days[0]!.reasons.join()).toMatch(/before the app's first object \(2025-06-02T00:01:00.000Z\): newly wired/);
    expect(late.days[1]!.health).toBe('healthy');
    expect(late.days[1]!.longestSilence!.minutes).toBeLessThan(15);
    expect(late.days[1]!.minutesSinceNewest).toBeLessThan(15);
  });

  it('thresholds from flags: a tighter warning level turns healthy into warning', async () => {
    // The newest object is 8 minutes old: a silence still going.
    const r = await runCli(['logs', 'status', '--app', APPS.healthy, '--warn-silent-minutes', '7', '--json'], { env, now });
    expect(r.code).toBe(0);
    expect(r.json<{ apps: AppStatus[] }>().apps[0]!.health).toBe('warning');
    const relaxed = await runCli(['logs', 'status', '--app', APPS.silent, '--critical-silent-minutes', '300', '--json'], { env, now });
    expect(relaxed.code).toBe(0);
    expect(relaxed.json<{ apps: AppStatus[] }>().apps[0]!.health).toBe('warning');
  });

  it('--days 1 looks at today only; a table without --json', async () => {
    const r = await runCli(['logs', 'status', '--app', APPS.missing, '--app', APPS.healthy, '--days', '1'], { env, now });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^APP\s+DAY\s+OBJECTS/);
    expect(r.stdout).toMatch(/raxx-late-prod\s+2025-06-02\*\s+\d+\s/);
    expect(r.stdout).not.toContain('2025-06-01');
    expect(r.stdout).toMatch(/healthy/);
    // Under the table, each app's health now.
    expect(r.stdout).toMatch(/^now {2}raxx-late-prod {2}healthy$/m);
    expect(r.stdout).toMatch(/^now {2}raxx-ok-prod {2}healthy$/m);
  });

  it('an app without any object whose drain was created today is newly wired: a warning, exit 0', async () => {
    const heroku = await startHerokuApi({ token: 'heroku-api-token-status-0a1b2c3d4e5f', apps: ['raxx-new-prod'] });
    try {
      heroku.addDrain('raxx-new-prod', 'https://receiver.example.com/?token=drain-token-status-9f8e7d6c5b4a&app=raxx-new-prod');
      // The stand-in stamps the drain with the real clock, so this run uses it too.
      const r = await runCli(['logs', 'status', '--app', 'raxx-new-prod', '--json'], { env: { ...env, HEROKU_API_KEY: heroku.token, HEROKU_API_URL: heroku.url } });
      expect(r.code, r.stderr).toBe(0);
      const app = r.json<{ apps: AppStatus[] }>().apps[0]!;
      expect(app.health).toBe('warning');
      expect(app.firstObject).toBeNull();
      expect(app.reasons.join()).toMatch(/^newly wired at \d{4}-\d\d-\d\dT.*; no object yet$/);
      expect(app.days.map((d) => d.health)).toEqual(['healthy', 'warning']);
      expect(app.days[0]!.reasons.join()).toMatch(/before its drain was created/);
      expect(r.stdout).not.toContain('drain-token-status-9f8e7d6c5b4a');
    } finally {
      await heroku.stop();
    }
  });

  it('an app without any object: every past day missing, today silent since midnight', async () => {
    const r = await runCli(['logs', 'status', '--app', 'raxx-nope-prod', '--days', '3', '--json'], { env, now });
    expect(r.code).toBe(1);
    const app = r.json<{ apps: AppStatus[] }>().apps[0]!;
    expect(app.days.map((d) => d.health)).toEqual(['critical', 'critical', 'critical']);
    expect(app.newest).toBeNull();
    expect(app.days[2]!.longestSilence!.minutes).toBe(3 * 24 * 60 - 21 * 60);
  });
});

describe('status health rules (no S3)', () => {
  const obj = (time: number) => ({ app: 'a', key: `k${time}`, time, size: 1 });
  const opts = { warn: 15, critical: 120 };

  it('a silence across midnight counts in full on both days', () => {
    const s = assess('a', [
      { day: D1, objects: Array.from({ length: 138 }, (_, i) => obj(D1 + i * 10 * MIN)) },
      { day: D2, objects: [obj(D2 + 80 * MIN), obj(D2 + 170 * MIN)] },
    ], { now: NOW, ...opts });
    expect(s.days[0]!.longestSilence!.minutes).toBe(150);
    expect(s.days[0]!.health).toBe('critical');
    expect(s.days[1]!.longestSilence!.minutes).toBe(150);
  });

  it('today just after midnight with yesterday busy until the end is healthy', () => {
    const objects = Array.from({ length: 144 }, (_, i) => obj(D1 + i * 10 * MIN));
    const s = assess('a', [{ day: D1, objects }, { day: D2, objects: [] }], { now: D2 + 5 * MIN, ...opts });
    expect(s.days[1]).toMatchObject({ objects: 0, health: 'healthy', partial: true });
    expect(s.health).toBe('healthy');
  });

  it('the longest silence is the widest gap, not the last of the same whole minutes', () => {
    const s = assess('a', [{ day: D2, objects: [obj(D2), obj(D2 + 10.8 * MIN), obj(D2 + 21 * MIN), obj(D2 + 22 * MIN)] }], { now: D2 + 22 * MIN, ...opts });
    expect(s.days[0]!.longestSilence).toMatchObject({ minutes: 10, from: '2025-06-02T00:00:00.000Z', to: '2025-06-02T00:10:48.000Z' });
  });

  it('recovered after a missing day: healthy now, the day stays critical, the gap listed', () => {
    // Objects until 20:00 on day 1 of three, nothing on day 2, again from 01:00 on day 3.
    const D0 = D1 - 24 * 60 * MIN;
    const s = assess('a', [
      { day: D0, objects: Array.from({ length: 120 }, (_, i) => obj(D0 + i * 10 * MIN)) },
      { day: D1, objects: [] },
      { day: D2, objects: [obj(D2 + 60 * MIN), obj(D2 + 170 * MIN)] },
    ], { now: NOW, ...opts, firstObject: D0 - 5 * 24 * 60 * MIN });
    expect(s.health).toBe('healthy');
    expect(s.days.map((d) => d.health)).toEqual(['critical', 'critical', 'critical']);
    expect(s.days[1]!.reasons.join()).toMatch(/missing day/);
    expect(s.gaps).toEqual([{ minutes: 29 * 60 + 10, from: '2025-05-31T19:50:00.000Z', to: '2025-06-02T01:00:00.000Z', ongoing: false }, { minutes: 110, from: '2025-06-02T01:00:00.000Z', to: '2025-06-02T02:50:00.000Z', ongoing: false }]);
  });

  it('a newly wired app is not critical for the hours before its first object', () => {
    // Its first object ever at 02:30 today: the two and a half hours before are no silence.
    const s = assess('a', [{ day: D1, objects: [] }, { day: D2, objects: [obj(D2 + 150 * MIN), obj(D2 + 165 * MIN), obj(D2 + 175 * MIN)] }], { now: NOW, ...opts, firstObject: D2 + 150 * MIN });
    expect(s.health).toBe('healthy');
    expect(s.days.map((d) => d.health)).toEqual(['healthy', 'healthy']);
    expect(s.days[1]!.longestSilence!.minutes).toBe(15);
    // Without knowing its first object, the same timeline reads as an outage.
    const unknown = assess('a', [{ day: D1, objects: [] }, { day: D2, objects: [obj(D2 + 150 * MIN), obj(D2 + 165 * MIN), obj(D2 + 175 * MIN)] }], { now: NOW, ...opts });
    expect(unknown.days.map((d) => d.health)).toEqual(['critical', 'critical']);
    expect(unknown.health).toBe('healthy');
  });

  it('exactly at the threshold is not yet a warning (strictly longer than)', () => {
    const s = assess('a', [{ day: D2, objects: [obj(D2), obj(D2 + 15 * MIN)] }], { now: D2 + 30 * MIN, ...opts });
    expect(s.health).toBe('healthy');
  });
});
