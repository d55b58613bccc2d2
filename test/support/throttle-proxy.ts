// A loopback proxy in front of moto that misbehaves the way S3 does under load: it answers
// some requests with `503 SlowDown` (S3's XML error body) instead of forwarding them, and it
// can hold each answer a random while so that responses come back out of order. It counts
// what it saw, including the most requests in flight at once.
import { createServer, request, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface FaultRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** How many times this method + url has been seen, this one included. */
  attempt: number;
}

export interface FaultProxyOptions {
  target: string;
  /** True: answer this request with 503 SlowDown instead of forwarding it. */
  slowDown?: (req: FaultRequest) => boolean;
  /** Milliseconds to hold a forwarded answer (e.g. random, to shuffle completion order). */
  delayMs?: () => number;
}

export interface FaultProxy {
  url: string;
  stats: { requests: number; slowDowns: number; inFlight: number; maxInFlight: number };
  /** The requests not answered or closed yet (method and URL). */
  pending(): string[];
  close(): Promise<void>;
}

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULT</RequestId></Error>';

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(opts.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const seen = new Map<string, number>();
  const stats = { requests: 0, slowDowns: 0, inFlight: 0, maxInFlight: 0 };
  const sockets = new Set<Socket>();
  const open = new Set<string>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stats.requests += 1;
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    let counted = true;
    const id = `${req.method} ${req.url}`;
    const token = `${id} #${stats.requests}`;
    open.add(token);
    const done = () => {
      if (counted) stats.inFlight -= 1;
      counted = false;
      open.delete(token);
    };
    res.on('close', done);
    const attempt = (seen.get(id) ?? 0) + 1;
    seen.set(id, attempt);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (opts.slowDown?.({ method: req.method ?? 'GET', url: req.url ?? '/', attempt })) {
        stats.slowDowns += 1;
        res.writeHead(503, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(SLOW_DOWN)) });
        res.end(SLOW_DOWN);
        return;
      }
      const headers = { ...req.headers };
      delete headers.connection;
      const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
        const body: Buffer[] = [];
        upRes.on('data', (c: Buffer) => body.push(c));
        upRes.on('end', () => {
          const answer = () => {
            if (res.destroyed) return;
            const out = Buffer.concat(body);
            const h = { ...upRes.headers, 'content-length': String(out.length) };
            delete h['transfer-encoding'];
            delete h.connection;
            res.writeHead(upRes.statusCode ?? 502, h);
            res.end(out);
          };
          const wait = opts.delayMs?.() ?? 0;
          if (wait > 0) setTimeout(answer, wait);
          else answer();
        });
      });
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      up.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    pending: () => [...open],
    async close() {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
