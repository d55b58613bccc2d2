// The Lambda's own S3 client (createS3Client) against an endpoint that accepts connections and
// never answers: the handler must answer before Logplex's 5 s request timeout (docs/facts.md), so
// that Logplex retries the batch instead of counting a timeout.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHandler, createS3Client } from '../src/handler.js';
import { captureLog, loadEvent, TOKEN } from './helpers.js';

const LOGPLEX_TIMEOUT_MS = 5_000;

describe('a stalled S3', () => {
  let server: Server;
  let sockets: Socket[];
  let port: number;

  beforeEach(async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
    sockets = [];
    server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    vi.unstubAllEnvs();
  });

  it('is answered 500 before Logplex gives up, after retrying the stalled attempt once', async () => {
    const s3 = createS3Client({ AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` });
    const log = captureLog();
    const handler = createHandler({ s3, bucket: 'raxx-heroku-logs-prod', tokens: () => ({ current: TOKEN }), log: log.sink });
    const started = performance.now();
    try {
      const res = await handler(loadEvent('logplex-batch'));
      expect(res.statusCode).toBe(500);
    } finally {
      s3.destroy();
    }
    expect(performance.now() - started).toBeLessThan(LOGPLEX_TIMEOUT_MS);
    expect(log.last()).toMatchObject({ level: 'error', outcome: 'write-failed', msg: 'drain write failed: TimeoutError' });
    // The SDK's 3 s request timeout ended the first attempt; the second ran out of budget.
    expect(sockets).toHaveLength(2);
  });
});
