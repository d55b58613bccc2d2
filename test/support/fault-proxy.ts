// A loopback HTTP proxy in front of moto that misbehaves on purpose: answers 403/404/500/503 with an
// S3 error document to the first N requests of a kind, or rewrites a response header (a
// metadata value S3 "stored" differently). Everything else is passed through unchanged.
// With `clockOffsetMs` it keeps S3's clock that far from this machine's: a request signed more
// than 15 minutes from it gets S3's 403 RequestTimeTooSkewed, and every answer carries that
// clock's Date. It may listen on IPv6 loopback (`host: '::1'`), and records the Host headers.
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
  /** Headers of the fault answer (a 301's x-amz-bucket-region). */
  headers?: Record<string, string>;
}

export interface FaultProxyOptions {
  /** Where to listen: 127.0.0.1 (default) or ::1. */
  host?: string;
  /** S3's clock minus this machine's (a function: asked on every request, a clock that jumps). */
  clockOffsetMs?: number | (() => number);
}

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, as `METHOD path`, and the ones answered with a fault. */
  seen: string[];
  faulted: string[];
  /** The Host header of each request, in order. */
  hosts: string[];
  /** Requests refused as signed with a skewed clock. */
  skewed: number;
  setFaults(faults: Fault[]): void;
  close(): Promise<void>;
}

const CODES: Record<number, string> = { 301: 'PermanentRedirect', 403: 'AccessDenied', 404: 'NoSuchKey', 500: 'InternalError', 503: 'SlowDown' };

export async function startFaultProxy(target: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const to = new URL(target);
  let faults: (Fault & { used: number })[] = [];
  const seen: string[] = [];
  const faulted: string[] = [];
  const hosts: string[] = [];
  const clock = opts.clockOffsetMs ?? 0;
  const skewing = clock !== 0;
  let offset = typeof clock === 'number' ? clock : 0;
  const s3Date = () => new Date(Date.now() + offset).toUTCString();
  let skewed = 0;

  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    seen.push(`${method} ${path}`);
    hosts.push(req.headers.host ?? '');
    const amzDate = req.headers['x-amz-date'];
    if (typeof clock === 'function') offset = clock();
    if (skewing && typeof amzDate === 'string') {
      const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      if (Math.abs(signedAt - (Date.now() + offset)) > 15 * 60_000) {
        skewed += 1;
        req.resume();
        req.on('end', () => {
          res.writeHead(403, { 'content-type': 'application/xml', date: s3Date() });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>${amzDate}</RequestTime><ServerTime>${new Date(Date.now() + offset).toISOString()}</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>`);
        });
        return;
      }
    }
    const fault = faults.find((f) => f.method === method && (f.path?.(path) ?? true) && (f.rewriteHeaders || f.used < (f.times ?? 0)));
    if (fault && !fault.rewriteHeaders) {
      fault.used += 1;
      faulted.push(`${method} ${path}`);
      // Drain the request before answering, as S3 does.
      req.resume();
      req.on('end', () => {
        const status = fault.status ?? 500;
        const code = CODES[status] ?? 'InternalError';
        res.writeHead(status, { 'content-type': 'application/xml', ...fault.headers });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the fault proxy</Message><RequestId>fault</RequestId></Error>`);
      });
      return;
    }
    const upstream = request(
      { host: to.hostname, port: to.port, method, path, headers: req.headers },
      (up: IncomingMessage) => {
        const headers = { ...up.headers };
        for (const [k, v] of Object.entries(fault?.rewriteHeaders ?? {})) if (headers[k] !== undefined) headers[k] = v;
        if (skewing) headers.date = s3Date();
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
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    seen,
    faulted,
    hosts,
    get skewed() {
      return skewed;
    },
    setFaults(list) {
      faults = list.map((f) => ({ ...f, used: 0 }));
      seen.length = 0;
      faulted.length = 0;
      hosts.length = 0;
      skewed = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
