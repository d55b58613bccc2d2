// Where a batch is filed and how often, over HTTP into moto's S3: the day rule (frame time
// near receipt, else receipt and a clock-skew flag), retries of one Frame-Id landing once
// whatever Logplex prepends and however late they come (property-tested), the catch-all app
// name, the Function URL's size limit, and a log line with a reason for every non-2xx answer.
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../../test/support/moto.js';
import { useMoto } from '../../../test/support/fixtures.js';
import { FRAME_TIME_FUTURE_MS, FRAME_TIME_PAST_MS, LOGPLEX_RETRY_HORIZON_MS } from '../src/batch.js';
import { configFromEnv, ReceiverConfigError, type DrainTokens, type HandlerDeps } from '../src/handler.js';
import * as phrases from '@raxx/log-format/log-phrases';
import { parseObjectKey, utcDate } from '@raxx/log-format/object-key';
import { MAX_EVENT_BYTES, startReceiverServer } from '../src/serve.js';
import { dynoLine, PREVIOUS_TOKEN, TOKEN } from './helpers.js';
import { useServedReceiver } from './served.js';

const BUCKET = 'raxx-heroku-logs-prod';
const APP = 'raxx-api-prod';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const MIDNIGHT = Date.UTC(2025, 5, 3);
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');

/** An L10 notice as Logplex puts it in front of a batch: app heroku, proc logplex, no newline. */
function l10(at: number, dropped: number): string {
  const msg = `<172>1 ${iso(at)} host heroku logplex - Error L10 (output buffer overflow): ${dropped} messages dropped since ${iso(at - 20_000)}.`;
  return `${Buffer.byteLength(msg)} ${msg}`;
}

/** A batch whose first message is at `t` (`-` when undefined: no readable time). */
function batchAt(t: number | undefined, lines = 3): string {
  let body = '';
  for (let i = 0; i < lines; i++) {
    const ts = t === undefined ? '-' : iso(t + i * 7);
    const msg = `<190>1 ${ts} host app web.${1 + (i % 2)} - line ${i} ☃\n`;
    body += `${Buffer.byteLength(msg)} ${msg}`;
  }
  return body;
}

const frameCount = (body: string) => (body.match(/(?:^|\n|\.)\d+ </g) ?? []).length;

describe.skipIf(!motoAvailable)('keying over HTTP into S3 (moto)', () => {
  const moto = useMoto({ reset: 'each' });
  let tokens: DrainTokens;
  let receivedAt: number;
  const { s3, server, log } = useServedReceiver(moto, BUCKET, (rig) => deps({ s3: rig.s3, log: rig.log.sink }));

  const deps = (over: Partial<HandlerDeps> = {}): HandlerDeps => ({ s3, bucket: BUCKET, tokens: () => tokens, now: () => receivedAt, log: log.sink, ...over });
  const keys = async (prefix?: string): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      out.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return out;
  };
  const meta = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).Metadata ?? {};
  const post = (body: string | Buffer, opts: { frameId?: string; query?: string; count?: number; method?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}/?${opts.query ?? `app=${APP}&token=${TOKEN}`}`, {
      method: opts.method ?? 'POST',
      headers: {
        'content-type': 'application/logplex-1',
        'user-agent': 'Logplex/v134',
        ...(opts.frameId ? { 'logplex-frame-id': opts.frameId } : {}),
        ...(typeof body === 'string' ? { 'logplex-msg-count': String(opts.count ?? frameCount(body)) } : {}),
        ...opts.headers,
      },
      ...(opts.method === 'GET' ? {} : { body }),
    });

  beforeEach(() => {
    tokens = { current: TOKEN };
    receivedAt = MIDNIGHT + 14 * HOUR + 10 * MIN;
  });
  afterEach(() => {
    const text = log.lines.join('\n');
    for (const secret of [TOKEN, PREVIOUS_TOKEN, 'token=']) expect(text).not.toContain(secret);
  });

  describe('the day a batch is filed under', () => {
    const R = MIDNIGHT + 14 * HOUR + 10 * MIN; // received 2025-06-03 14:10
    const SLOT = MIDNIGHT + 14 * HOUR; // its quarter hour
    it.each([
      ['a frame a minute old', R, R - MIN, R - MIN, false],
      ['a frame 59 min old (Logplex buffering)', R, R - 59 * MIN, R - 59 * MIN, false],
      ['a frame 61 min old', R, R - 61 * MIN, SLOT, true],
      ['a frame 4 min ahead (a fast clock)', R, R + 4 * MIN, R + 4 * MIN, false],
      ['a frame 6 min ahead', R, R + 6 * MIN, SLOT, true],
      ['a frame dated tomorrow', R, R + DAY, SLOT, true],
      ['a frame dated 2200', R, Date.UTC(2200, 5, 1), SLOT, true],
      ['a frame dated 2001', R, Date.UTC(2001, 0, 1), SLOT, true],
      ['23:30 received at 00:10: the previous day, as its frame says', MIDNIGHT + 10 * MIN, MIDNIGHT - 30 * MIN, MIDNIGHT - 30 * MIN, false],
      ['00:02 received at 23:58 (a clock 4 min fast): the next day', MIDNIGHT - 2 * MIN, MIDNIGHT + 2 * MIN, MIDNIGHT + 2 * MIN, false],
    ])('%s', async (_name, received, frameTime, keyTime, skew) => {
      receivedAt = received;
      const frameId = 'A'.repeat(31) + (skew ? 'B' : 'C');
      const res = await post(batchAt(frameTime), { frameId });
      expect(res.status).toBe(200);
      const [key, ...more] = await keys();
      expect(more).toEqual([]);
      expect(key).toBe(`logs/${APP}/${utcDate(keyTime).replaceAll('-', '/')}/${keyTime}-${frameId}${skew ? '.clock-skew' : ''}.gz`);
      const m = await meta(key!);
      const entry = log.last();
      if (skew) {
        // Filed on the day it was received, where status and grep look, and flagged.
        expect(utcDate(keyTime)).toBe(utcDate(received));
        expect(m).toMatchObject({ 'clock-skew': 'true', 'frame-time': new Date(frameTime).toISOString(), 'time-source': 'receipt' });
        expect(entry).toMatchObject({ level: 'warn', outcome: 'stored', status: 200, flags: ['clock-skew'] });
        expect(entry.msg.startsWith(phrases.DRAIN_CLOCK_SKEW)).toBe(true);
        expect(entry.msg).toContain(new Date(frameTime).toISOString());
      } else {
        expect(m['clock-skew']).toBeUndefined();
        expect(m['time-source']).toBe('message');
        expect(entry).toMatchObject({ level: 'info', msg: 'drain batch stored' });
      }
    });

    it('files a body with no readable time at its receipt slot, flagged malformed but not skewed', async () => {
      const res = await post(Buffer.from('\x00 not logplex\n'), { frameId: 'D'.repeat(32) });
      expect(res.status).toBe(200);
      expect(await keys()).toEqual([`logs/${APP}/2025/06/03/${SLOT}-${'D'.repeat(32)}.malformed.gz`]);
    });

    it('files a batch without a Frame-Id at its exact receipt time, as before', async () => {
      expect((await post(batchAt(Date.UTC(2200, 0, 1)))).status).toBe(200);
      const [key] = await keys();
      expect(parseObjectKey(key!)).toMatchObject({ app: APP, epochMs: R, flags: [] });
    });
  });

  describe('a retried Frame-Id lands once', () => {
    /** Sends attempts at the given receipt times, each with its own L10 prefix; returns the answers. */
    async function attempts(frameId: string, body: string, at: { receivedAt: number; l10?: number[]; countNotices?: boolean }[], app = APP): Promise<number[]> {
      const statuses: number[] = [];
      for (const a of at) {
        receivedAt = a.receivedAt;
        const prefix = (a.l10 ?? []).map((n, i) => l10(a.receivedAt - 1000 * (i + 1), n)).join('');
        const full = prefix + body;
        const count = a.countNotices === false ? frameCount(body) : frameCount(full);
        statuses.push((await post(full, { frameId, count, query: `app=${app}&token=${TOKEN}` })).status);
      }
      return statuses;
    }
    const withId = async (frameId: string, app = APP) => (await keys(`logs/${app}/`)).filter((k) => k.includes(frameId));

    it.each([
      ['an L10 notice in front of the retry', MIDNIGHT + 14 * HOUR, -MIN, [0, 5_000], [[], [27]]],
      ['a retry across midnight, frame time near it', MIDNIGHT - 3_000, -10_000, [0, 8_000], [[], [3]]],
      ['a skewed frame (2200) retried across midnight', MIDNIGHT - 2_000, Date.UTC(2200, 0, 1) - (MIDNIGHT - 2_000), [0, 4_000], [[1], [2, 7]]],
      ['no readable time, retried across a quarter hour', MIDNIGHT + 15 * MIN - 1_000, undefined, [0, 3_000, 4 * MIN], [[], [1], []]],
      ['a frame an hour old at the first attempt, older at the retry', MIDNIGHT + 14 * HOUR, -FRAME_TIME_PAST_MS + 2_000, [0, 5_000], [[], [4]]],
      ['a frame 5 min ahead at the first attempt, within the window at the retry', MIDNIGHT + 14 * HOUR, FRAME_TIME_FUTURE_MS + 2_000, [0, 5_000], [[9], []]],
      ['the last retry at the horizon', MIDNIGHT + 14 * HOUR, FRAME_TIME_FUTURE_MS + 1, [0, LOGPLEX_RETRY_HORIZON_MS], [[], [1]]],
    ] as const)('%s', async (_name, r1, frameOffset, delays, prefixes) => {
      const frameId = '5E'.repeat(16);
      const body = batchAt(frameOffset === undefined ? undefined : r1 + frameOffset);
      const statuses = await attempts(
        frameId,
        body,
        delays.map((d, i) => ({ receivedAt: r1 + d, l10: [...prefixes[i]!] })),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(await withId(frameId)).toHaveLength(1);
      expect(log.entries().map((e) => e.outcome)).toEqual(['stored', ...delays.slice(1).map(() => 'duplicate')]);
    });

    it('property: any batch, any L10 prefix, any retries within the horizon (across midnight too) → exactly one object', async () => {
      let run = 0;
      const edge = (center: number) => fc.integer({ min: center - LOGPLEX_RETRY_HORIZON_MS - 2_000, max: center + LOGPLEX_RETRY_HORIZON_MS + 2_000 });
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            // First receipt around a UTC midnight, or anywhere in a day.
            firstReceipt: fc.oneof(fc.integer({ min: MIDNIGHT - 20 * MIN, max: MIDNIGHT + 20 * MIN }), fc.integer({ min: MIDNIGHT, max: MIDNIGHT + DAY - 1 })),
            // The first message's time relative to the first receipt: anywhere, near the window's edges, or unreadable.
            frameOffset: fc.option(fc.oneof(fc.integer({ min: -3 * DAY, max: 3 * DAY }), edge(-FRAME_TIME_PAST_MS), edge(FRAME_TIME_FUTURE_MS), fc.integer({ min: -HOUR, max: 5 * MIN })), { nil: undefined }),
            lines: fc.integer({ min: 1, max: 6 }),
            // Receipt times of the retries after the first, within the horizon.
            retries: fc.array(fc.integer({ min: 0, max: LOGPLEX_RETRY_HORIZON_MS }), { minLength: 1, maxLength: 3 }).map((a) => a.sort((x, y) => x - y)),
            // L10 notices in front of each attempt (the first included), and whether the count includes them.
            prefixes: fc.array(fc.array(fc.integer({ min: 1, max: 99_999 }), { maxLength: 2 }), { minLength: 4, maxLength: 4 }),
            countNotices: fc.boolean(),
          }),
          async ({ firstReceipt, frameOffset, lines, retries, prefixes, countNotices }) => {
            log.lines.length = 0;
            // One app per run keeps each run's listing to its own objects.
            const app = `raxx-run-${++run}`;
            const frameId = run.toString(16).toUpperCase().padStart(32, 'F');
            const body = batchAt(frameOffset === undefined ? undefined : firstReceipt + frameOffset, lines);
            const at = [0, ...retries].map((d, i) => ({ receivedAt: firstReceipt + d, l10: prefixes[i]!, countNotices }));
            const statuses = await attempts(frameId, body, at, app);
            expect(statuses).toEqual(at.map(() => 200));
            const found = await withId(frameId, app);
            expect(found).toHaveLength(1);
            expect(log.entries().map((e) => e.outcome)).toEqual(['stored', ...retries.map(() => 'duplicate')]);
            // Filed on the first receipt's day, or by a frame time near it.
            const parsed = parseObjectKey(found[0]!)!;
            if (parsed.flags.includes('clock-skew') || frameOffset === undefined) expect(parsed.date).toBe(utcDate(firstReceipt));
            else expect(parsed.epochMs).toBe(firstReceipt + frameOffset);
          },
        ),
        { numRuns: 100 },
      );
    }, 120_000);
  });

  describe('the app folder', () => {
    it.each([
      ['?app=unknown (the catch-all is no app)', `app=unknown&token=${TOKEN}`, 'query-reserved'],
      ['an ?app= that is no app name', `app=..%2Fetc&token=${TOKEN}`, 'query-invalid'],
    ])('stores %s under unknown, answered 200 (a 4xx would make Logplex drop it), flagged and logged', async (_name, query, source) => {
      const res = await post(batchAt(receivedAt - MIN), { frameId: 'E'.repeat(32), query });
      expect(res.status).toBe(200);
      const [key, ...more] = await keys();
      expect(more).toEqual([]);
      expect(key).toMatch(/^logs\/unknown\/2025\/06\/03\//);
      expect(await meta(key!)).toMatchObject({ 'app-source': source });
      expect(log.last()).toMatchObject({ level: 'warn', outcome: 'stored', appSource: source });
      expect(log.last().msg.startsWith(phrases.DRAIN_APP_REFUSED)).toBe(true);
    });

    it('never takes a frame APP-NAME of unknown for an app', async () => {
      const body = dynoLine(iso(receivedAt - MIN), 'synthetic', { appName: 'unknown', procid: 'drain-test' });
      expect((await post(body, { frameId: 'F'.repeat(32), query: `token=${TOKEN}` })).status).toBe(200);
      const [key] = await keys();
      expect(key).toMatch(/^logs\/unknown\//);
      expect(await meta(key!)).toMatchObject({ 'app-source': 'none' });
    });
  });

  describe('every non-2xx answer is logged with its reason', () => {
    it.each([
      ['no token', 403, phrases.DRAIN_AUTH_FAILED, { query: `app=${APP}` }],
      ['a wrong token', 403, phrases.DRAIN_AUTH_FAILED, { query: `app=${APP}&token=nope-not-it` }],
      ['a GET', 405, phrases.DRAIN_REJECTED, { method: 'GET' }],
    ] as const)('%s: %i', async (_name, status, phrase, opts) => {
      const res = await post(batchAt(receivedAt), opts);
      expect(res.status).toBe(status);
      const entry = log.last();
      expect(entry).toMatchObject({ status, level: 'warn' });
      expect(entry.msg.startsWith(`${phrase}: `)).toBe(true);
      expect(log.lines.join('\n')).not.toContain('nope-not-it');
      expect(await keys()).toEqual([]);
    });

    it('a missing bucket: 500, drain write failed', async () => {
      const missing = await startReceiverServer({ handlerDeps: deps({ bucket: 'raxx-no-such-bucket' }) });
      try {
        const res = await fetch(`${missing.url}/?app=${APP}&token=${TOKEN}`, { method: 'POST', body: batchAt(receivedAt), headers: { 'logplex-frame-id': '1'.repeat(32) } });
        expect(res.status).toBe(500);
        expect(log.last()).toMatchObject({ status: 500, level: 'error', msg: `${phrases.DRAIN_WRITE_FAILED}: NoSuchBucket` });
      } finally {
        await missing.close();
      }
    });

    it('a handler that throws: 500, drain internal error', async () => {
      const broken = await startReceiverServer({
        log: log.sink,
        handler: () => Promise.reject(new TypeError(`boom ${TOKEN}`)),
      });
      try {
        const res = await fetch(`${broken.url}/?token=${TOKEN}`, { method: 'POST', body: 'x' });
        expect(res.status).toBe(500);
        expect(log.last()).toMatchObject({ status: 500, level: 'error', msg: `${phrases.DRAIN_INTERNAL_ERROR}: TypeError` });
      } finally {
        await broken.close();
      }
    });
  });

  describe("the Function URL's size limit", () => {
    // 6 MB counted on the event, where the body is base64: 4,700,000 raw bytes make an event
    // of about 6,267,400 bytes (accepted), 4,720,000 one of about 6,294,100 (refused).
    const filler = (bytes: number): Buffer => {
      const line = dynoLine(iso(receivedAt - MIN), 'x'.repeat(180));
      return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
    };

    it('is 6 MB of event payload', () => {
      expect(MAX_EVENT_BYTES).toBe(6 * 1024 * 1024);
    });

    it('stores a 4.7 MB body (its event is under 6 MB)', async () => {
      const res = await post(filler(4_700_000), { frameId: '2'.repeat(32) });
      expect(res.status).toBe(200);
      expect(await keys()).toHaveLength(1);
      const obj = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: (await keys())[0]! }));
      expect(gunzipSync(await obj.Body!.transformToByteArray()).length).toBe(4_700_000);
    });

    it.each([
      ['4.72 MB (base64 over 6 MB)', 4_720_000],
      ['6 MiB (what the old local limit let through)', 6 * 1024 * 1024],
    ])('refuses %s with 413, as Lambda would, and logs it', async (_name, bytes) => {
      const res = await post(filler(bytes), { frameId: '3'.repeat(32) });
      expect(res.status).toBe(413);
      expect(await keys()).toEqual([]);
      const entry = log.last();
      expect(entry).toMatchObject({ status: 413, outcome: 'too-large', level: 'warn' });
      expect(entry.msg.startsWith(`${phrases.DRAIN_TOO_LARGE}: `)).toBe(true);
    });

    it('refuses a chunked body (no Content-Length) once its base64 passes the limit', async () => {
      const big = filler(4_800_000);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < big.length; i += 256 * 1024) c.enqueue(big.subarray(i, i + 256 * 1024));
          c.close();
        },
      });
      const res = await fetch(`${server.url}/?app=${APP}&token=${TOKEN}`, { method: 'POST', body: stream, duplex: 'half' });
      expect(res.status).toBe(413);
      expect(log.last()).toMatchObject({ status: 413, outcome: 'too-large' });
    });
  });
});

describe('configuration refuses what would put keys elsewhere', () => {
  const base = { BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN };
  it.each([
    ['../../', 'must not contain "." or ".." folders'],
    ['logs/../x/', 'must not contain "." or ".." folders'],
    ['./logs/', 'must not contain "." or ".." folders'],
    ['/logs/', 'must not start with "/"'],
    ['logs//x/', 'must not contain an empty folder'],
    ['logs\\x/', 'must not contain a backslash'],
    ['logs/\u0000/', 'must not contain control characters'],
    ['logs/\n/', 'must not contain control characters'],
  ])('KEY_PREFIX=%j', (prefix, problem) => {
    let err: unknown;
    try {
      configFromEnv({ ...base, KEY_PREFIX: prefix });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReceiverConfigError);
    expect((err as ReceiverConfigError).problems.join('\n')).toContain(`KEY_PREFIX ${problem}`);
  });

  it.each(['logs/', 'logs', 'archive/heroku/', ''])('accepts KEY_PREFIX=%j', (prefix) => {
    expect(() => configFromEnv({ ...base, KEY_PREFIX: prefix })).not.toThrow();
  });

  it('refuses unknown in ALLOWED_APPS', () => {
    expect(() => configFromEnv({ ...base, ALLOWED_APPS: 'raxx-api-prod,unknown' })).toThrow(/ALLOWED_APPS must not name "unknown"/);
  });

  it('exports its log phrases', () => {
    expect(phrases.DRAIN_LOG_PHRASES).toEqual(expect.arrayContaining(['drain auth failed', 'drain write failed', 'drain clock skew', 'drain misconfigured', 'drain batch too large']));
  });
});
