// The lean GET's wire against moto behind a proxy that plays S3's part: a clock an hour off
// (corrected from S3's Date, as the SDK does; a clock that keeps moving is blamed on the
// clock, not on permissions), an IPv6 endpoint (Host bracketed, signed as sent), and a 301
// naming the bucket's region.
import { beforeAll, describe, expect, it } from 'vitest';
import { motoAvailable } from '../support/moto.js';
import { useMoto } from '../support/fixtures.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { runCli } from '../support/run-cli.js';
import { batch, createDrainBucket, put } from '../commands/logs/fixtures.js';

const API = 'raxx-api-prod';
const DAY = '2025-06-02';
const T = Date.parse(`${DAY}T10:00:00Z`);
const HOUR = 3_600_000;
const now = () => new Date('2025-06-03T12:00:00Z');
const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`);

describe.skipIf(!motoAvailable)('the lean GET on the wire (moto)', () => {
  const moto = useMoto();
  const { aws } = moto;
  const fetchDay = (endpoint: string, extra: string[] = []) => runCli(['logs', 'fetch', '--app', API, '--date', DAY, ...extra], { env: { ...moto.env, AWS_ENDPOINT_URL: endpoint }, now });

  beforeAll(async () => {
    await createDrainBucket(aws);
    await put(aws, Array.from({ length: 40 }, (_, i) => batch(API, T + i * 60_000, [lines[i]!])));
  });

  it.each([HOUR, -HOUR, 20 * 60_000])('S3 %i ms off this clock: corrected from its Date, every object read', async (offset) => {
    const proxy = await startFaultProxy(moto.endpoint, { clockOffsetMs: offset });
    try {
      const r = await fetchDay(proxy.endpoint);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => l.replace(/^.* - /, ''))).toEqual(lines);
      // Refused until the first answer taught the offset: at most what was in flight then.
      expect(proxy.skewed).toBeGreaterThan(0);
      expect(proxy.skewed).toBeLessThan(40);
    } finally {
      await proxy.close();
    }
  });

  it('a clock that stays wrong after the correction: the hint is about the clock, exit 4', async () => {
    let n = 0;
    // S3's clock moves an hour on every request: whatever offset an answer taught is an hour
    // stale by the next one, however many other requests (manifests, listings) come between.
    const proxy = await startFaultProxy(moto.endpoint, { clockOffsetMs: () => ++n * HOUR });
    try {
      const r = await fetchDay(proxy.endpoint);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/RequestTimeTooSkewed/);
      expect(r.stderr).toMatch(/hint: this computer's clock is \d+(\.\d)? (min|h) (behind|ahead of) AWS/);
      expect(r.stderr).not.toMatch(/lacks permission/);
    } finally {
      await proxy.close();
    }
  });

  it('an IPv6 endpoint: the Host header is bracketed, and the signed request is accepted', async () => {
    const proxy = await startFaultProxy(moto.endpoint, { host: '::1' });
    try {
      const r = await fetchDay(proxy.endpoint);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(40);
      const port = new URL(proxy.endpoint).port;
      expect(proxy.hosts.length).toBeGreaterThan(40);
      expect(new Set(proxy.hosts)).toEqual(new Set([`[::1]:${port}`]));
    } finally {
      await proxy.close();
    }
  });

  it('a 301 with x-amz-bucket-region names the region and the flag that fixes it', async () => {
    const proxy = await startFaultProxy(moto.endpoint);
    try {
      proxy.setFaults([{ method: 'GET', status: 301, times: 1000, headers: { 'x-amz-bucket-region': 'eu-west-1' } }]);
      const r = await fetchDay(proxy.endpoint);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/raxx-heroku-logs-prod is in eu-west-1, not us-east-1/);
      expect(r.stderr).toMatch(/hint: the bucket is in eu-west-1: pass --region eu-west-1/);
    } finally {
      await proxy.close();
    }
  });
});
