// The Lambda handler behind node:http, for the sandbox, tests and `raxx-ops receiver serve`:
// each request becomes the Function URL (payload 2.0) event Lambda would build, and the
// handler's answer is written back. Loopback by default: the drain token is the only guard.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHandler, type DrainHandler, type HandlerDeps } from './handler.js';
import type { FunctionUrlResult } from './event.js';
import { DRAIN_INTERNAL_ERROR, DRAIN_TOO_LARGE } from '@raxx/log-format/log-phrases';
import { consoleSink, writeLog, type LogSink } from './log.js';

/**
 * A Function URL refuses (413) a request whose event payload passes 6 MB (6,291,456 bytes, as
 * Lambda counts it). The limit is on the event Lambda builds, where a binary body such as
 * Logplex's arrives base64-encoded: about 4.5 MB of raw body. The local server counts the
 * same way, so a batch it accepts is one the Function URL accepts.
 */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;

/** Bytes of a body once base64-encoded. */
const base64Bytes = (raw: number): number => Math.ceil(raw / 3) * 4;

export interface ReceiverServerOptions {
  /** 0 (default): any free port. */
  port?: number;
  host?: string;
  /**
   * The handler to serve; or handlerDeps to build one. Tokens are read through
   * handlerDeps.tokens() on every request; to swap everything (bucket, allow-list), pass a
   * handler that delegates to the current one.
   */
  handler?: DrainHandler;
  handlerDeps?: HandlerDeps;
  /** The largest event payload served (default MAX_EVENT_BYTES); larger requests get 413. */
  maxEventBytes?: number;
  /** Where the server logs what never reaches the handler (413, a handler crash); default handlerDeps.log, else the console. */
  log?: LogSink;
}

export interface ReceiverServer {
  /** `http://host:port` (no trailing slash). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The Function URL event for one request, shaped as Lambda builds it. */
export interface FunctionUrlRequestEvent {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

export async function startReceiverServer(opts: ReceiverServerOptions): Promise<ReceiverServer> {
  const handler = opts.handler ?? (opts.handlerDeps ? createHandler(opts.handlerDeps) : undefined);
  if (!handler) throw new TypeError('startReceiverServer needs a handler or handlerDeps');
  const host = opts.host ?? '127.0.0.1';
  const maxEvent = opts.maxEventBytes ?? MAX_EVENT_BYTES;
  const log = opts.log ?? opts.handlerDeps?.log ?? consoleSink;

  const server = createServer((req, res) => {
    serveOne(handler, req, res, maxEvent, log).catch((err: unknown) => {
      const name = err instanceof Error ? err.name.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 64) : 'UnknownError';
      writeLog(log, { level: 'error', msg: `${DRAIN_INTERNAL_ERROR}: ${name}`, outcome: 'internal-error', status: 500 });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

async function serveOne(handler: DrainHandler, req: IncomingMessage, res: ServerResponse, maxEvent: number, log: LogSink): Promise<void> {
  const requestId = randomUUID();
  const tooLarge = (bytes: number, counted: string): void => {
    // Lambda's answer; logged here because the function itself never sees such a request.
    writeLog(log, { level: 'warn', msg: `${DRAIN_TOO_LARGE}: ${counted} ${bytes} bytes, over the Function URL's ${maxEvent}-byte event payload`, outcome: 'too-large', status: 413, requestId, bytes });
    res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('request entity too large\n');
  };
  const body = await readBody(req, maxEvent);
  if (typeof body === 'number') return tooLarge(body, 'body of at least');
  const event = functionUrlEvent(req, body, requestId, Date.now());
  // The event as Lambda counts it: its JSON, base64 body included.
  const eventBytes = Buffer.byteLength(JSON.stringify(event));
  if (eventBytes > maxEvent) return tooLarge(eventBytes, 'event of');
  const result = await handler(event, { awsRequestId: requestId });
  writeResult(res, result);
}

/**
 * The body; or, as soon as its base64 form alone passes the limit, the bytes seen so far
 * (the rest is not read).
 */
async function readBody(req: IncomingMessage, maxEvent: number): Promise<Buffer | number> {
  const declared = Number(req.headers['content-length']);
  if (base64Bytes(declared) > maxEvent) return declared;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (base64Bytes(size) > maxEvent) return size;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function functionUrlEvent(req: IncomingMessage, body: Buffer, requestId: string, timeEpoch: number): FunctionUrlRequestEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const domainName = headers.host ?? 'localhost';
  const event: FunctionUrlRequestEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: { method: req.method ?? 'GET', path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(timeEpoch),
      timeEpoch,
    },
    isBase64Encoded: false,
  };
  const cookie = req.headers.cookie;
  if (cookie) event.cookies = cookie.split(/;\s*/);
  if (rawQueryString !== '') {
    // As Lambda does: decoded values, repeated parameters joined with commas.
    const params: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(rawQueryString)) params[k] = k in params ? `${params[k]},${v}` : v;
    event.queryStringParameters = params;
  }
  if (body.length > 0) {
    event.body = body.toString('base64');
    event.isBase64Encoded = true;
  }
  return event;
}

function writeResult(res: ServerResponse, result: FunctionUrlResult): void {
  const body = result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode, { ...result.headers, ...(body ? { 'content-length': String(body.length) } : {}) });
  res.end(body);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `02/Jun/2025:12:00:00 +0000`, the requestContext.time format. */
function clfTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
