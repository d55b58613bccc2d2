// Delivers log lines to an HTTPS drain the way Heroku's Logplex does (heroku/logplex:
// doc/README.http_drains.md, src/logplex_http_drain.erl, src/logplex_syslog_utils.erl). Written
// independently of the receiver, so the receiver is tested against the sender's behaviour and not
// against its own idea of it.
//
// - Body: RFC 6587 octet-counted frames, `<bytes> <syslog message>`, one after another with no
//   separator. The message is `<PRI>1 TIMESTAMP host APP-NAME PROCID - MSG` (no structured-data
//   field) and ends with a newline that the octet count includes (the README's example: ten
//   `70 <174>1 … Hi from erlang` frames, Content-Length 730 = 10 × (3 + 70)).
// - POST with Content-Type application/logplex-1, Logplex-Msg-Count, Logplex-Frame-Id,
//   Logplex-Drain-Token and User-Agent Logplex/<version>. URL userinfo becomes a Basic
//   Authorization header and is not part of the request line; the query string is kept.
// - Connect timeout 3 s, request timeout 5 s. 2xx: delivered. 4xx other than 429: dropped for
//   good. 429, 5xx, timeouts and network errors: retried with the same Frame-Id.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';

export interface LogplexMessage {
  time: Date | string;
  /** `app` for dyno output, `heroku` for platform lines (default `app`). */
  appName?: string;
  /** e.g. `web.1`, `router`, `postgres.1234`. */
  procid: string;
  text: string;
  /** Syslog PRI; default 190 (local7.info) for `app`, 158 (local3.info) for `heroku`. */
  pri?: number;
}

export const LOGPLEX_USER_AGENT = 'Logplex/v72';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** RFC 3339 in UTC with microseconds and `+00:00`, as Heroku stamps dyno lines. */
export function logplexTimestamp(time: Date | string): string {
  if (typeof time === 'string') return time;
  return (
    `${time.getUTCFullYear()}-${pad(time.getUTCMonth() + 1)}-${pad(time.getUTCDate())}` +
    `T${pad(time.getUTCHours())}:${pad(time.getUTCMinutes())}:${pad(time.getUTCSeconds())}` +
    `.${pad(time.getUTCMilliseconds(), 3)}000+00:00`
  );
}

/** One syslog message as Logplex writes it into an HTTPS drain body (newline included). */
export function syslogMessage(msg: LogplexMessage): string {
  const appName = msg.appName ?? 'app';
  const pri = msg.pri ?? (appName === 'heroku' ? 158 : 190);
  const text = msg.text.endsWith('\n') ? msg.text : `${msg.text}\n`;
  return `<${pri}>1 ${logplexTimestamp(msg.time)} host ${appName} ${msg.procid} - ${text}`;
}

/** An `application/logplex-1` body: octet-counted frames (the count is in bytes of UTF-8). */
export function frameMessages(msgs: LogplexMessage[]): string {
  let body = '';
  for (const m of msgs) {
    const s = syslogMessage(m);
    body += `${Buffer.byteLength(s, 'utf8')} ${s}`;
  }
  return body;
}

/** 32 hex digits. Logplex prints an MD5 with Erlang's integer_to_list(_, 16): upper case. */
export function newFrameId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

export interface SendBatchOptions {
  /** Logplex-Frame-Id; default a new random one. `null` sends none (Private Space sources). */
  frameId?: string | null;
  /** Logplex-Drain-Token (`d.<uuid>`); omitted when not given. */
  drainToken?: string;
  /** Retries after the first attempt (default 2). */
  retries?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Pause between attempts (default 50 ms). */
  retryDelayMs?: number;
  /** Send this body instead of framing `msgs` (malformed-body tests). */
  rawBody?: string | Buffer;
  /** Logplex-Msg-Count to send instead of msgs.length (count-mismatch tests). */
  msgCount?: number;
  userAgent?: string;
}

export interface AttemptResult {
  status?: number;
  error?: string;
}

export interface SendResult {
  /** Status of the last attempt, when it got one. */
  status?: number;
  attempts: number;
  /** delivered: a 2xx. dropped: a 4xx other than 429, never retried. failed: retries used up. */
  outcome: 'delivered' | 'dropped' | 'failed';
  frameId: string | null;
  /** Every attempt in order. */
  history: AttemptResult[];
  /** The last network error or timeout, if the last attempt had one. */
  error?: string;
}

interface Target {
  url: URL;
  authorization?: string;
}

/** The request target without userinfo or fragment, and the Basic header made from userinfo. */
export function drainTarget(drainUrl: string): Target {
  const url = new URL(drainUrl);
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  return authorization === undefined ? { url } : { url, authorization };
}

function attempt(target: Target, headers: Record<string, string>, body: Buffer, connectTimeoutMs: number, requestTimeoutMs: number): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const { url } = target;
    const requestFn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve(r);
    };
    const req = requestFn(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'Content-Length': String(body.length) },
      },
      (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => finish({ status: res.statusCode ?? 0 }));
        res.on('error', () => finish({ status: res.statusCode ?? 0 }));
        res.on('close', () => finish({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
    const fail = (what: string) => {
      finish({ error: what });
      req.destroy();
    };
    timers.push(setTimeout(() => fail('connect timeout'), connectTimeoutMs));
    req.on('socket', (socket) => {
      const connected = () => {
        clearTimeout(timers[0]);
        timers.push(setTimeout(() => fail('request timeout'), requestTimeoutMs));
      };
      if (!socket.connecting) connected();
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.end(body);
  });
}

export async function sendBatch(drainUrl: string, msgs: LogplexMessage[], opts: SendBatchOptions = {}): Promise<SendResult> {
  const target = drainTarget(drainUrl);
  const frameId = opts.frameId === undefined ? newFrameId() : opts.frameId;
  const body = opts.rawBody === undefined ? Buffer.from(frameMessages(msgs), 'utf8') : Buffer.from(opts.rawBody);
  const headers: Record<string, string> = {
    'Content-Type': 'application/logplex-1',
    'Logplex-Msg-Count': String(opts.msgCount ?? msgs.length),
    'User-Agent': opts.userAgent ?? LOGPLEX_USER_AGENT,
  };
  if (frameId !== null) headers['Logplex-Frame-Id'] = frameId;
  if (opts.drainToken !== undefined) headers['Logplex-Drain-Token'] = opts.drainToken;
  if (target.authorization !== undefined) headers.Authorization = target.authorization;

  const retries = Math.max(0, opts.retries ?? 2);
  const history: AttemptResult[] = [];
  for (let i = 0; i <= retries; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 50));
    const r = await attempt(target, headers, body, opts.connectTimeoutMs ?? 3000, opts.requestTimeoutMs ?? 5000);
    history.push(r);
    const base = { attempts: i + 1, frameId, history };
    if (r.status !== undefined && r.status >= 200 && r.status < 300) return { ...base, status: r.status, outcome: 'delivered' };
    if (r.status !== undefined && r.status >= 400 && r.status < 500 && r.status !== 429) {
      return { ...base, status: r.status, outcome: 'dropped' };
    }
  }
  const last = history[history.length - 1]!;
  const result: SendResult = { attempts: history.length, outcome: 'failed', frameId, history };
  if (last.status !== undefined) result.status = last.status;
  if (last.error !== undefined) result.error = last.error;
  return result;
}

export interface StreamOptions extends Omit<SendBatchOptions, 'frameId' | 'rawBody' | 'msgCount'> {
  /** Pause between the end of one batch and the start of the next. */
  intervalMs: number;
  linesPerBatch: number;
  appName?: LogplexMessage['appName'];
  procid?: string;
  /** Text of line `line` of batch `batch` (default `stream batch <b> line <l>`). */
  text?: (batch: number, line: number) => string;
}

export interface StreamBatchResult extends SendResult {
  /** 0-based batch number. */
  batch: number;
  /** The URL the batch was sent to (as returned by getUrl). */
  url: string;
  lines: string[];
  startedAt: Date;
}

export interface LogplexStream {
  /** One entry per finished batch, in order. */
  readonly results: StreamBatchResult[];
  /**
   * Resolves once `check` holds for the results (checked now and after every batch); rejects
   * after `timeoutMs`, or when the stream stops first.
   */
  until(check: (results: StreamBatchResult[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves once `n` batches that started at or after `since` have finished. */
  sentSince(since: number, n: number): Promise<void>;
  /** Stops after the batch in flight (which is recorded) and resolves then. */
  stop(): Promise<void>;
}

/**
 * Keeps sending batches, one at a time like a Logplex drain, to whatever `getUrl()` returns at
 * the moment each batch starts, until stop(). A rotation test swaps the URL (and token) under it
 * and then checks that no batch was dropped or failed.
 */
export function startStream(getUrl: () => string, opts: StreamOptions): LogplexStream {
  const results: StreamBatchResult[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  /** Checked after each batch (and once the loop ends): true when the waiter is done. */
  let waiters: (() => boolean)[] = [];
  const notify = () => {
    waiters = waiters.filter((w) => !w());
  };
  const text = opts.text ?? ((b: number, l: number) => `stream batch ${b} line ${l}`);

  const loop = (async () => {
    for (let batch = 0; !stopped; batch++) {
      const url = getUrl();
      const startedAt = new Date();
      const lines = Array.from({ length: opts.linesPerBatch }, (_, l) => text(batch, l));
      const msgs: LogplexMessage[] = lines.map((t) => ({
        time: startedAt,
        appName: opts.appName ?? 'app',
        procid: opts.procid ?? 'web.1',
        text: t,
      }));
      const r = await sendBatch(url, msgs, opts);
      results.push({ ...r, batch, url, lines, startedAt });
      notify();
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  })().finally(() => {
    stopped = true;
    notify();
  });

  function until(check: (r: StreamBatchResult[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what} (${results.length} batches sent)`)), timeoutMs);
      const done = (err?: Error) => {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter = () => {
        if (check(results)) done();
        else if (stopped) done(new Error(`the stream stopped before ${what} (${results.length} batches sent)`));
        else return false;
        return true;
      };
      if (!waiter()) waiters.push(waiter);
    });
  }

  return {
    results,
    until,
    sentSince: (since, n) => until((rs) => rs.filter((b) => b.startedAt.getTime() >= since).length >= n, `${n} batches sent after ${new Date(since).toISOString()}`),
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
