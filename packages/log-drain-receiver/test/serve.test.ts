// The receiver over HTTP (startReceiverServer) into moto's S3: what Logplex would see, and
// what operators then find in the bucket.
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { motoAvailable } from '../../../test/support/moto.js';
import { useMoto } from '../../../test/support/fixtures.js';
import { freePort } from '../../../test/support/stand-in.js';
import type { DrainTokens, HandlerDeps } from '../src/handler.js';
import { startReceiverServer, type FunctionUrlRequestEvent, type ReceiverServer } from '../src/serve.js';
import { dynoLine, PREVIOUS_TOKEN, TOKEN } from './helpers.js';
import { s3At, useServedReceiver } from './served.js';

const BUCKET = 'raxx-heroku-logs-prod';
const FRAME_ID = '7E0F3A9C51B24D68A0C1E2F3B4D5A6C7';
const T0 = '2025-06-02T14:03:07.512034+00:00';
const T0_MS = Date.UTC(2025, 5, 2, 14, 3, 7, 512);

function batch(lines = 3): string {
  let body = dynoLine(T0, 'at=info method=GET path="/healthz" status=200', { appName: 'heroku', procid: 'router', pri: 158 });
  for (let i = 1; i < lines; i++) body += dynoLine(`2025-06-02T14:03:07.${600 + i}000+00:00`, `line ${i} of the batch ☃`, { procid: `web.${1 + (i % 3)}` });
  return body;
}

function post(server: ReceiverServer, body: string | Buffer, opts: { query?: string; headers?: Record<string, string>; method?: string } = {}): Promise<Response> {
  const query = opts.query ?? `app=raxx-api-prod&token=${TOKEN}`;
  return fetch(`${server.url}/${query === '' ? '' : `?${query}`}`, {
    method: opts.method ?? 'POST',
    headers: { 'content-type': 'application/logplex-1', 'user-agent': 'Logplex/v134', ...opts.headers },
    ...(opts.method === 'GET' ? {} : { body }),
  });
}

const logplexHeaders = (body: string, frameId = FRAME_ID, count?: number) => ({
  'logplex-msg-count': String(count ?? body.split('\n').length - 1),
  'logplex-frame-id': frameId,
  'logplex-drain-token': 'd.fc6b856b-3332-4546-93de-7d0ee272c3bd',
});

describe('the HTTP adapter', () => {
  let server: ReceiverServer;
  const seen: FunctionUrlRequestEvent[] = [];
  beforeAll(async () => {
    server = await startReceiverServer({
      maxEventBytes: 64 * 1024,
      handler: (event) => {
        seen.push(event as FunctionUrlRequestEvent);
        return Promise.resolve({ statusCode: 202, headers: { 'x-seen': 'yes' }, body: 'ok' });
      },
    });
  });
  afterAll(() => server.close());

  it('builds the Function URL event Lambda would', async () => {
    const res = await post(server, 'frame ☃', { query: 'app=raxx-api-prod&token=a%2Bb&x=1&x=2', headers: { 'X-Custom': 'v', Cookie: 'a=1; b=2' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-seen')).toBe('yes');
    expect(await res.text()).toBe('ok');
    const ev = seen.at(-1)!;
    expect(ev).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/',
      rawQueryString: 'app=raxx-api-prod&token=a%2Bb&x=1&x=2',
      queryStringParameters: { app: 'raxx-api-prod', token: 'a+b', x: '1,2' },
      cookies: ['a=1', 'b=2'],
      isBase64Encoded: true,
      requestContext: { http: { method: 'POST', path: '/', sourceIp: '127.0.0.1', userAgent: 'Logplex/v134' }, routeKey: '$default', stage: '$default' },
    });
    expect(Buffer.from(ev.body!, 'base64').toString()).toBe('frame ☃');
    expect(ev.headers['x-custom']).toBe('v');
    expect(ev.headers.cookie).toBeUndefined();
    expect(ev.headers['content-type']).toBe('application/logplex-1');
    expect(ev.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ev.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('leaves out the body of an empty request, as Lambda does', async () => {
    await post(server, '', { query: '' });
    const ev = seen.at(-1)!;
    expect(ev.body).toBeUndefined();
    expect(ev.isBase64Encoded).toBe(false);
    expect(ev.queryStringParameters).toBeUndefined();
  });

  it('answers 413 past the payload limit without calling the handler', async () => {
    const before = seen.length;
    const res = await post(server, Buffer.alloc(64 * 1024 + 1, 0x61));
    expect(res.status).toBe(413);
    expect(seen.length).toBe(before);
  });

  it('listens on loopback and reports its URL', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe.skipIf(!motoAvailable)('over HTTP into S3 (moto)', () => {
  const moto = useMoto({ reset: 'each' });
  let tokens: DrainTokens;
  const { s3, server, log } = useServedReceiver(moto, BUCKET, (rig) => deps({ s3: rig.s3, log: rig.log.sink }));
  const extra: ReceiverServer[] = [];

  /** The receiver's clock: a minute after the batches' first frame unless a test moves it. */
  let receivedAt = T0_MS + 60_000;
  const deps = (over: Partial<HandlerDeps> = {}): HandlerDeps => ({ s3, bucket: BUCKET, tokens: () => tokens, log: log.sink, now: () => receivedAt, ...over });
  const keys = async (): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key!);
  const getObject = async (key: string) => {
    const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { res, body: gunzipSync(await res.Body!.transformToByteArray()) };
  };
  const noSecretsLogged = () => {
    const text = log.lines.join('\n');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(PREVIOUS_TOKEN);
    expect(text).not.toContain('token=');
  };

  beforeEach(() => {
    tokens = { current: TOKEN };
    receivedAt = T0_MS + 60_000;
  });
  afterEach(async () => {
    noSecretsLogged();
    await Promise.all(extra.splice(0).map((s) => s.close()));
  });

  it('stores a valid batch: 200, one object at the Frame-Id key that gunzips to the exact body', async () => {
    const body = batch(5);
    const res = await post(server, body, { headers: logplexHeaders(body) });
    expect(res.status).toBe(200);
    const key = `logs/raxx-api-prod/2025/06/02/${T0_MS}-${FRAME_ID}.gz`;
    expect(await keys()).toEqual([key]);
    const { res: obj, body: stored } = await getObject(key);
    expect(stored.toString('utf8')).toBe(body);
    expect(obj.ContentType).toBe('application/gzip');
    expect(obj.ContentEncoding).toBeUndefined();
    expect(obj.Metadata).toMatchObject({ 'parse-status': 'ok', 'msg-count': '5', 'parsed-count': '5', 'frame-id': FRAME_ID, 'app-source': 'query' });
    expect(log.last()).toMatchObject({ outcome: 'stored', status: 200, app: 'raxx-api-prod', key, bytes: Buffer.byteLength(body), messages: 5 });
  });

  it('stores a ~100 KB batch (Logplex\'s target size) byte for byte', async () => {
    const body = batch(800);
    expect(Buffer.byteLength(body)).toBeGreaterThan(50_000);
    expect((await post(server, body, { headers: logplexHeaders(body) })).status).toBe(200);
    const [key] = await keys();
    expect((await getObject(key!)).body.toString('utf8')).toBe(body);
  });

  it('answers a wrong or missing token 403, writes nothing, and logs no secret', async () => {
    const body = batch();
    expect((await post(server, body, { query: 'app=raxx-api-prod&token=not-the-token', headers: logplexHeaders(body) })).status).toBe(403);
    expect((await post(server, body, { query: 'app=raxx-api-prod', headers: logplexHeaders(body) })).status).toBe(403);
    expect((await post(server, body, { query: 'app=raxx-api-prod', headers: { ...logplexHeaders(body), authorization: 'Bearer not-the-token' } })).status).toBe(403);
    expect(await keys()).toEqual([]);
    expect(log.entries().map((e) => e.msg)).toEqual(['drain auth failed: token_present=true', 'drain auth failed: token_present=false', 'drain auth failed: token_present=true']);
    expect(log.lines.join('\n')).not.toContain('not-the-token');
  });

  it('stores a batch retried with one Frame-Id once, and answers every attempt 200', async () => {
    const body = batch();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(server, body, { headers: logplexHeaders(body) })).status);
    expect(statuses).toEqual([200, 200, 200]);
    expect(await keys()).toHaveLength(1);
    expect(log.entries().map((e) => e.outcome)).toEqual(['stored', 'duplicate', 'duplicate']);
  });

  it('accepts the current and the previous token, read again on every request', async () => {
    tokens = { current: PREVIOUS_TOKEN, previous: TOKEN };
    const a = batch();
    expect((await post(server, a, { query: `app=raxx-api-prod&token=${TOKEN}`, headers: logplexHeaders(a, 'A'.repeat(32)) })).status).toBe(200);
    expect((await post(server, a, { query: `app=raxx-api-prod&token=${PREVIOUS_TOKEN}`, headers: logplexHeaders(a, 'B'.repeat(32)) })).status).toBe(200);
    tokens = { current: PREVIOUS_TOKEN };
    expect((await post(server, a, { query: `app=raxx-api-prod&token=${TOKEN}`, headers: logplexHeaders(a, 'C'.repeat(32)) })).status).toBe(403);
    expect(await keys()).toHaveLength(2);
  });

  it('takes the token from Basic auth (drain URL userinfo) and Bearer', async () => {
    const a = batch();
    const basic = `Basic ${Buffer.from(`drain:${TOKEN}`).toString('base64')}`;
    expect((await post(server, a, { query: 'app=raxx-console-prod', headers: { ...logplexHeaders(a, 'D'.repeat(32)), authorization: basic } })).status).toBe(200);
    expect((await post(server, a, { query: 'app=raxx-console-prod', headers: { ...logplexHeaders(a, 'E'.repeat(32)), authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await keys()).every((k) => k.startsWith('logs/raxx-console-prod/2025/06/02/'))).toBe(true);
    expect(log.lines.join('\n')).not.toContain(basic.slice(6));
  });

  it('stores a count mismatch and a garbage body with 200, flagged', async () => {
    const body = batch(3);
    expect((await post(server, body, { headers: logplexHeaders(body, 'F'.repeat(32), 7) })).status).toBe(200);
    const garbage = Buffer.from('\x00\xffnot logplex at all\r\n{"json": true}');
    expect((await post(server, garbage, { headers: logplexHeaders('x\n', '0'.repeat(32)) })).status).toBe(200);
    const found = await keys();
    expect(found).toHaveLength(2);
    const meta = await Promise.all(found.map(async (k) => (await getObject(k)).res.Metadata));
    expect(meta.map((m) => m?.['parse-status']).sort()).toEqual(['count-mismatch', 'malformed']);
    const garbageKey = found.find((k) => k.includes('0'.repeat(32)))!;
    expect((await getObject(garbageKey)).body.equals(garbage)).toBe(true);
  });

  it('answers 500 and logs "drain write failed" when the bucket is missing', async () => {
    const missing = await startReceiverServer({ handlerDeps: deps({ bucket: 'raxx-no-such-bucket' }) });
    extra.push(missing);
    const body = batch();
    expect((await post(missing, body, { headers: logplexHeaders(body) })).status).toBe(500);
    expect(log.last()).toMatchObject({ level: 'error', outcome: 'write-failed', msg: 'drain write failed: NoSuchBucket' });
  });

  it('answers 500 and logs "drain write failed" when S3 is down', async () => {
    const down = await startReceiverServer({ handlerDeps: deps({ s3: s3At(`http://127.0.0.1:${await freePort()}`, 1) }) });
    extra.push(down);
    const body = batch();
    expect((await post(down, body, { headers: logplexHeaders(body) })).status).toBe(500);
    expect(log.last()).toMatchObject({ level: 'error', outcome: 'write-failed', msg: 'drain write failed: ECONNREFUSED' });
    expect(await keys()).toEqual([]);
  });

  it('answers anything but POST 405', async () => {
    const res = await post(server, '', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});
