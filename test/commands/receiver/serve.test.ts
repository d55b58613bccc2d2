// `raxx-ops receiver serve` over HTTP into moto's S3: what Logplex would see from the deployed
// function, and what lands in the bucket. The CLI runs in-process; requests go over loopback.
import { createServer } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildObjectKey, utcDate } from '@raxx/log-format/object-key';
import { frame } from '@raxx/log-format/logplex';
import { createBucket, createReceiverFunction, listKeys, setFunctionEnvironment } from '../../support/aws-fixtures.js';
import { motoAvailable } from '../../support/moto.js';
import { useMoto } from '../../support/fixtures.js';
import { runCli, type CliResult } from '../../support/run-cli.js';
import { freePort, waitFor } from '../../support/stand-in.js';
import { serveReceiver, type ServedReceiver } from '../../support/drain-stand-ins.js';
import { expectNoSecretsIn } from '../../support/no-secrets.js';

const BUCKET = 'raxx-heroku-logs-serve';
const TOKEN = 'serve-current-token-3f9a1c7e5b2d4068';
const PREVIOUS = 'serve-previous-token-9d2e4b6a8c1f3057';
const NEXT = 'serve-next-token-1a2b3c4d5e6f7089';
const SECRETS = [TOKEN, PREVIOUS, NEXT];
const APP = 'raxx-api-prod';
// The served receiver runs on the real clock and files a batch by its frames' time only when
// that is close to the time of receipt: the batches are a minute old.
const T0_MS = Date.now() - 60_000;
const T0 = new Date(T0_MS).toISOString().replace('Z', '+00:00');

let frameSeq = 0;
const newFrameId = () => `5E0F3A9C51B24D68A0C1E2F3B4D5${String(++frameSeq).padStart(4, '0')}`;

function batch(lines: number): string {
  return frame(
    Array.from({ length: lines }, (_, i) => ({
      pri: 190,
      version: 1,
      timestamp: T0,
      host: 'host',
      appName: 'app',
      procid: `web.${1 + (i % 2)}`,
      msgid: '-',
      text: `line ${i} of the batch ☃ at=info`,
    })),
  );
}

function post(base: string, body: string, opts: { query?: string; headers?: Record<string, string>; frameId?: string; count?: number } = {}): Promise<Response> {
  const count = opts.count ?? body.split('\n').length - 1;
  return fetch(`${base}${opts.query === undefined ? `?app=${APP}&token=${TOKEN}` : opts.query}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/logplex-1',
      'user-agent': 'Logplex/v134',
      'logplex-msg-count': String(count),
      'logplex-frame-id': opts.frameId ?? newFrameId(),
      'logplex-drain-token': 'd.fc6b856b-3332-4546-93de-7d0ee272c3bd',
      ...opts.headers,
    },
    body,
  });
}

function expectNoSecrets(r: CliResult): void {
  expectNoSecretsIn(r, SECRETS);
  // Query strings never reach the log either.
  expect(r.stdout).not.toContain('token=');
}

/** The request log lines (stdout) as objects. */
const requestLog = (r: CliResult) => r.records<{ msg: string; outcome: string; status: number; key?: string; app?: string; messages?: number }>();

describe.runIf(motoAvailable)('receiver serve', () => {
  const moto = useMoto();
  const { aws } = moto;
  let env: Record<string, string>;

  beforeAll(async () => {
    await createBucket(aws, BUCKET);
    env = { ...moto.env, BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN, DRAIN_TOKEN_PREVIOUS: PREVIOUS };
  });

  async function getObject(key: string): Promise<{ body: Buffer; metadata: Record<string, string> }> {
    const s3 = await aws.s3();
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return { body: gunzipSync(Buffer.from(await res.Body!.transformToByteArray())), metadata: res.Metadata ?? {} };
  }

  describe('from the environment', () => {
    let served: ServedReceiver;
    let result: CliResult;
    const keysBefore: string[] = [];

    beforeAll(async () => {
      keysBefore.push(...(await listKeys(aws, BUCKET)));
      served = await serveReceiver([], env);
    });

    it('stores a valid batch as one object at its key, gunzipping to the exact body', async () => {
      const body = batch(100);
      const frameId = newFrameId();
      const res = await post(served.base, body, { frameId });
      expect(res.status).toBe(200);
      const key = buildObjectKey({ app: APP, epochMs: T0_MS, id: frameId });
      expect(key).toBe(`logs/${APP}/${utcDate(T0_MS).replaceAll('-', '/')}/${T0_MS}-${frameId}.gz`);
      const stored = await getObject(key);
      expect(stored.body.toString('utf8')).toBe(body);
      expect(stored.metadata['parse-status']).toBe('ok');
      expect(stored.metadata['parsed-count']).toBe('100');
    });

    it('stores a Logplex retry (same Frame-Id) once', async () => {
      const body = batch(3);
      const frameId = newFrameId();
      const first = await post(served.base, body, { frameId });
      const retry = await post(served.base, body, { frameId });
      expect([first.status, retry.status]).toEqual([200, 200]);
      expect(await retry.text()).toBe('already stored\n');
      const keys = (await listKeys(aws, BUCKET)).filter((k) => k.includes(frameId));
      expect(keys).toEqual([buildObjectKey({ app: APP, epochMs: T0_MS, id: frameId })]);
    });

    it('accepts the current and the previous token, in the query, as Bearer and as Basic password', async () => {
      const ways: [string, Record<string, string>][] = [
        [`?app=${APP}&token=${PREVIOUS}`, {}],
        [`?app=${APP}`, { authorization: `Bearer ${TOKEN}` }],
        [`?app=${APP}`, { authorization: `Bearer ${PREVIOUS}` }],
        [`?app=${APP}`, { authorization: `Basic ${Buffer.from(`logplex:${PREVIOUS}`).toString('base64')}` }],
      ];
      for (const [query, headers] of ways) {
        const res = await post(served.base, batch(2), { query, headers });
        expect(res.status, `${query} ${JSON.stringify(headers)}`).toBe(200);
      }
    });

    it('refuses a wrong or missing token with 403 and writes nothing', async () => {
      const before = await listKeys(aws, BUCKET);
      const wrong = await post(served.base, batch(2), { query: `?app=${APP}&token=not-the-token` });
      const missing = await post(served.base, batch(2), { query: `?app=${APP}` });
      const wrongBearer = await post(served.base, batch(2), { query: `?app=${APP}`, headers: { authorization: 'Bearer nope' } });
      expect([wrong.status, missing.status, wrongBearer.status]).toEqual([403, 403, 403]);
      expect(await listKeys(aws, BUCKET)).toEqual(before);
    });

    it('stores a count mismatch and a garbage body with 200, flagged in the metadata', async () => {
      const mismatchId = newFrameId();
      const garbageId = newFrameId();
      const mismatch = await post(served.base, batch(3), { frameId: mismatchId, count: 5 });
      const garbage = await post(served.base, 'this is not logplex\n\u0000\u0001 at all', { frameId: garbageId, count: 1 });
      expect([mismatch.status, garbage.status]).toEqual([200, 200]);
      const keys = await listKeys(aws, BUCKET);
      const mismatchKey = keys.find((k) => k.includes(mismatchId))!;
      const garbageKey = keys.find((k) => k.includes(garbageId))!;
      expect((await getObject(mismatchKey)).metadata).toMatchObject({ 'parse-status': 'count-mismatch', 'msg-count': '5', 'parsed-count': '3' });
      const g = await getObject(garbageKey);
      expect(g.metadata['parse-status']).toBe('malformed');
      expect(g.body.toString('utf8')).toBe('this is not logplex\n\u0000\u0001 at all');
    });

    it('stops on Ctrl-C with exit 0, having logged one JSON line per request and no secret', async () => {
      result = await served.stop();
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\/$/m);
      expect(result.stderr).toContain(`writing to s3://${BUCKET}/logs/, accepting the current and previous token`);
      const log = requestLog(result);
      // Each POST above, plus the readiness probe (a GET).
      expect(log.filter((l) => l.outcome === 'stored').length).toBeGreaterThanOrEqual(8);
      expect(log.filter((l) => l.outcome === 'duplicate')).toHaveLength(1);
      const denied = log.filter((l) => l.outcome === 'auth-failed');
      expect(denied.map((l) => [l.status, l.msg])).toEqual([
        [403, 'drain auth failed: token_present=true'],
        [403, 'drain auth failed: token_present=false'],
        [403, 'drain auth failed: token_present=true'],
      ]);
      const stored = log.find((l) => l.outcome === 'stored' && l.messages === 100)!;
      expect(stored).toMatchObject({ app: APP, status: 200, msg: 'drain batch stored' });
      expectNoSecrets(result);
    });
  });

  it('prints the prefix the receiver writes under: KEY_PREFIX=logs is s3://bucket/logs/', async () => {
    const served = await serveReceiver([], { ...env, KEY_PREFIX: 'logs' });
    const frameId = newFrameId();
    const res = await post(served.base, batch(1), { frameId });
    const r = await served.stop();
    expect(res.status).toBe(200);
    expect(r.stderr).toContain(`writing to s3://${BUCKET}/logs/, accepting the current and previous token\n`);
    expect(await listKeys(aws, BUCKET)).toContain(buildObjectKey({ prefix: 'logs/', app: APP, epochMs: T0_MS, id: frameId }));
  });

  it('answers 500 and logs `drain write failed: NoSuchBucket` when the bucket is missing', async () => {
    const served = await serveReceiver([], { ...env, BUCKET_NAME: 'raxx-no-such-bucket' });
    const res = await post(served.base, batch(2));
    const r = await served.stop();
    expect(res.status).toBe(500);
    expect(requestLog(r).find((l) => l.status === 500)?.msg).toBe('drain write failed: NoSuchBucket');
    expectNoSecrets(r);
  });

  it('answers 500 and logs `drain write failed` when S3 cannot be reached', async () => {
    const closed = await freePort();
    const served = await serveReceiver([], { ...env, AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed}` });
    const res = await post(served.base, batch(2));
    const r = await served.stop();
    expect(res.status).toBe(500);
    expect(requestLog(r).find((l) => l.status === 500)?.msg).toMatch(/^drain write failed: (ECONNREFUSED|TimeoutError)$/);
  });

  it('--from-lambda follows the function through a token rotation, as the deployed function would', async () => {
    const fn = 'raxx-log-drain-serve-test';
    await createReceiverFunction(aws, moto.env, { functionName: fn, variables: { BUCKET_NAME: BUCKET, DRAIN_TOKEN: TOKEN } });
    const served = await serveReceiver(['--from-lambda', fn, '--poll', '100'], moto.env);
    const status = async (token: string) => (await post(served.base, batch(1), { query: `?app=${APP}&token=${token}` })).status;
    try {
      expect([await status(TOKEN), await status(NEXT)]).toEqual([200, 403]);

      // Rotation step 1: the new token, the old one still accepted.
      await setFunctionEnvironment(aws, fn, { BUCKET_NAME: BUCKET, DRAIN_TOKEN: NEXT, DRAIN_TOKEN_PREVIOUS: TOKEN });
      await waitFor(async () => (await status(NEXT)) === 200, 'the new token accepted', 5_000);
      expect(await status(TOKEN)).toBe(200);

      // Last step: the old token cleared, and refused from then on.
      await setFunctionEnvironment(aws, fn, { BUCKET_NAME: BUCKET, DRAIN_TOKEN: NEXT });
      await waitFor(async () => (await status(TOKEN)) === 403, 'the old token refused', 5_000);
      expect(await status(NEXT)).toBe(200);
    } finally {
      const r = await served.stop();
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`following ${fn}'s configuration`);
      expect(r.stderr).toContain(`${fn} changed (DRAIN_TOKEN, DRAIN_TOKEN_PREVIOUS)`);
      expect(r.stderr).toContain(`${fn} changed (DRAIN_TOKEN_PREVIOUS)`);
      expectNoSecrets(r);
    }
  });

  describe('bad input', () => {
    let busyPort: number;
    let busy: ReturnType<typeof createServer>;
    beforeAll(async () => {
      busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      busyPort = (busy.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

    const cases: { name: string; args: () => string[]; env?: () => Record<string, string>; code: number; stderr: RegExp }[] = [
      { name: 'no DRAIN_TOKEN', args: () => ['--port', '0'], env: () => ({ ...moto.env, BUCKET_NAME: BUCKET }), code: 3, stderr: /DRAIN_TOKEN must be set[\s\S]*hint: set DRAIN_TOKEN/ },
      { name: 'a bad bucket name', args: () => ['--port', '0'], env: () => ({ ...moto.env, DRAIN_TOKEN: TOKEN, BUCKET_NAME: 'Not_A_Bucket' }), code: 3, stderr: /BUCKET_NAME must be an S3 bucket name/ },
      { name: 'a port out of range', args: () => ['--port', '70000'], code: 2, stderr: /--port: must be 0-65535/ },
      { name: 'a port in use', args: () => ['--port', String(busyPort)], env: () => env, code: 2, stderr: /port \d+ on 127\.0\.0\.1 is already in use[\s\S]*hint: choose another --port/ },
      { name: 'a poll too fast', args: () => ['--from-lambda', 'x', '--poll', '5'], code: 2, stderr: /--poll: 5 is less than 50 ms\nhint: at least 50 ms/ },
      { name: 'a function that does not exist', args: () => ['--port', '0', '--from-lambda', 'raxx-no-such-function'], env: () => moto.env, code: 3, stderr: /receiver function raxx-no-such-function does not exist/ },
    ];
    it.each(cases)('$name → exit $code', async (c) => {
      const r = await runCli(['receiver', 'serve', ...c.args()], { env: c.env?.() ?? moto.env });
      expect(r.stderr).toMatch(c.stderr);
      expect(r.code).toBe(c.code);
      expect(r.stdout).toBe('');
      expectNoSecrets(r);
    });
  });
});
