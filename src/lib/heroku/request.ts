// One call to the Heroku Platform API through heroku-client's own request machinery (URL,
// agent, proxy, CA files, Accept header, Next-Range paging, {statusCode, body} errors), with
// three of its behaviours taken out, none of which it lets a caller switch off:
// - it repeats any request after a socket error, POST and DELETE included, up to 4 times over
//   about 15 s (`handleError`, a counter no option reaches): a repeated POST adds a second
//   drain, and an unreachable API costs 15 s per app;
// - under DEBUG=http (or DEBUG=*) it prints every response body through the `debug` package,
//   drain URLs and their tokens included (`handleResponse`, `logRequest`);
// - its only time-out is an idle-socket one, and nothing stops a call once started.
// Imported only when a command talks to Heroku (heroku-client stays out of `--help`).
import type { Agent } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import Request from 'heroku-client/lib/request.js';

export interface SendOptions {
  token: string;
  /** Base URL, e.g. https://api.heroku.com */
  host: string;
  userAgent: string;
  method: string;
  path: string;
  body?: unknown;
  /** The whole call, all pages, must finish within this. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Sees every response (each page) before its body is read. */
  onResponse?: (res: IncomingMessage) => void;
  /** Instead of heroku-client's own agent (which knows only HEROKU_HTTP_PROXY_HOST): the operator's proxy. */
  agent?: Agent | undefined;
}

/** The call took longer than `timeoutMs`; the request was abandoned, never repeated. */
export class HerokuTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

/** The caller gave up (Ctrl-C); the request was abandoned, never repeated. */
export class HerokuAbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor() {
    super('aborted');
  }
}

class QuietRequest extends Request {
  private current: ClientRequest | undefined;
  private settled = false;

  /** Also asked for each Next-Range page: none is sent once the call is over. */
  override request(): Promise<unknown> {
    if (this.settled) return this.promise;
    return super.request();
  }

  /** A socket error ends the call; the caller decides whether a repeat is safe. */
  override handleError(err: Error): void {
    this.end(err);
  }

  /** heroku-client logs headers and bodies here under DEBUG; the caller logs what is safe. */
  override logRequest(): void {}
  override logResponse(): void {}

  /** heroku-client's own, minus the debug print of the raw body (and the unused 304 cache). */
  override handleResponse(res: IncomingMessage): void {
    this.middleware(res, () => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => this.end(err));
      res.on('end', () => {
        if (this.settled) return;
        const data = Buffer.concat(chunks).toString('utf8');
        try {
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) this.handleSuccess(res, data);
          else this.handleFailure(res, data);
        } catch (err) {
          this.end(err as Error);
        }
      });
    });
  }

  /** Called with each request sent: kept so that a time-out or Ctrl-C can destroy it. */
  override setRequestTimeout(req: ClientRequest): void {
    this.current = req;
  }

  /** Ends the call with `err`: the request in flight is destroyed, no further page is asked. */
  end(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.current?.destroy();
    this.reject(err);
  }

  finish(): void {
    this.settled = true;
  }
}

/** Sends one call (following pages); rejects with heroku-client's error, a socket error, or the two above. */
export async function send(opts: SendOptions): Promise<unknown> {
  if (opts.signal?.aborted) throw new HerokuAbortError();
  const req = new QuietRequest({
    token: opts.token,
    host: opts.host,
    userAgent: opts.userAgent,
    method: opts.method,
    path: opts.path,
    body: opts.body,
    headers: {},
    middleware: (res, next) => {
      opts.onResponse?.(res);
      next();
    },
  });
  if (opts.agent) (req as unknown as { agent: Agent }).agent = opts.agent;
  const timer = setTimeout(() => req.end(new HerokuTimeoutError(opts.timeoutMs)), opts.timeoutMs);
  const onAbort = () => req.end(new HerokuAbortError());
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await req.request();
  } finally {
    req.finish();
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** The heroku-client members the class above relies on; a test pins them against upgrades. */
export const OVERRIDDEN = ['request', 'handleError', 'logRequest', 'logResponse', 'handleResponse', 'setRequestTimeout', 'handleSuccess', 'handleFailure'] as const;
export { Request as HerokuClientRequest };
