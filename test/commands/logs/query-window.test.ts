// `logs query --since/--until` reads the objects whose key time can hold a line of the window
// (the window, plus the receiver's acceptance lead before it), not the whole day: counted as
// GETs through a proxy in front of moto. A batch that starts before the window and runs into
// it still gives its lines in the window.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { buildObjectKey } from '@raxx/log-format/object-key';
import { frame } from '@raxx/log-format/logplex';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js';
import { runCli } from '../../support/run-cli.js';
import { KEY_LEAD_MS, mayHoldLines } from '../../../src/lib/logs/query/window-records.js';
import { createDrainBucket, objectId, put, syslog, type Stored } from './fixtures.js';

const API = 'raxx-api-prod';
const MIN = 60_000;
const DAY = Date.parse('2025-06-03T00:00:00Z');
const NOW = DAY + 12 * 60 * MIN;
const now = () => new Date(NOW);

/** A batch keyed at `key` whose lines are at the given times. */
function batchAt(key: number, times: number[]): Stored & { times: number[] } {
  const body = gzipSync(Buffer.from(frame(times.map((t) => syslog(t, `line at ${new Date(t).toISOString()}`)))));
  return { app: API, key: buildObjectKey({ app: API, epochMs: key, id: objectId() }), time: key, body, times };
}

describe.skipIf(!motoAvailable)('logs query: objects by key time (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  let proxy: FaultProxy;
  const objects: (Stored & { times: number[] })[] = [];
  const gets = () => proxy.seen.filter((s) => s.startsWith('GET ') && !s.includes('list-type=')).map((s) => s.slice(4));

  beforeAll(async () => {
    await createDrainBucket(aws);
    proxy = await startFaultProxy(moto.endpoint);
    // Twelve hours of the day, a batch every two minutes, a few seconds of lines each.
    for (let t = DAY; t < NOW; t += 2 * MIN) objects.push(batchAt(t, [t, t + 1_000, t + 2_000]));
    // A batch that began 10 minutes before the window and ran on into it (Logplex buffered).
    objects.push(batchAt(NOW - 40 * MIN, [NOW - 40 * MIN, NOW - 29 * MIN, NOW - 28 * MIN]));
    // Yesterday, late: the lead reaches there only for windows near midnight.
    objects.push(batchAt(DAY - 30 * MIN, [DAY - 30 * MIN, DAY + 1_000]));
    await put(aws, objects);
  });

  afterAll(async () => {
    await proxy?.close();
  });

  const query = (since: string, until?: string) =>
    runCli(['logs', 'query', 'SELECT count(*) AS n FROM logs', '--app', API, '--since', since, ...(until ? ['--until', until] : []), '--format', 'csv'], { env: { ...moto.env, AWS_ENDPOINT_URL: proxy.endpoint }, now });

  it.each([
    ['30m', undefined, NOW - 30 * MIN, NOW],
    ['2025-06-03T06:00:00Z', '2025-06-03T06:10:00Z', DAY + 6 * 60 * MIN, DAY + 6 * 60 * MIN + 10 * MIN],
    ['2025-06-03T00:00:00Z', '2025-06-03T00:05:00Z', DAY, DAY + 5 * MIN],
  ])('--since %s --until %s: the window\'s lines, from the objects that can hold them', async (since, until, start, end) => {
    proxy.setFaults([]);
    const r = await query(since, until);
    expect(r.code, r.stderr).toBe(0);
    const lines = objects.flatMap((o) => o.times).filter((t) => t >= start && t < end).length;
    expect(r.stdout).toBe(`n\n${lines}\n`);
    // Every object read has a key time in [start − lead, end); none of the rest of the day.
    const read = gets().filter((p) => /\/logs\/raxx-api-prod\//.test(p));
    const expected = objects.filter((o) => o.time >= start - KEY_LEAD_MS && o.time < end).map((o) => o.key);
    expect(read.map((p) => decodeURIComponent(p.replace(/^\/raxx-heroku-logs-prod\//, ''))).sort()).toEqual(expected.sort());
    expect(read.length).toBeLessThan(objects.length / 4);
    expect(r.stderr).toMatch(new RegExp(`${expected.length} raw object\\(s\\) read`));
  });

  it('objects before the window are read only when S3 wrote them late enough to hold a line of it', () => {
    const w = { start: NOW - 30 * MIN, end: NOW };
    expect(mayHoldLines({ time: w.start + MIN }, w)).toBe(true);
    expect(mayHoldLines({ time: w.end }, w)).toBe(false);
    // Written a minute after its first line, long before the window: cannot hold a line of it.
    expect(mayHoldLines({ time: w.start - 40 * MIN, modified: w.start - 39 * MIN }, w)).toBe(false);
    // Written just before the window opened: a dyno clock up to five minutes ahead puts lines in it.
    expect(mayHoldLines({ time: w.start - 40 * MIN, modified: w.start - 4 * MIN }, w)).toBe(true);
    expect(mayHoldLines({ time: w.start - 40 * MIN }, w)).toBe(true);
    expect(mayHoldLines({ time: w.start - KEY_LEAD_MS - 1, modified: w.end }, w)).toBe(false);
  });

});
