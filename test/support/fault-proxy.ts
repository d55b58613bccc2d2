// A loopback HTTP proxy in front of moto that misbehaves on purpose: answers 403/404/500/503 with an
// S3 error document to the first N requests of a kind, or rewrites a response header (a
// metadata value S3 "stored" differently). Everything else is passed through unchanged.
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** Which requests: method, and a test on the path (with query). */
  method: string;
  path?: (path: string) => boolean;
  /** Answer this many of them with `status` (then pass the rest). */
  times?: number;
  status?: number;
  /** Instead of failing: rewrite these response headers on every matching request. */
  rewriteHeaders?: Record<string, string>;
}

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, as `METHOD path`, and the ones answered with a fault. */
  seen: string[];
  faulted: string[];
  setFaults(faults: Fault[]): void;
  close(): Promise<void>;
}

const CODES: Record<number, string> = { 403: 'AccessDenied', 404: 'NoSuchKey', 500: 'InternalError', 503: 'SlowDown' };

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  let faults: (Fault & { used: number })[] = [];
  const seen: string[] = [];
  const faulted: string[] = [];

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    seen.push(`${method} ${path}`);
    const fault = faults.find((f) => f.method === method && (f.path?.(path) ?? true) && (f.rewriteHeaders || f.used < (f.times ?? 0)));
    if (fault && !fault.rewriteHeaders) {
      fault.used += 1;
      faulted.push(`${method} ${path}`);
      // Drain the request before answering, as S3 does.
      req.resume();
      req.on('end', () => {
        const status = fault.status ?? 500;
        const code = CODES[status] ?? 'InternalError';
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message><RequestId>fault</RequestId></Error>`);
      });
      return;
    }
    const upstream = request(
      { host: to.hostname, port: to.port, method, path, headers: req.headers },
      (up: IncomingMessage) => {
        const headers = { ...up.headers };
        for (const [k, v] of Object.entries(fault?.rewriteHeaders ?? {})) if (headers[k] !== undefined) headers[k] = v;
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    faulted,
    setFaults(list) {
      faults = list.map((f) => ({ ...f, used: 0 }));
      seen.length = 0;
      faulted.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
