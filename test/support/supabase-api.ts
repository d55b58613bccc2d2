// A Supabase Management API stand-in on loopback: the logs endpoint
// (`GET /v1/projects/{ref}/analytics/endpoints/logs`) over one `logs` table, as the public
// reference describes it: bearer auth (401 without a valid token, 403 for a token of another
// organization, 404 for an unknown project), a row cap per answer that cuts silently, a
// 24-hour limit on the range, 429 with Retry-After when told to. It reads only the SQL shapes
// a client needs: `count(*)`, or the columns with `source_name = '…'` and `LIMIT n`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInRow {
  id: string;
  source_name: string;
  /** ISO time. */
  timestamp: string;
  event_message: string;
  severity_text?: string;
  log_attributes?: Record<string, unknown>;
}

export interface SupabaseStandIn {
  url: string;
  projectRef: string;
  token: string;
  rows: StandInRow[];
  /** Rows per answer, whatever LIMIT says. */
  cap: number;
  /** The next N queries answer 429 with this Retry-After (seconds). */
  throttle(n: number, retryAfter?: string): void;
  /** Every request: the SQL and the range, and what was answered. */
  requests: { sql: string; start: string; end: string; status: number; rows: number }[];
  /** Tokens answered 403. */
  forbiddenTokens: Set<string>;
  close(): Promise<void>;
}

export async function startSupabase(opts: { projectRef?: string; token?: string; cap?: number } = {}): Promise<SupabaseStandIn> {
  const projectRef = opts.projectRef ?? 'abcdefghijklmnopqrst';
  const token = opts.token ?? 'sbp_standin0000000000000000000000000000000';
  let throttled = 0;
  let retryAfter = '1';
  const state: SupabaseStandIn = {
    url: '',
    projectRef,
    token,
    rows: [],
    cap: opts.cap ?? 1000,
    throttle(n, after = '1') {
      throttled = n;
      retryAfter = after;
    },
    requests: [],
    forbiddenTokens: new Set(),
    close: () => Promise.resolve(),
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const u = new URL(req.url ?? '/', 'http://x');
    const sql = u.searchParams.get('sql') ?? '';
    const start = u.searchParams.get('iso_timestamp_start') ?? '';
    const end = u.searchParams.get('iso_timestamp_end') ?? '';
    const log = (status: number, rows = 0) => state.requests.push({ sql, start, end, status, rows });
    const m = /^\/v1\/projects\/([^/]+)\/analytics\/endpoints\/logs$/.exec(u.pathname);
    if (!m || req.method !== 'GET') return log(404), send(404, { message: 'Cannot GET ' + u.pathname });
    const auth = req.headers.authorization ?? '';
    const bearer = /^Bearer (.+)$/.exec(auth)?.[1];
    if (bearer === undefined || (bearer !== token && !state.forbiddenTokens.has(bearer))) return log(401), send(401, { message: 'Unauthorized' });
    if (state.forbiddenTokens.has(bearer)) return log(403), send(403, { message: 'Forbidden resource' });
    if (m[1] !== projectRef) return log(404), send(404, { message: 'Project not found' });
    if (throttled > 0) {
      throttled -= 1;
      return log(429), send(429, { message: 'Too many requests' }, { 'retry-after': retryAfter });
    }
    const from = Date.parse(start);
    const to = Date.parse(end);
    if (Number.isNaN(from) || Number.isNaN(to) || to < from) return log(400), send(400, { error: { message: 'iso_timestamp_start and iso_timestamp_end must be ISO timestamps, start before end' } });
    if (to - from > 24 * 3600_000) return log(400), send(400, { error: { message: 'Querying a time range greater than 1 day is not allowed' } });
    const source = /source_name\s*=\s*'([^']*)'/.exec(sql)?.[1];
    // Both ends inclusive, as a careless server might: the client must not count a row twice.
    const matching = state.rows.filter((r) => (source === undefined || r.source_name === source) && Date.parse(r.timestamp) >= from && Date.parse(r.timestamp) <= to);
    if (/count\(\*\)/i.test(sql)) {
      log(200, 1);
      return send(200, { result: [{ count: matching.length }] });
    }
    const limit = Number(/LIMIT\s+(\d+)/i.exec(sql)?.[1] ?? Infinity);
    const rows = matching
      .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp))
      .slice(0, Math.min(limit, state.cap))
      .map((r) => ({ id: r.id, timestamp: r.timestamp.replace('T', ' ').replace('Z', ''), event_message: r.event_message, severity_text: r.severity_text ?? '', log_attributes: r.log_attributes ?? {} }));
    log(200, rows.length);
    send(200, { result: rows, error: null });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

/** GoTrue-style auth rows of a day: n logins spread over the day, each with an e-mail address. */
export function authRows(day: string, n: number, opts: { failEvery?: number } = {}): StandInRow[] {
  const start = Date.parse(`${day}T00:00:00Z`);
  const step = Math.floor((24 * 3600_000) / n);
  return Array.from({ length: n }, (_, i) => {
    const failed = opts.failEvery !== undefined && i % opts.failEvery === 0;
    const msg = {
      action: failed ? 'login' : 'token_refreshed',
      actor_id: `user-${i}`,
      actor_username: `person${i}@example.com`,
      level: failed ? 'error' : 'info',
      msg: 'request completed',
      remote_addr: `10.0.${i % 256}.${(i >> 8) % 256}`,
      status: failed ? 400 : 200,
      path: '/token',
      method: 'POST',
    };
    return { id: `auth-${day}-${i}`, source_name: 'auth_logs', timestamp: new Date(start + i * step).toISOString(), event_message: JSON.stringify(msg), log_attributes: { 'header.user_agent': 'Mozilla/5.0' } };
  });
}

/** Edge (API) rows of a day. */
export function edgeRows(day: string, n: number): StandInRow[] {
  const start = Date.parse(`${day}T00:00:00Z`);
  const step = Math.floor((24 * 3600_000) / n);
  return Array.from({ length: n }, (_, i) => ({
    id: `edge-${day}-${i}`,
    source_name: 'edge_logs',
    timestamp: new Date(start + i * step).toISOString(),
    event_message: `GET | 200 | 10.1.0.${i % 256} | ray${i} | https://abcdefghijklmnopqrst.supabase.co/rest/v1/users | Mozilla/5.0`,
    log_attributes: { 'request.method': 'GET', 'request.path': '/rest/v1/users', 'response.status_code': 200, 'response.origin_time': 12 + (i % 50), 'request.headers.cf_ray': `ray${i}` },
  }));
}
