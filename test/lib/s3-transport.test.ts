// The lean GET's wire (s3-socket.ts) against a real HTTP server: what it sends, keep-alive,
// the framings S3 answers with, large bodies as streams, stale sockets, timeouts and Ctrl-C.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INLINE_BYTES, socketTransport, type LeanRequest } from '../../src/lib/aws/s3-get.js';

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

const req = (port: number, path = '/b/k', headers: Record<string, string> = {}): LeanRequest => ({ protocol: 'http:', hostname: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } });
const live = () => new AbortController().signal;

/** The body as text, whole or streamed. */
async function text(res: { bytes?: Buffer; body?: AsyncIterable<Buffer> }): Promise<string> {
  if (res.bytes) return res.bytes.toString();
  let out = '';
  for await (const c of res.body!) out += String(c);
  return out;
}

describe('socketTransport', () => {
  it('sends the path, query and headers it was given, and reuses the connection', async () => {
    const seen: { url?: string; auth?: string; host?: string }[] = [];
    const { port, connections } = await serve((r, res) => {
      seen.push({ url: r.url, auth: r.headers.authorization, host: r.headers.host });
      res.end('body');
    });
    const send = socketTransport();
    for (let i = 0; i < 3; i++) {
      const res = await send(req(port, '/b?list-type=2&prefix=logs%2F', { authorization: 'AWS4-HMAC-SHA256 x' }), live());
      expect(res.statusCode).toBe(200);
      expect(await text(res)).toBe('body');
    }
    expect(seen[0]).toEqual({ url: '/b?list-type=2&prefix=logs%2F', auth: 'AWS4-HMAC-SHA256 x', host: `127.0.0.1:${port}` });
    expect(connections()).toBe(1);
  });

  it('reads chunked answers (S3 lists that way) and error answers alike', async () => {
    const { port } = await serve((r, res) => {
      if (r.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/xml' });
        res.write('<a>');
        setTimeout(() => res.end('</a>'), 10);
      } else {
        res.writeHead(404, { 'content-type': 'application/xml' });
        res.end('<Error><Code>NoSuchKey</Code></Error>');
      }
    });
    const send = socketTransport();
    expect(await text(await send(req(port, '/chunked'), live()))).toBe('<a></a>');
    const missing = await send(req(port, '/missing'), live());
    expect(missing.statusCode).toBe(404);
    expect(await text(missing)).toContain('NoSuchKey');
    // The connection is still good after both.
    expect(await text(await send(req(port, '/chunked'), live()))).toBe('<a></a>');
  });

  it('a body past the inline size comes as a stream, whole and in order; Connection: close is honoured', async () => {
    const big = Buffer.alloc(INLINE_BYTES * 2 + 123, 'x');
    big.write('start');
    big.write('end', big.length - 3);
    const { port, connections } = await serve((_r, res) => {
      res.writeHead(200, { 'content-length': String(big.length), connection: 'close' });
      res.end(big);
    });
    const send = socketTransport();
    const res = await send(req(port), live());
    expect(res.bytes).toBeUndefined();
    const got = await text(res);
    expect(got.length).toBe(big.length);
    expect(got.startsWith('start') && got.endsWith('end')).toBe(true);
    await send(req(port), live()).then(text);
    expect(connections()).toBe(2);
  });

  it('a large body read slowly (the socket paused by backpressure to its last byte), then the next request on the same connection', async () => {
    const big = Buffer.alloc(INLINE_BYTES * 3, 'y');
    const { port, connections } = await serve((r, res) => {
      if (r.url === '/small') return void res.end('next');
      res.writeHead(200, { 'content-length': String(big.length) });
      res.end(big);
    });
    const send = socketTransport();
    const res = await send(req(port), live());
    let n = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      n += c.length;
      await new Promise((r) => setTimeout(r, 1)); // a slow reader: what this case is about
    }
    expect(n).toBe(big.length);
    // Left paused, the socket would never read this answer (and an idle process would exit).
    const next = await Promise.race([send(req(port, '/small'), live()).then(text), new Promise((r) => setTimeout(() => r('stalled'), 3_000))]);
    expect(next).toBe('next');
    expect(connections()).toBe(1);
  });

  it('a kept-alive socket the server closed meanwhile fails with ECONNRESET (retried by the caller), then a new one works', async () => {
    const { port } = await serve((_r, res) => res.end('ok'));
    const send = socketTransport();
    expect(await text(await send(req(port), live()))).toBe('ok');
    server!.closeAllConnections();
    // The client's end of the socket is not reachable from here: give its FIN time to arrive.
    await new Promise((r) => setTimeout(r, 50));
    // The pool noticed the close: the next request opens a new connection.
    expect(await text(await send(req(port), live()))).toBe('ok');
  });

  it('an answer that does not start in time fails with ETIMEDOUT (retried like the SDK’s TimeoutError)', async () => {
    const { port } = await serve(() => undefined);
    const started = Date.now();
    const err = await socketTransport({ idleTimeoutMs: 200 })(req(port), live()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a large body that stalls mid-way fails instead of hanging', async () => {
    const { port } = await serve((_r, res) => {
      res.writeHead(200, { 'content-length': String(INLINE_BYTES * 4) });
      res.write(Buffer.alloc(INLINE_BYTES * 2));
    });
    const res = await socketTransport({ idleTimeoutMs: 300 })(req(port), live());
    const err = await text(res).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('Ctrl-C ends a request waiting for its answer at once', async () => {
    const { port } = await serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    const err = await socketTransport()(req(port), controller.signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a refused connection fails with its code (retried by the caller)', async () => {
    const { port } = await serve(() => undefined);
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
    const err = await socketTransport()(req(port), live()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('no more sockets than allowed: the rest wait for one', async () => {
    let open = 0;
    let most = 0;
    const { port, connections } = await serve((_r, res) => {
      open += 1;
      most = Math.max(most, open);
      setTimeout(() => {
        open -= 1;
        res.end('x');
      }, 20);
    });
    const send = socketTransport({ maxSockets: 3 });
    const all = await Promise.all(Array.from({ length: 12 }, () => send(req(port), live()).then(text)));
    expect(all.join('')).toBe('x'.repeat(12));
    expect(most).toBeLessThanOrEqual(3);
    expect(connections()).toBe(3);
  });
});
