import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainTarget, frameMessages, logplexTimestamp, sendBatch, startStream, syslogMessage, type LogplexMessage } from './logplex-sender.js';
import { freePort } from './stand-in.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A drain endpoint whose answer the test decides per request. */
async function startDrain(answer: (req: Received, n: number) => number | 'hang' | 'reset') {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const a = answer(r, received.length);
      if (a === 'hang') return;
      if (a === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(a, { 'Content-Length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Splits an octet-counted body back into messages, checking every count on the way. */
function unframe(body: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    const len = Number(body.subarray(i, sp).toString('ascii'));
    expect(Number.isInteger(len) && len > 0).toBe(true);
    out.push(body.subarray(sp + 1, sp + 1 + len).toString('utf8'));
    i = sp + 1 + len;
  }
  expect(i).toBe(body.length);
  return out;
}

const T = new Date('2026-05-14T09:30:01.234Z');
const MSGS: LogplexMessage[] = [
  { time: T, procid: 'web.1', text: 'GET /health 200' },
  { time: T, appName: 'heroku', procid: 'router', text: 'at=info method=GET path="/" status=200' },
  { time: '2026-05-14T09:30:02+00:00', procid: 'postgres.4242', text: '[DATABASE] LOG:  statement: INSERT INTO t VALUES (\'é✓\')' },
];

describe('Logplex framing', () => {
  it('matches the byte counts of the Logplex README example (newline inside the count)', () => {
    const msg: LogplexMessage = { time: '2012-07-22T00:06:26+00:00', appName: 'erlang', procid: 'console', text: 'Hi from erlang', pri: 174 };
    const body = frameMessages(Array.from({ length: 10 }, () => msg));
    expect(body.startsWith('70 <174>1 2012-07-22T00:06:26+00:00 host erlang console - Hi from erlang\n70 ')).toBe(true);
    expect(Buffer.byteLength(body)).toBe(730);
    expect(frameMessages([{ time: '2012-11-30T06:45:29+00:00', procid: 'web.3', pri: 40, text: 'State changed from starting to up' }])).toBe(
      '83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n',
    );
  });

  it('counts bytes, not characters, and writes HOST `host`, MSGID `-`, no structured data', () => {
    const body = Buffer.from(frameMessages(MSGS));
    const msgs = unframe(body);
    expect(msgs).toEqual(MSGS.map(syslogMessage));
    expect(msgs[0]).toBe('<190>1 2026-05-14T09:30:01.234000+00:00 host app web.1 - GET /health 200\n');
    expect(msgs[1]).toMatch(/^<158>1 \S+ host heroku router - at=info/);
    expect(msgs[2]).toContain("'é✓'");
    expect(logplexTimestamp(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02T03:04:05.006000+00:00');
  });

  it('turns URL userinfo into a Basic header and keeps the query string', () => {
    const t = drainTarget('https://user:p%40ss@drain.example.com:8443/logs?token=abc&app=raxx-api-prod#frag');
    expect(t.url.href).toBe('https://drain.example.com:8443/logs?token=abc&app=raxx-api-prod');
    expect(t.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    expect(drainTarget('https://drain.example.com/logs').authorization).toBeUndefined();
  });
});

describe('sendBatch', () => {
  let drain: Awaited<ReturnType<typeof startDrain>>;
  let statuses: (number | 'hang' | 'reset')[];

  beforeEach(async () => {
    statuses = [];
    drain = await startDrain((_r, n) => statuses[n - 1] ?? 200);
  });
  afterEach(async () => {
    await drain.stop();
  });

  it('POSTs the Logplex headers and an octet-counted body', async () => {
    const url = `${drain.url.replace('http://', 'http://token:s3cret@')}/logs?app=raxx-api-prod&token=t1`;
    const r = await sendBatch(url, MSGS, { drainToken: 'd.73ea7440-270a-435a-a0ea-adf50b4e5f5a' });
    expect(r).toMatchObject({ outcome: 'delivered', status: 200, attempts: 1 });
    expect(r.frameId).toMatch(/^[0-9A-F]{32}$/);

    const [req] = drain.received;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/logs?app=raxx-api-prod&token=t1');
    expect(req?.headers).toMatchObject({
      'content-type': 'application/logplex-1',
      'logplex-msg-count': '3',
      'logplex-frame-id': r.frameId,
      'logplex-drain-token': 'd.73ea7440-270a-435a-a0ea-adf50b4e5f5a',
      'user-agent': 'Logplex/v72',
      authorization: `Basic ${Buffer.from('token:s3cret').toString('base64')}`,
      'content-length': String(req?.body.length),
    });
    expect(unframe(req!.body)).toHaveLength(3);
  });

  it('sends no Frame-Id or Drain-Token when told to (Private Space sources)', async () => {
    const r = await sendBatch(drain.url, MSGS, { frameId: null });
    expect(r.outcome).toBe('delivered');
    expect(drain.received[0]?.headers['logplex-frame-id']).toBeUndefined();
    expect(drain.received[0]?.headers['logplex-drain-token']).toBeUndefined();
    expect(drain.received[0]?.headers.authorization).toBeUndefined();
  });

  it('retries a 503 and a 429 with the same Frame-Id', async () => {
    statuses = [503, 429, 200];
    const r = await sendBatch(drain.url, MSGS, { frameId: '09C557EAFCFB6CF2740EE62F62971098' });
    expect(r).toMatchObject({ outcome: 'delivered', status: 200, attempts: 3 });
    expect(r.history).toEqual([{ status: 503 }, { status: 429 }, { status: 200 }]);
    expect(drain.received.map((q) => q.headers['logplex-frame-id'])).toEqual(Array(3).fill('09C557EAFCFB6CF2740EE62F62971098'));
    expect(new Set(drain.received.map((q) => q.body.toString())).size).toBe(1);
  });

  it('drops a batch answered 403 at once (no retry)', async () => {
    statuses = [403, 200];
    const r = await sendBatch(drain.url, MSGS);
    expect(r).toMatchObject({ outcome: 'dropped', status: 403, attempts: 1 });
    expect(drain.received).toHaveLength(1);
  });

  it('gives up after the retries: 1 + 2 attempts by default', async () => {
    statuses = [500, 502, 503, 200];
    const r = await sendBatch(drain.url, MSGS);
    expect(r).toMatchObject({ outcome: 'failed', status: 503, attempts: 3 });
    expect(drain.received).toHaveLength(3);
  });

  it('retries after a request timeout and after a reset connection', async () => {
    statuses = ['hang', 'reset', 204];
    const r = await sendBatch(drain.url, MSGS, { requestTimeoutMs: 300 });
    expect(r.outcome).toBe('delivered');
    expect(r.history[0]).toEqual({ error: 'request timeout' });
    expect(r.history[1]?.error).toMatch(/ECONNRESET|socket hang up/);
    expect(r.history[2]).toEqual({ status: 204 });
  });

  it('fails after retries when nothing listens', async () => {
    const port = await freePort();
    const r = await sendBatch(`http://127.0.0.1:${port}/logs`, MSGS, { retries: 1, retryDelayMs: 1 });
    expect(r).toMatchObject({ outcome: 'failed', attempts: 2, error: 'ECONNREFUSED' });
    expect(r.status).toBeUndefined();
  });

  it('can send a raw body with any message count', async () => {
    await sendBatch(drain.url, [], { rawBody: 'not octet counted\n', msgCount: 5 });
    expect(drain.received[0]?.body.toString()).toBe('not octet counted\n');
    expect(drain.received[0]?.headers['logplex-msg-count']).toBe('5');
  });
});

describe('startStream', () => {
  it('keeps sending to the current URL and records every batch', async () => {
    const tokens = new Set(['old']);
    const drain = await startDrain((r) => (tokens.has(new URL(r.url, 'http://x').searchParams.get('token') ?? '') ? 200 : 403));
    let token = 'old';
    const stream = startStream(() => `${drain.url}/logs?token=${token}`, { intervalMs: 5, linesPerBatch: 4 });
    await stream.until((rs) => rs.length >= 2, 'two batches on the old token');
    // Rotation done right: accept the new token before using it, drop the old one after.
    tokens.add('new');
    token = 'new';
    await stream.sentSince(Date.now(), 2);
    tokens.delete('old');
    await stream.sentSince(Date.now(), 2);
    await stream.stop();
    const settled = stream.results.length;
    // Nothing is sent after stop(): a window in which a batch would have gone (interval 5 ms).
    await new Promise((r) => setTimeout(r, 30));
    expect(stream.results.length).toBe(settled);

    expect(stream.results.length).toBeGreaterThan(3);
    expect(stream.results.every((b) => b.outcome === 'delivered')).toBe(true);
    expect(stream.results.map((b) => b.batch)).toEqual(stream.results.map((_, i) => i));
    expect(new Set(stream.results.map((b) => new URL(b.url).searchParams.get('token')))).toEqual(new Set(['old', 'new']));
    expect(unframe(drain.received[0]!.body)).toHaveLength(4);
    expect(stream.results[0]?.lines[3]).toBe('stream batch 0 line 3');

    // Had the old token been dropped first, the stream would show the 403 (dropped for good).
    token = 'old';
    const late = startStream(() => `${drain.url}/logs?token=${token}`, { intervalMs: 5, linesPerBatch: 1 });
    await late.until((rs) => rs.length >= 1, 'the first batch');
    await late.stop();
    expect(late.results[0]).toMatchObject({ outcome: 'dropped', status: 403, attempts: 1 });
    await drain.stop();
  });
});
