// The whole path: Logplex batches POSTed to the receiver's HTTP server (the Lambda handler
// behind node:http) land in moto, and `logs grep` / `logs status` read them back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiverServer, type ReceiverServer } from '@raxx/log-drain-receiver/serve';
import { frame } from '@raxx/log-format/logplex';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli } from '../../support/run-cli.js';
import { createDrainBucket, BUCKET, syslog } from './fixtures.js';

const TOKEN = 'd.4b7a51f2-3c1e-4d59-9a8e-0f6c2d1b7e93';
const APP = 'raxx-api-prod';
const T0 = Date.parse('2025-06-02T09:00:00Z');

describe.skipIf(!motoAvailable)('logs over objects the receiver wrote (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let receiver: ReceiverServer;
  const sent: string[][] = [];
  // The receiver's clock: batches arrive 10 s after their first line (a skewed one would be
  // filed by its receipt time instead).
  let receivedAt = T0;

  beforeAll(async () => {
    await createDrainBucket(aws);
    receiver = await startReceiverServer({ handlerDeps: { s3: await aws.s3(), bucket: BUCKET, tokens: () => ({ current: TOKEN }), log: () => undefined, now: () => receivedAt } });
    for (let b = 0; b < 6; b++) {
      receivedAt = T0 + b * 5 * 60_000 + 10_000;
      const lines = Array.from({ length: 4 }, (_, i) => syslog(T0 + b * 5 * 60_000 + i * 1000, `batch ${b} line ${i}${i === 2 ? ' status=503' : ''}`, { source: 'heroku', dyno: 'router' }));
      sent.push(lines.map((l) => l.trimEnd()));
      const res = await fetch(`${receiver.url}/?app=${APP}&token=${TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': '4', 'logplex-frame-id': `${String(b).padStart(2, '0')}${'a'.repeat(30)}` },
        body: frame(lines),
      });
      expect(res.status).toBe(200);
    }
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it('grep finds the lines the drain delivered, in the order they were sent', async () => {
    const r = await runCli(['logs', 'grep', 'status=503', '--app', APP, '--date', '2025-06-02', '--json'], { env: moto.env, now: () => new Date(T0 + 60 * 60_000) });
    expect(r.code).toBe(0);
    const records = r.records<{ message: string; source: string; dyno: string; timestamp: string; key: string; line: string }>();
    expect(records.map((x) => x.message)).toEqual(sent.map((_, b) => `batch ${b} line 2 status=503`));
    expect(records[0]).toMatchObject({ source: 'heroku', dyno: 'router', timestamp: '2025-06-02T09:00:02+00:00' });
    // The receiver keys a batch by its first message's time.
    expect(records[0]!.key).toContain(`/2025/06/02/${T0}-`);
    // The line as Heroku shows it: the stored octet count is not part of it.
    expect(records[0]!.line).toMatch(/^<190>1 2025-06-02T09:00:02\+00:00 host heroku router - batch 0 line 2 status=503$/);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it('fetch prints every delivered line; status sees the objects', async () => {
    const now = () => new Date(T0 + 30 * 60_000);
    const f = await runCli(['logs', 'fetch', '--app', APP, '--since', '1h'], { env: moto.env, now });
    expect(f.code).toBe(0);
    expect(f.stdout.trimEnd().split('\n')).toEqual(sent.flat());
    const s = await runCli(['logs', 'status', '--app', APP, '--days', '1', '--json'], { env: moto.env, now });
    expect(s.code).toBe(0);
    const day = s.json<{ apps: { days: { objects: number; health: string; minutesSinceNewest: number }[] }[] }>().apps[0]!.days[0]!;
    // 09:00 to 09:25, now 09:30; 00:00 to 09:00 is before the app's first object ever (a newly
    // wired app), not a silence.
    expect(day.objects).toBe(6);
    expect(day.minutesSinceNewest).toBe(5);
    expect(day.health).toBe('healthy');
    expect(f.stdout + f.stderr + s.stdout + s.stderr).not.toContain(TOKEN);
  });

  it('status counts the batches the receiver flagged (clock skew, malformed, count mismatch) from the listing', async () => {
    const post = (body: string, frameId: string, count: string) =>
      fetch(`${receiver.url}/?app=${APP}&token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/logplex-1', 'logplex-msg-count': count, 'logplex-frame-id': frameId }, body });
    receivedAt = T0 + 27 * 60_000;
    // A dyno clock in 2200: filed on the receipt day, flagged.
    expect((await post(frame([syslog(Date.UTC(2200, 0, 1), 'from the future')]), `${'c'.repeat(30)}01`, '1')).status).toBe(200);
    expect((await post(frame([syslog(T0 + 26 * 60_000, 'one line')]), `${'c'.repeat(30)}02`, '3')).status).toBe(200);
    expect((await post('garbage, not logplex\n', `${'c'.repeat(30)}03`, '1')).status).toBe(200);
    const s = await runCli(['logs', 'status', '--app', APP, '--days', '1', '--json'], { env: moto.env, now: () => new Date(T0 + 30 * 60_000) });
    const day = s.json<{ apps: { days: { objects: number; flagged: Record<string, number>; reasons: string[] }[] }[] }>().apps[0]!.days[0]!;
    expect(day.objects).toBe(9);
    expect(day.flagged).toEqual({ 'clock-skew': 1, 'count-mismatch': 1, malformed: 1 });
    expect(day.reasons).toEqual(expect.arrayContaining(['1 batch flagged clock-skew', '1 batch flagged malformed', '1 batch flagged count-mismatch']));
    const table = await runCli(['logs', 'status', '--app', APP, '--days', '1'], { env: moto.env, now: () => new Date(T0 + 30 * 60_000) });
    expect(table.stdout).toContain('1 batch flagged clock-skew');
  });
});
