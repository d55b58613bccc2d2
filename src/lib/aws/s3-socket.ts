// The lean GET's wire: HTTP/1.1 GETs written straight onto kept-alive TCP (or TLS) sockets.
// Hand-written because node:http's ClientRequest/IncomingMessage/Agent machinery cost about
// 0.3 ms of CPU per request on the bench machine: 2,000 GETs of small drain objects at 256
// took 600-740 ms of CPU through node:http and 150-230 ms on bare sockets (undici: 735-790),
// and a day's search is that many requests. Kept over undici's Pool on the rule of the bench
// row "wire: undici / s3-socket wall time" (bench/run.mjs: undici must come within 15% to
// replace it); measured so far, 300 objects at 64 on bare moto: 4.9 s and 0.48 s of CPU here,
// 6.6 s and 1.3 s with undici + @smithy/signature-v4. test/lib/s3-socket-fuzz.test.ts checks
// its parser against llhttp's on generated answers. It speaks only what S3 answers a GET with:
// a status line, headers, and a body framed by Content-Length or chunked encoding. A body
// up to `inlineBytes` is handed over whole; a larger one as a stream with backpressure.
import { connect as tcpConnect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

export interface WireRequest {
  protocol: string;
  hostname: string;
  port: number | undefined;
  /** Path and query, encoded. */
  path: string;
  headers: Record<string, string>;
  /** An HTTP proxy to send a plain-HTTP request through (absolute-form request line). */
  proxy?: { hostname: string; port: number } | undefined;
}

export interface WireResponse {
  statusCode: number;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  /** The whole body, when it was small enough to be read before answering. */
  bytes?: Buffer;
  /** Otherwise the body as a stream (read it, or destroy it). */
  body?: Readable;
}

export interface WireOptions {
  /** Sockets at most; more requests wait for one. */
  maxSockets: number;
  connectTimeoutMs: number;
  /** Idle time on a socket (no answer, or a body that stalls) before it fails with ETIMEDOUT. */
  idleTimeoutMs: number;
  /** Bodies up to this size are handed over whole. */
  inlineBytes: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

function wireError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason as unknown;
  return reason instanceof Error && reason.name === 'AbortError' ? reason : Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

interface Pending {
  resolve(res: WireResponse): void;
  reject(err: Error): void;
  signal: AbortSignal;
  onAbort: () => void;
}

/** The header fields of a response head (its status line skipped). */
export function parseHeaders(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

/**
 * A response whose header fields are parsed when first read: a search reads none of its
 * objects' headers, and splitting and lower-casing them cost more than the rest of a small answer's parse.
 */
function answer(statusCode: number, head: string, rest: { bytes: Buffer } | { body: Readable }): WireResponse {
  let headers: Record<string, string> | undefined;
  return {
    statusCode,
    ...rest,
    get headers() {
      return (headers ??= parseHeaders(head));
    },
  };
}

/** One kept-alive connection, one request at a time. */
class Connection {
  readonly socket: Socket;
  busy = false;
  closed = false;
  private pending: Pending | undefined;
  /** Bytes received and not parsed yet. */
  private buf: Buffer | undefined;
  /** The response being read: headers parsed, body framing. */
  private state: 'idle' | 'head' | 'length' | 'chunked' = 'idle';
  private status = 0;
  /** The answer's head, its header fields parsed only when someone reads them. */
  private head = '';
  private keepAlive = true;
  private remaining = 0;
  private chunks: Buffer[] = [];
  private received = 0;
  private stream: Readable | undefined;
  /** Any byte of the answer arrived (a failure after that is not a stale socket). */
  private answered = false;

  constructor(
    private readonly pool: WirePool,
    readonly key: string,
    req: WireRequest,
    private readonly opts: WireOptions,
  ) {
    const target = req.port ?? (req.protocol === 'https:' ? 443 : 80);
    const host = req.proxy && req.protocol === 'http:' ? req.proxy.hostname : req.hostname;
    const port = req.proxy && req.protocol === 'http:' ? req.proxy.port : target;
    this.socket = req.protocol === 'https:' ? tlsConnect({ host, port, servername: host, ALPNProtocols: ['http/1.1'] }) : tcpConnect(port, host);
    this.socket.setNoDelay(true);
    const connectTimer = setTimeout(() => this.fail(wireError(`connecting to ${host}:${port} timed out`, 'ETIMEDOUT')), opts.connectTimeoutMs);
    this.socket.once(req.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    this.socket.setTimeout(opts.idleTimeoutMs, () => {
      if (this.busy) this.fail(wireError('S3 did not answer in time', 'ETIMEDOUT'));
      else this.destroy();
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (err) => {
      clearTimeout(connectTimer);
      this.fail(err);
    });
    this.socket.on('close', () => {
      clearTimeout(connectTimer);
      if (this.busy) this.fail(wireError('the connection closed before the answer was complete', 'ECONNRESET'));
      this.closed = true;
      this.pool.drop(this);
    });
  }

  send(head: string, pending: Pending): void {
    this.busy = true;
    this.pending = pending;
    this.state = 'head';
    this.answered = false;
    this.buf = undefined;
    this.socket.write(head);
  }

  private onData(d: Buffer): void {
    if (!this.busy) {
      // Bytes nobody asked for: the connection is not in a state we know.
      this.destroy();
      return;
    }
    this.answered = true;
    this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, d]) : d;
    this.parse();
  }

  private parse(): void {
    while (this.buf && this.busy) {
      if (this.state === 'head') {
        const end = this.buf.indexOf(CRLF2);
        if (end === -1) {
          if (this.buf.length > 64 * 1024) this.fail(wireError('S3 sent headers too large to be an answer', 'EPROTO'));
          return;
        }
        const head = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(end + 4);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (!status) return this.fail(wireError(`not an HTTP answer: ${head.slice(0, 40)}`, 'EPROTO'));
        this.status = Number(status[1]);
        const lower = head.toLowerCase();
        // 1xx: an interim answer; the real one follows.
        if (this.status < 200) continue;
        this.head = head;
        this.keepAlive = !/\r\nconnection: *close/.test(lower) && !head.startsWith('HTTP/1.0');
        const length = /\r\ncontent-length: *(\d+)/.exec(lower);
        this.chunks = [];
        this.received = 0;
        if (/\r\ntransfer-encoding: *chunked/.test(lower)) {
          this.state = 'chunked';
          this.remaining = -1;
        } else if (length) {
          this.state = 'length';
          this.remaining = Number(length[1]);
        } else {
          return this.fail(wireError('S3 answered without Content-Length or chunked encoding', 'EPROTO'));
        }
        if (this.state === 'length' && this.remaining > this.opts.inlineBytes) this.startStream();
        continue;
      }
      if (this.state === 'length') {
        const take = Math.min(this.remaining, this.buf.length);
        if (take > 0) this.body(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.finish();
        return;
      }
      if (this.state === 'chunked') {
        if (this.remaining === -1) {
          // A chunk's size line.
          const nl = this.buf.indexOf(CRLF);
          if (nl === -1) return;
          const size = parseInt(this.buf.toString('latin1', 0, nl).split(';')[0]!, 16);
          if (Number.isNaN(size)) return this.fail(wireError('bad chunk size in S3 answer', 'EPROTO'));
          if (size === 0) {
            // The last chunk: then trailers, if any, and a blank line.
            const end = this.buf.indexOf(CRLF2, nl);
            if (end === -1) return;
            this.buf = this.buf.subarray(end + 4);
            this.finish();
            return;
          }
          this.buf = this.buf.subarray(nl + 2);
          this.remaining = size;
        }
        // The chunk's data and its CRLF.
        if (this.remaining > 0) {
          const take = Math.min(this.remaining, this.buf.length);
          if (take > 0) this.body(this.buf.subarray(0, take));
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          if (this.remaining > 0) return;
        }
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.remaining = -1;
        if (!this.stream && this.received > this.opts.inlineBytes) this.startStream();
        continue;
      }
      return;
    }
  }

  private body(part: Buffer): void {
    this.received += part.length;
    if (this.stream) {
      // Backpressure: the socket waits while the reader is behind.
      if (!this.stream.push(Buffer.from(part))) this.socket.pause();
    } else this.chunks.push(part);
  }

  /** Hands the answer over as a stream now (a large body): what came so far is its start. */
  private startStream(): void {
    const stream = new Readable({
      // The reader caught up: let the socket flow again (only while this body is its answer).
      read: () => {
        if (this.stream === stream) this.socket.resume();
      },
      destroy: (err, cb) => {
        // Left before its end: this connection cannot be reused.
        if (this.stream === stream && this.busy) this.destroy();
        cb(err);
      },
    });
    for (const c of this.chunks) stream.push(Buffer.from(c));
    this.chunks = [];
    this.stream = stream;
    this.resolve(answer(this.status, this.head, { body: stream }));
  }

  private finish(): void {
    const stream = this.stream;
    const chunks = this.chunks;
    const pending = this.pending;
    this.stream = undefined;
    this.chunks = [];
    this.busy = false;
    this.state = 'idle';
    this.pending = undefined;
    if (pending) pending.signal.removeEventListener('abort', pending.onAbort);
    const leftover = this.buf && this.buf.length > 0;
    this.buf = undefined;
    // A body's last bytes may have paused the socket (backpressure): the next answer must flow.
    this.socket.resume();
    if (!this.keepAlive || leftover) this.destroy();
    else this.pool.release(this);
    if (stream) stream.push(null);
    else pending?.resolve(answer(this.status, this.head, { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
  }

  private resolve(res: WireResponse): void {
    // The promise settles once; a streamed body's end is the stream's.
    const pending = this.pending;
    if (!pending) return;
    pending.signal.removeEventListener('abort', pending.onAbort);
    this.pending = { ...pending, resolve: () => undefined, reject: (err) => this.stream?.destroy(err) };
    pending.resolve(res);
  }

  /** The request failed: stale keep-alive sockets say so with ECONNRESET (retried by the caller). */
  fail(err: Error): void {
    const pending = this.pending;
    const stream = this.stream;
    this.pending = undefined;
    this.stream = undefined;
    this.busy = false;
    this.destroy();
    if (pending) pending.signal.removeEventListener('abort', pending.onAbort);
    if (stream) stream.destroy(err);
    else pending?.reject(!this.answered && (err as { code?: string }).code === undefined ? wireError(err.message, 'ECONNRESET') : err);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.pool.drop(this);
  }
}

/**
 * Kept-alive connections per host, up to `maxSockets`; one request at a time on each.
 * Idle sockets do not hold the process open.
 */
export class WirePool {
  private readonly idle = new Map<string, Connection[]>();
  private readonly live = new Set<Connection>();
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: WireOptions) {}

  request(req: WireRequest, signal: AbortSignal): Promise<WireResponse> {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (this.live.size >= this.opts.maxSockets && !this.idle.get(this.keyOf(req))?.length) {
      return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.request(req, signal));
    }
    return new Promise((resolve, reject) => {
      const key = this.keyOf(req);
      let conn = this.idle.get(key)?.pop();
      if (conn) conn.socket.ref();
      else {
        conn = new Connection(this, key, req, this.opts);
        this.live.add(conn);
      }
      const c = conn;
      const onAbort = () => c.fail(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      // Through a proxy, the request line names the whole URL (RFC 7230 absolute-form).
      const target = req.proxy && req.protocol === 'http:' ? `http://${req.headers.host ?? req.hostname}${req.path}` : req.path;
      let head = `GET ${target} HTTP/1.1\r\n`;
      for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
      c.send(`${head}\r\n`, { resolve, reject, signal, onAbort });
    });
  }

  private keyOf(req: WireRequest): string {
    return `${req.protocol}//${req.hostname}:${req.port ?? ''}${req.proxy ? ` via ${req.proxy.hostname}:${req.proxy.port}` : ''}`;
  }

  release(conn: Connection): void {
    conn.socket.unref();
    let list = this.idle.get(conn.key);
    if (!list) this.idle.set(conn.key, (list = []));
    list.push(conn);
    this.waiting.shift()?.();
  }

  drop(conn: Connection): void {
    this.live.delete(conn);
    const list = this.idle.get(conn.key);
    const i = list?.indexOf(conn) ?? -1;
    if (i !== -1) list!.splice(i, 1);
    this.waiting.shift()?.();
  }

  destroy(): void {
    for (const c of [...this.live]) c.destroy();
  }
}
