// Shared by the receiver's tests: the fixture events and token, Logplex-style bodies, and a
// log collector.
import { readFileSync } from 'node:fs';
import type { LogSink, RequestLog } from '../src/log.js';

// The SDK warns once per process that Node 20 is near its end of support; not this suite's news.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The token the fixture events in test/events/ carry. */
export const TOKEN = 'fixture-drain-token-4b1d6e0c9a7f2358';
export const PREVIOUS_TOKEN = 'fixture-previous-token-8e2a5c7d1f3b9046';

export type EventJson = {
  rawQueryString: string;
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: { requestId: string; http: { method: string } };
  body?: string;
  isBase64Encoded: boolean;
  [k: string]: unknown;
};

export function loadEvent(name: 'logplex-batch' | 'basic-auth' | 'bearer-synthetic' | 'wrong-token' | 'get-request'): EventJson {
  return JSON.parse(readFileSync(new URL(`./events/${name}.json`, import.meta.url), 'utf8')) as EventJson;
}

/** The decoded body of an event. */
export function eventBody(ev: EventJson): Buffer {
  return Buffer.from(ev.body ?? '', ev.isBase64Encoded ? 'base64' : 'utf8');
}

/** A copy of the Logplex fixture with another body (base64, as Lambda passes it) and headers. */
export function withBody(body: string | Buffer, headers: Record<string, string | undefined> = {}, base = loadEvent('logplex-batch')): EventJson {
  const ev = structuredClone(base);
  ev.body = Buffer.from(body).toString('base64');
  ev.isBase64Encoded = true;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete ev.headers[k];
    else ev.headers[k] = v;
  }
  return ev;
}

/** A dyno line as Logplex frames it (its newline inside the count). */
export function dynoLine(iso: string, text: string, opts: { appName?: string; procid?: string; pri?: number } = {}): string {
  const msg = `<${opts.pri ?? 190}>1 ${iso} host ${opts.appName ?? 'app'} ${opts.procid ?? 'web.1'} - ${text}\n`;
  return `${Buffer.byteLength(msg)} ${msg}`;
}

export function captureLog(): { sink: LogSink; lines: string[]; entries: () => RequestLog[]; last: () => RequestLog } {
  const lines: string[] = [];
  const entries = () => lines.map((l) => JSON.parse(l) as RequestLog);
  return {
    sink: (line) => {
      lines.push(line);
    },
    lines,
    entries,
    last: () => {
      const all = entries();
      if (all.length === 0) throw new Error('nothing was logged');
      return all[all.length - 1]!;
    },
  };
}
