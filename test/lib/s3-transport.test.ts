// The lean GET's default transport against a real HTTP server: what it sends, keep-alive,
// its timeouts and Ctrl-C.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeTransport } from '../../src/lib/s3-get.js';

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  server = createServer(handler);
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

afterEach(async () => {
  const s = server;
  server = undefined;
  if (!s) return;
  s.closeAllConnections();
  await new Promise((resolve) => s.close(resolve));
});

const read = async (body: AsyncIterable<Buffer>) => {
  let text = '';
  for await (const c of body) text += String(c);
  return text;
};

describe('nodeTransport', () => {
  it('sends the path, query and headers it was given, and reuses the connection', async () => {
    const seen: { url?: string; auth?: string }[] = [];
    const { port, connections } = await serve((req, res) => {
      seen.push({ url: req.url, auth: req.headers.authorization });
      res.end('body');
    });
    const send = nodeTransport();
    const signal = new AbortController().signal;
    for (let i = 0; i < 3; i++) {
      const res = await send({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b?list-type=2&prefix=logs%2F', headers: { host: `127.0.0.1:${port}`, authorization: 'AWS4-HMAC-SHA256 x' } }, signal);
      expect(res.statusCode).toBe(200);
      expect(await read(res.body)).toBe('body');
    }
    expect(seen[0]).toEqual({ url: '/b?list-type=2&prefix=logs%2F', auth: 'AWS4-HMAC-SHA256 x' });
    expect(connections()).toBe(1);
  });

  it('an answer that does not start in time fails with ETIMEDOUT (retried like the SDK’s TimeoutError)', async () => {
    const { port } = await serve(() => undefined);
    const send = nodeTransport({ responseTimeoutMs: 200 });
    const started = Date.now();
    const err = await send({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b/k', headers: {} }, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a body that stalls mid-way fails (a broken body, read again by the store) instead of hanging', async () => {
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('first bytes');
    });
    const res = await nodeTransport({ responseTimeoutMs: 200 })({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b/k', headers: {} }, new AbortController().signal);
    const err = await read(res.body as AsyncIterable<Buffer>).catch((e: unknown) => e);
    // The socket is destroyed with ETIMEDOUT; the body reports it as the connection it lost.
    expect(['ETIMEDOUT', 'ECONNRESET']).toContain((err as { code?: string }).code);
  });

  it('Ctrl-C ends a request waiting for its answer at once', async () => {
    const { port } = await serve(() => undefined);
    const send = nodeTransport();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const err = await send({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b/k', headers: {} }, controller.signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a refused connection fails with its code (retried by the caller)', async () => {
    const { port } = await serve(() => undefined);
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const err = await nodeTransport()({ protocol: 'http:', hostname: '127.0.0.1', port, path: '/b/k', headers: {} }, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
