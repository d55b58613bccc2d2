// The handler in-process on the fixture events, S3 mocked: status codes, the object written
// (key, body, metadata, conditional write) and the log line of every outcome.
import { gunzipSync } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHandler, handlerFromEnv, type DrainTokens, type HandlerDeps } from '../src/handler.js';
import { errorCode } from '../src/store.js';
import { captureLog, dynoLine, eventBody, loadEvent, PREVIOUS_TOKEN, TOKEN, withBody, type EventJson } from './helpers.js';

const s3Mock = mockClient(S3Client);
const NOW = Date.UTC(2025, 5, 2, 14, 10, 0, 42);
const RANDOM_ID = '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c';

let log: ReturnType<typeof captureLog>;
let tokens: DrainTokens;

function handler(over: Partial<HandlerDeps> = {}) {
  return createHandler({ ...baseDeps(), ...over });
}

const puts = (): PutObjectCommandInput[] => s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
const onlyPut = (): PutObjectCommandInput => {
  const all = puts();
  expect(all).toHaveLength(1);
  return all[0]!;
};
const stored = (input: PutObjectCommandInput): Buffer => gunzipSync(input.Body as Buffer);

function expectNoSecretsLogged(...secrets: string[]) {
  const text = log.lines.join('\n');
  for (const s of [TOKEN, PREVIOUS_TOKEN, ...secrets]) expect(text).not.toContain(s);
  expect(text).not.toContain('token=');
}

beforeEach(() => {
  s3Mock.reset();
  s3Mock.on(PutObjectCommand).resolves({ ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  s3Mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'NotFound', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'Not Found' }));
  log = captureLog();
  tokens = { current: TOKEN };
});
afterEach(() => expectNoSecretsLogged());

describe('a Logplex batch (fixture events)', () => {
  it('stores the body gzipped, at the Frame-Id key, written only if new', async () => {
    const ev = loadEvent('logplex-batch');
    const res = await handler()(ev);
    expect(res.statusCode).toBe(200);
    const put = onlyPut();
    // First message: the router line at 14:03:07.512034.
    expect(put.Key).toBe(`logs/raxx-api-prod/2025/06/02/${Date.UTC(2025, 5, 2, 14, 3, 7, 512)}-09C557EAFCFB6CF2740EE62F62971098.gz`);
    expect(put.Bucket).toBe('raxx-heroku-logs-prod');
    expect(put.IfNoneMatch).toBe('*');
    expect(put.ContentType).toBe('application/gzip');
    expect(put.ContentEncoding).toBeUndefined();
    expect(stored(put).equals(eventBody(ev))).toBe(true);
    expect(put.Metadata).toEqual({
      'parse-status': 'ok',
      'parsed-count': '4',
      'msg-count': '4',
      'frame-id': '09C557EAFCFB6CF2740EE62F62971098',
      'app-source': 'query',
      'time-source': 'message',
      'received-at': new Date(NOW).toISOString(),
      'logplex-drain-token': 'd.fc6b856b-3332-4546-93de-7d0ee272c3bd',
    });
  });

  it('logs one JSON line: request id, app, key, bytes, messages, outcome', async () => {
    const ev = loadEvent('logplex-batch');
    await handler()(ev);
    expect(log.lines).toHaveLength(1);
    expect(log.last()).toMatchObject({
      level: 'info',
      msg: 'drain batch stored',
      outcome: 'stored',
      status: 200,
      requestId: '7c0e1f4a-2b3d-4e5f-8a9b-0c1d2e3f4a5b',
      app: 'raxx-api-prod',
      key: onlyPut().Key,
      bytes: eventBody(ev).length,
      messages: 4,
      msgCount: 4,
      parseStatus: 'ok',
      frameId: '09C557EAFCFB6CF2740EE62F62971098',
    });
  });

  it('takes the token from Basic auth, and keys a batch led by an L10 notice by its first other message', async () => {
    const res = await handler()(loadEvent('basic-auth'));
    expect(res.statusCode).toBe(200);
    const put = onlyPut();
    expect(put.Key).toBe(`logs/raxx-console-prod/2025/06/02/${Date.UTC(2025, 5, 2, 14, 4, 59, 118)}-A41F0C2E9B7D3E5F60718293A4B5C6D7.gz`);
    expect(put.Metadata).toMatchObject({ 'parse-status': 'ok', 'parsed-count': '3', 'msg-count': '3', 'logplex-notices': '1' });
  });

  it('takes a Bearer token and the app from the synthetic test frame; no Frame-Id: random id, receipt time', async () => {
    const ev = loadEvent('bearer-synthetic');
    expect(ev.isBase64Encoded).toBe(false);
    const res = await handler()(ev);
    expect(res.statusCode).toBe(200);
    const put = onlyPut();
    expect(put.Key).toBe(`logs/raxx-api-staging/2025/06/02/${NOW}-${RANDOM_ID}.gz`);
    expect(put.Metadata).toMatchObject({ 'app-source': 'frame', 'time-source': 'receipt', 'parse-status': 'ok' });
    expect(put.Metadata!['frame-id']).toBeUndefined();
    expect(stored(put).toString()).toBe(ev.body);
  });

  it('answers a wrong token 403, writes nothing, and logs token_present=true', async () => {
    const res = await handler()(loadEvent('wrong-token'));
    expect(res.statusCode).toBe(403);
    expect(puts()).toEqual([]);
    expect(log.last()).toMatchObject({ level: 'warn', msg: 'drain auth failed: token_present=true', outcome: 'auth-failed', status: 403 });
    expectNoSecretsLogged('stale-token-from-before-the-rotation');
  });

  it('answers a GET 405 with Allow: POST', async () => {
    const res = await handler()(loadEvent('get-request'));
    expect(res.statusCode).toBe(405);
    expect(res.headers).toMatchObject({ allow: 'POST' });
    expect(puts()).toEqual([]);
  });
});

describe('tokens', () => {
  const noToken = () => {
    const ev = loadEvent('logplex-batch');
    ev.rawQueryString = 'app=raxx-api-prod';
    ev.queryStringParameters = { app: 'raxx-api-prod' };
    return ev;
  };

  it('answers a missing token 403 and logs token_present=false', async () => {
    const res = await handler()(noToken());
    expect(res.statusCode).toBe(403);
    expect(log.last().msg).toBe('drain auth failed: token_present=false');
    expect(puts()).toEqual([]);
  });

  it('accepts the previous token during a rotation, and reads the tokens on every request', async () => {
    const h = handler();
    const ev = loadEvent('logplex-batch');
    tokens = { current: PREVIOUS_TOKEN };
    expect((await h(ev)).statusCode).toBe(403);
    tokens = { current: PREVIOUS_TOKEN, previous: TOKEN };
    expect((await h(ev)).statusCode).toBe(200);
    tokens = { current: TOKEN, previous: PREVIOUS_TOKEN };
    expect((await h(ev)).statusCode).toBe(200);
    tokens = { current: PREVIOUS_TOKEN };
    expect((await h(ev)).statusCode).toBe(403);
  });

  it('reads the raw query string when Lambda gave no parameter map', async () => {
    const ev = loadEvent('logplex-batch');
    delete ev.queryStringParameters;
    expect((await handler()(ev)).statusCode).toBe(200);
    expect(onlyPut().Key).toContain('logs/raxx-api-prod/');
  });

  it('answers 500 (Logplex retries) when no token is configured, and never matches an empty token', async () => {
    tokens = { current: '' };
    const ev = noToken();
    ev.headers.authorization = `Basic ${Buffer.from('drain:').toString('base64')}`;
    const res = await handler()(ev);
    expect(res.statusCode).toBe(500);
    expect(log.last()).toMatchObject({ outcome: 'misconfigured', msg: 'drain misconfigured: DRAIN_TOKEN is empty' });
    expect(puts()).toEqual([]);
  });

  it('rejects a token that only shares a prefix, or differs in length', async () => {
    for (const t of [TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), ` ${TOKEN}`]) {
      const ev = loadEvent('logplex-batch');
      ev.queryStringParameters = { app: 'raxx-api-prod', token: t };
      expect((await handler()(ev)).statusCode, t).toBe(403);
    }
    expect(puts()).toEqual([]);
  });
});

describe('bodies that are not clean batches are stored and flagged', () => {
  it('stores a count mismatch with 200 and parse-status count-mismatch', async () => {
    const ev = loadEvent('logplex-batch');
    ev.headers['logplex-msg-count'] = '5';
    const res = await handler()(ev);
    expect(res.statusCode).toBe(200);
    expect(onlyPut().Metadata).toMatchObject({ 'parse-status': 'count-mismatch', 'msg-count': '5', 'parsed-count': '4' });
    expect(log.last()).toMatchObject({ outcome: 'stored', parseStatus: 'count-mismatch', msgCount: 5, messages: 4 });
  });

  it('stores garbage with 200 and parse-status malformed, and receipt time when no message has one', async () => {
    const garbage = Buffer.from([0xff, 0x00, 0x41, 0x0a, 0x7b, 0x22]);
    const res = await handler()(withBody(garbage, { 'logplex-msg-count': '2' }));
    expect(res.statusCode).toBe(200);
    const put = onlyPut();
    expect(stored(put).equals(garbage)).toBe(true);
    // Keyed at the start of its receipt's quarter hour, so a retry finds it (see batch.ts).
    expect(put.Key).toBe(`logs/raxx-api-prod/2025/06/02/${Date.UTC(2025, 5, 2, 14, 0)}-09C557EAFCFB6CF2740EE62F62971098.malformed.gz`);
    expect(put.Metadata).toMatchObject({ 'parse-status': 'malformed', 'parsed-count': '0', 'parse-errors': '1', 'bytes-unparsed': '6', 'time-source': 'receipt', 'first-parse-error': 'at byte 0: expected an octet count' });
  });

  it('flags a partly damaged body as malformed but still keys it on the first message', async () => {
    const body = `${dynoLine('2025-06-02T14:00:00.250+00:00', 'first')}garbage\n${dynoLine('2025-06-02T14:00:01+00:00', 'second')}`;
    await handler()(withBody(body, { 'logplex-msg-count': '2' }));
    const put = onlyPut();
    expect(put.Key).toContain(`/${Date.UTC(2025, 5, 2, 14, 0, 0, 250)}-`);
    expect(put.Key).toMatch(/\.malformed\.gz$/);
    expect(put.Metadata).toMatchObject({ 'parse-status': 'malformed', 'parsed-count': '2', 'bytes-unparsed': '8' });
  });

  it('answers an empty body 204 and stores nothing', async () => {
    const ev = loadEvent('logplex-batch');
    delete ev.body;
    const res = await handler()(ev);
    expect(res.statusCode).toBe(204);
    expect(puts()).toEqual([]);
    expect(log.last()).toMatchObject({ outcome: 'empty', msgCount: 4 });
  });

  it('answers a non-Function-URL event 400 without touching S3', async () => {
    for (const ev of [undefined, null, {}, { version: '1.0', requestContext: { http: { method: 'POST' } } }, 'POST /']) {
      expect((await handler()(ev)).statusCode).toBe(400);
    }
    expect(puts()).toEqual([]);
  });
});

describe('retries and S3 failures', () => {
  it('answers 200 when the conditional write finds the batch already stored (412)', async () => {
    s3Mock.on(PutObjectCommand).rejects(
      new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'At least one of the pre-conditions you specified did not hold' }),
    );
    const res = await handler()(loadEvent('logplex-batch'));
    expect(res.statusCode).toBe(200);
    expect(log.last()).toMatchObject({ outcome: 'duplicate', msg: 'drain batch already stored' });
  });

  it('keys a retry identically, so the conditional write can refuse it', async () => {
    const h = handler();
    await h(loadEvent('logplex-batch'));
    await createHandler({ ...baseDeps(), now: () => NOW + 4_000 })(loadEvent('logplex-batch'));
    const [a, b] = puts();
    expect(a!.Key).toBe(b!.Key);
  });

  it('hashes a Frame-Id unfit for a key, keeping retries on one key', async () => {
    const ev = withBody(dynoLine('2025-06-02T14:00:00Z', 'x'), { 'logplex-frame-id': 'not/a key ☃', 'logplex-msg-count': '1' });
    await handler()(ev);
    await handler()(ev);
    const [a, b] = puts();
    expect(a!.Key).toBe(b!.Key);
    expect(a!.Key).toMatch(/\/1748872800000-[0-9a-f]{32}\.gz$/);
    expect(a!.Metadata!['frame-id']).toMatch(/^sha256:[0-9a-f]{32}$/);
  });

  it('looks for no earlier key when the batch is filed by a frame time inside the window: one PutObject', async () => {
    await handler()(loadEvent('logplex-batch'));
    expect(s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(puts()).toHaveLength(1);
  });

  describe('a batch whose earlier attempt may have chosen another key (a frame 5 min ahead of receipt)', () => {
    const ahead = () => withBody(dynoLine(new Date(NOW + 5 * 60_000 - 1_000).toISOString(), 'fast clock'), { 'logplex-msg-count': '1' });

    it('answers 200 already stored, without writing, when one exists', async () => {
      s3Mock.on(HeadObjectCommand).resolves({});
      const res = await handler()(ahead());
      expect(res.statusCode).toBe(200);
      expect(puts()).toEqual([]);
      const heads = s3Mock.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key);
      expect(heads).toContain(`logs/raxx-api-prod/2025/06/02/${Date.UTC(2025, 5, 2, 14, 0)}-09C557EAFCFB6CF2740EE62F62971098.clock-skew.gz`);
      expect(log.last()).toMatchObject({ outcome: 'duplicate', msg: 'drain batch already stored', key: heads.find(Boolean) });
    });

    it('stores it when none exists', async () => {
      const res = await handler()(ahead());
      expect(res.statusCode).toBe(200);
      expect(onlyPut().Key).toBe(`logs/raxx-api-prod/2025/06/02/${NOW + 5 * 60_000 - 1_000}-09C557EAFCFB6CF2740EE62F62971098.gz`);
      expect(log.last()).toMatchObject({ outcome: 'stored', msg: 'drain batch stored' });
    });

    it('stores it, logging "drain dedup unchecked", when HeadObject is refused (403)', async () => {
      s3Mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'Forbidden', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Forbidden' }));
      const res = await handler()(ahead());
      expect(res.statusCode).toBe(200);
      expect(puts()).toHaveLength(1);
      expect(log.last()).toMatchObject({ level: 'warn', outcome: 'stored', msg: 'drain dedup unchecked: Forbidden on HeadObject, an earlier attempt may be stored too' });
    });

    it('answers 500 (Logplex retries) when HeadObject fails otherwise', async () => {
      s3Mock.on(HeadObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Slow Down' }));
      const res = await handler()(ahead());
      expect(res.statusCode).toBe(500);
      expect(puts()).toEqual([]);
      expect(log.last()).toMatchObject({ level: 'error', outcome: 'write-failed', msg: 'drain write failed: SlowDown' });
    });
  });

  it.each([
    ['AccessDenied', new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' })],
    ['NoSuchBucket', new S3ServiceException({ name: 'NoSuchBucket', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified bucket does not exist' })],
    ['ECONNREFUSED', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })],
    ['TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
  ])('answers 500 and logs "drain write failed: %s"', async (code, err) => {
    s3Mock.on(PutObjectCommand).rejects(err);
    const res = await handler()(loadEvent('logplex-batch'));
    expect(res.statusCode).toBe(500);
    expect(log.last()).toMatchObject({ level: 'error', outcome: 'write-failed', msg: `drain write failed: ${code}`, status: 500 });
  });
});

describe('which app a batch is stored under', () => {
  const framesOf = (...names: string[]) => names.map((n, i) => dynoLine(`2025-06-02T10:00:0${i}Z`, 'x', { appName: n })).join('');
  const keyFor = async (ev: EventJson, over: Partial<HandlerDeps> = {}) => {
    s3Mock.resetHistory();
    expect((await handler(over)(ev)).statusCode).toBe(200);
    return onlyPut();
  };
  const noApp = (body: string) => {
    const ev = withBody(body);
    ev.queryStringParameters = { token: TOKEN };
    ev.rawQueryString = `token=${TOKEN}`;
    return ev;
  };

  it('never takes Logplex source names (app, heroku, logplex) for an app', async () => {
    const put = await keyFor(noApp(framesOf('app', 'heroku', 'logplex')));
    expect(put.Key).toMatch(/^logs\/unknown\//);
    expect(put.Metadata!['app-source']).toBe('none');
  });

  it('takes the one app name found in the frames, and refuses to guess between two', async () => {
    expect((await keyFor(noApp(framesOf('app', 'raxx-api-staging', 'raxx-api-staging')))).Key).toMatch(/^logs\/raxx-api-staging\//);
    const put = await keyFor(noApp(framesOf('raxx-api-staging', 'raxx-api-prod')));
    expect(put.Key).toMatch(/^logs\/unknown\//);
    expect(put.Metadata!['app-source']).toBe('frame-ambiguous');
  });

  it('stores an invalid ?app= under unknown, flagged', async () => {
    const ev = loadEvent('logplex-batch');
    ev.queryStringParameters = { app: '../Raxx_API', token: TOKEN };
    const put = await keyFor(ev);
    expect(put.Key).toMatch(/^logs\/unknown\//);
    expect(put.Metadata!['app-source']).toBe('query-invalid');
  });

  it('stores an app outside ALLOWED_APPS under unknown with the name it claimed, and answers 200', async () => {
    const put = await keyFor(loadEvent('logplex-batch'), { allowedApps: ['raxx-console-prod'] });
    expect(put.Key).toMatch(/^logs\/unknown\/2025\/06\/02\//);
    expect(put.Metadata).toMatchObject({ 'app-source': 'not-allowed', 'claimed-app': 'raxx-api-prod' });
    expect((await keyFor(loadEvent('logplex-batch'), { allowedApps: ['raxx-api-prod'] })).Key).toMatch(/^logs\/raxx-api-prod\//);
  });

  it('honours the key prefix', async () => {
    expect((await keyFor(loadEvent('logplex-batch'), { keyPrefix: 'heroku-drain' })).Key).toMatch(/^heroku-drain\/raxx-api-prod\/2025\/06\/02\//);
  });
});

describe('handlerFromEnv (the Lambda entry point)', () => {
  const secret = 'env-secret-token-value-0f1e2d3c';

  it('answers 500 naming the bad variables, never their values', async () => {
    const h = handlerFromEnv({ BUCKET_NAME: 'Not_A_Bucket', DRAIN_TOKEN: secret, ALLOWED_APPS: 'raxx-api-prod,Bad App' }, { log: log.sink });
    const res = await h(loadEvent('logplex-batch'), { awsRequestId: 'req-1' });
    expect(res.statusCode).toBe(500);
    expect(log.last()).toMatchObject({ outcome: 'misconfigured', requestId: 'req-1' });
    expect(log.last().msg).toMatch(/^drain misconfigured: BUCKET_NAME .*; ALLOWED_APPS /);
    expectNoSecretsLogged(secret, 'Not_A_Bucket', 'Bad App');
  });

  it('serves with the environment settings', async () => {
    const h = handlerFromEnv(
      { BUCKET_NAME: 'raxx-heroku-logs-prod', DRAIN_TOKEN: `${PREVIOUS_TOKEN}\n`, DRAIN_TOKEN_PREVIOUS: TOKEN, KEY_PREFIX: 'drain', ALLOWED_APPS: 'raxx-api-prod, raxx-console-prod' },
      { ...baseDeps(), log: log.sink },
    );
    expect((await h(loadEvent('logplex-batch'))).statusCode).toBe(200);
    expect(onlyPut().Key).toMatch(/^drain\/raxx-api-prod\//);
  });

  it('the module export reads process.env on the first request', async () => {
    vi.stubEnv('BUCKET_NAME', '');
    vi.stubEnv('DRAIN_TOKEN', secret);
    vi.resetModules();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const mod = await import('../src/handler.js');
      const res = await mod.handler(loadEvent('logplex-batch'));
      expect(res.statusCode).toBe(500);
      const line = String(spy.mock.calls[0]?.[0]);
      expect(line).toContain('drain misconfigured: BUCKET_NAME');
      expect(line).not.toContain(secret);
    } finally {
      spy.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});

describe('errorCode', () => {
  it('names S3 errors by code and network errors by their Node code', () => {
    expect(errorCode(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: {}, message: 'x' }))).toBe('SlowDown');
    expect(errorCode(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).toBe('ENOTFOUND');
    expect(errorCode(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]))).toBe('ECONNREFUSED');
    expect(errorCode(new Error('x'))).toBe('Error');
    expect(errorCode(undefined)).toBe('UnknownError');
    expect(errorCode({ name: 'Weird name\n{"injected":1}' })).toBe('Weirdnameinjected:1');
  });
});

function baseDeps(): HandlerDeps {
  return {
    s3: new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }),
    bucket: 'raxx-heroku-logs-prod',
    tokens: () => tokens,
    now: () => NOW,
    randomId: () => RANDOM_ID,
    log: log.sink,
  };
}
