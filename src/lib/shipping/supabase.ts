// A Supabase project's platform logs (the log-shipping runbook's `get_auth_logs` /
// `get_api_logs`), read through the Management API's logs endpoint: ClickHouse SQL over one
// `logs` table filtered by `source_name`, the time range in `iso_timestamp_start` /
// `iso_timestamp_end`. An answer is capped in rows and its range in time, and a capped answer
// looks like a complete one, so every range is counted first and its rows must add up to the
// count; a range with more rows than one answer holds is halved until each half fits.
import { ConfigError, InterruptedError, ServiceError, UsageError } from '../core/errors.js';
import { registerSecret } from '../core/secrets.js';
import { backoffMs, sleep } from '../core/sleep.js';

export const SUPABASE_API_DEFAULT = 'https://api.supabase.com';
/** The endpoint refuses a range longer than a day. */
export const MAX_RANGE_MS = 24 * 3600_000;
const RETRIES = 5;
const MAX_WAIT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 60_000;

export interface SupabaseAccess {
  baseUrl: string;
  projectRef: string;
  token: string;
}

/** Where and as whom to read: the project ref from the config or SUPABASE_URL, the token from SUPABASE_ACCESS_TOKEN. */
export function supabaseAccess(projectRef: string, env: NodeJS.ProcessEnv): SupabaseAccess {
  let ref = projectRef;
  if (!ref && env.SUPABASE_URL) {
    let host = '';
    try {
      host = new URL(env.SUPABASE_URL).hostname;
    } catch {
      throw new ConfigError(`SUPABASE_URL is not a URL`, { hint: 'set it to the project URL, e.g. https://<project-ref>.supabase.co, or set "supabase": {"projectRef": "…"} in the config' });
    }
    const sub = host.split('.')[0] ?? '';
    if (!/^[a-z0-9]{20}$/.test(sub) || !host.endsWith('.supabase.co')) {
      throw new ConfigError(`SUPABASE_URL (${host}) does not name a project: expected https://<project-ref>.supabase.co`, { hint: 'set "supabase": {"projectRef": "<20-character ref>"} in the config (the ref is in the project\'s dashboard URL)' });
    }
    ref = sub;
  }
  if (!ref) {
    throw new ConfigError('no Supabase project: neither "supabase.projectRef" in the config nor SUPABASE_URL is set', { hint: 'export SUPABASE_URL=https://<project-ref>.supabase.co, or set "supabase": {"projectRef": "…"} in the config' });
  }
  const token = env.SUPABASE_ACCESS_TOKEN?.trim();
  if (!token) {
    const roleKeyOnly = Boolean(env.SUPABASE_SERVICE_ROLE_KEY);
    throw new ConfigError(
      roleKeyOnly
        ? "SUPABASE_SERVICE_ROLE_KEY is set, but a project's service-role key cannot read its platform logs: they are read through the Management API"
        : 'SUPABASE_ACCESS_TOKEN is not set',
      { hint: 'export SUPABASE_ACCESS_TOKEN=<a personal access token (account → access tokens) or an OAuth token of the Management API>' },
    );
  }
  registerSecret(token);
  const baseUrl = (env.SUPABASE_API_URL?.trim() || SUPABASE_API_DEFAULT).replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s?#]+$/.test(baseUrl)) throw new ConfigError(`SUPABASE_API_URL is not an http(s) URL`, { hint: `unset it to use ${SUPABASE_API_DEFAULT}` });
  return { baseUrl, projectRef: ref, token };
}

export interface LogRow {
  id: string;
  /** Epoch microseconds. */
  us: number;
  message: string;
  severity: string | null;
  attributes: Record<string, unknown>;
}

export interface PullOptions {
  access: SupabaseAccess;
  /** `auth_logs`, `edge_logs`, … */
  source: string;
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
  pageRows: number;
  signal: AbortSignal;
  onWait?: (ms: number, why: string) => void;
  /** Base of the backoff after a 5xx or a network error, in ms (then doubled). */
  retryBaseMs?: number;
}

export interface PullStats {
  queries: number;
  waits: number;
}

/** The rows of [start, end) in time order, each once, in batches (one per range that fits an answer). */
export async function* pullRows(opts: PullOptions, stats: PullStats = { queries: 0, waits: 0 }): AsyncGenerator<LogRow[]> {
  if (!/^[a-z][a-z0-9_]*$/.test(opts.source)) throw new UsageError(`"${opts.source}" is not a Supabase log source name`, { hint: 'e.g. auth_logs or edge_logs' });
  // Ranges still to read, earliest last (a stack): each starts as at most a day.
  const todo: [number, number][] = [];
  for (let t = opts.start; t < opts.end; t += MAX_RANGE_MS) todo.unshift([t, Math.min(t + MAX_RANGE_MS, opts.end)]);
  const seen = new Set<string>();
  while (todo.length > 0) {
    const [from, to] = todo.pop()!;
    const count = await countRows(opts, from, to, stats);
    if (count === 0) continue;
    let rows: LogRow[] | undefined;
    if (count <= opts.pageRows) {
      rows = await selectRows(opts, from, to, stats);
      // Fewer rows than counted: the answer was cut (by a cap lower than ours); read it in halves.
      if (rows.length < count) rows = undefined;
    }
    if (rows === undefined) {
      if (to - from <= 1) {
        throw new ServiceError('Supabase', `more than ${opts.pageRows} ${opts.source} rows within one millisecond (${new Date(from).toISOString()}): they cannot be paged by time`, {
          hint: 'raise "supabase.pageRows" in the config (the endpoint\'s cap permitting)',
        });
      }
      const mid = from + Math.floor((to - from) / 2);
      todo.push([mid, to], [from, mid]);
      continue;
    }
    // The range's edges may be inclusive at both ends: a row belongs to the range it starts in.
    const fresh = rows.filter((r) => r.us >= from * 1000 && r.us < to * 1000 && !seen.has(r.id));
    for (const r of fresh) seen.add(r.id);
    fresh.sort((a, b) => a.us - b.us || (a.id < b.id ? -1 : 1));
    if (fresh.length > 0) yield fresh;
  }
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function countRows(opts: PullOptions, from: number, to: number, stats: PullStats): Promise<number> {
  const sql = `SELECT count(*) AS count FROM logs WHERE source_name = ${quote(opts.source)}`;
  const result = await query(opts, sql, from, to, stats);
  const n = Number((result[0] as { count?: unknown } | undefined)?.count);
  if (!Number.isFinite(n) || n < 0) throw new ServiceError('Supabase', 'the logs endpoint answered a count without a number', { hint: 'check SUPABASE_API_URL' });
  return n;
}

async function selectRows(opts: PullOptions, from: number, to: number, stats: PullStats): Promise<LogRow[]> {
  const sql =
    `SELECT id, timestamp, event_message, severity_text, log_attributes FROM logs ` +
    `WHERE source_name = ${quote(opts.source)} ORDER BY timestamp ASC LIMIT ${opts.pageRows}`;
  const result = await query(opts, sql, from, to, stats);
  return result.map((raw, i) => toRow(raw, i));
}

function toRow(raw: unknown, i: number): LogRow {
  const r = (raw ?? {}) as Record<string, unknown>;
  const us = microseconds(r.timestamp);
  if (us === undefined || typeof r.id !== 'string') {
    throw new ServiceError('Supabase', `the logs endpoint answered row ${i + 1} without an id or a timestamp`, { hint: 'check SUPABASE_API_URL points at the Management API' });
  }
  const attributes = r.log_attributes && typeof r.log_attributes === 'object' ? (r.log_attributes as Record<string, unknown>) : {};
  return { id: r.id, us, message: typeof r.event_message === 'string' ? r.event_message : '', severity: typeof r.severity_text === 'string' && r.severity_text ? r.severity_text : null, attributes };
}

/** ClickHouse DateTime64 as text (`2026-10-01 10:00:00.123456`, UTC), ISO, or epoch microseconds. */
export function microseconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v > 1e14 ? Math.trunc(v) : Math.trunc(v * 1000);
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)?$/.exec(v.trim());
  if (!m) return /^\d+$/.test(v) ? microseconds(Number(v)) : undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  if (Number.isNaN(ms)) return undefined;
  return ms * 1000 + Number((m[3] ?? '').padEnd(6, '0').slice(0, 6));
}

/** One call of the endpoint: waits out 429s as told, retries 5xx and network errors, and stops on the rest. */
async function query(opts: PullOptions, sql: string, from: number, to: number, stats: PullStats): Promise<unknown[]> {
  const { access } = opts;
  const url = new URL(`${access.baseUrl}/v1/projects/${encodeURIComponent(access.projectRef)}/analytics/endpoints/logs`);
  url.searchParams.set('sql', sql);
  url.searchParams.set('iso_timestamp_start', new Date(from).toISOString());
  url.searchParams.set('iso_timestamp_end', new Date(to).toISOString());
  const base = opts.retryBaseMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal.aborted) throw new InterruptedError();
    stats.queries += 1;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${access.token}`, accept: 'application/json' },
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
    } catch (err) {
      if (opts.signal.aborted) throw new InterruptedError();
      if (attempt > RETRIES) throw new ServiceError('Supabase', `the Management API cannot be reached (${access.baseUrl}): ${(err as Error).message}`, { hint: 'check the network, and SUPABASE_API_URL when it is set' });
      await wait(opts, stats, backoffMs(attempt - 1, { baseMs: base }), 'network error');
      continue;
    }
    const text = await res.text();
    if (res.status === 429 || res.status >= 500) {
      if (attempt > RETRIES) throw new ServiceError('Supabase', `the logs endpoint answered ${res.status} ${attempt} times in a row`, { hint: res.status === 429 ? 'the Management API rate limit is per account: try again later, or when fewer tools share the token' : 'Supabase status: https://status.supabase.com' });
      const told = res.status === 429 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : undefined;
      await wait(opts, stats, told ?? backoffMs(attempt - 1, { baseMs: base }), res.status === 429 ? 'rate limited (429)' : `${res.status}`);
      continue;
    }
    const detail = errorText(text);
    if (res.status === 401) {
      throw new ConfigError(`Supabase refused the access token (401${detail ? `: ${detail}` : ''})`, { hint: 'SUPABASE_ACCESS_TOKEN must be a valid personal access token or OAuth token of the Management API (a service-role key is not one)' });
    }
    if (res.status === 403) {
      throw new ConfigError(`the access token may not read project ${access.projectRef}'s logs (403${detail ? `: ${detail}` : ''})`, { hint: "use a token of a member of the project's organization (with the analytics read scope for an OAuth token)" });
    }
    if (res.status === 404) {
      throw new ConfigError(`Supabase has no project ${access.projectRef} (404${detail ? `: ${detail}` : ''})`, { hint: 'check "supabase.projectRef" or SUPABASE_URL' });
    }
    if (!res.ok) throw new ServiceError('Supabase', `the logs endpoint refused the query (${res.status}${detail ? `: ${detail}` : ''})`, { hint: 'run with --debug and report the query' });
    let body: { result?: unknown; error?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new ServiceError('Supabase', `the logs endpoint answered ${res.status} with something that is not JSON`, { hint: 'check SUPABASE_API_URL points at the Management API' });
    }
    if (body.error) throw new ServiceError('Supabase', `the logs endpoint reported an error: ${errorText(JSON.stringify(body.error))}`, { hint: 'run with --debug and report the query' });
    if (!Array.isArray(body.result)) throw new ServiceError('Supabase', 'the logs endpoint answered without a result list', { hint: 'check SUPABASE_API_URL points at the Management API' });
    return body.result as unknown[];
  }
}

async function wait(opts: PullOptions, stats: PullStats, ms: number, why: string): Promise<void> {
  const capped = Math.min(Math.max(0, ms), MAX_WAIT_MS);
  stats.waits += 1;
  opts.onWait?.(capped, why);
  await sleep(capped, opts.signal);
}

/** Retry-After in seconds or as an HTTP date. */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorText(text: string): string {
  let t = text;
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    t = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error : typeof (j.error as { message?: unknown })?.message === 'string' ? String((j.error as { message: string }).message) : text;
  } catch {
    /* plain text */
  }
  return t.replace(/\s+/g, ' ').trim().slice(0, 200);
}

// ---------------------------------------------------------------------------------------------
// Rows → the runbook's entry shapes

/** The attributes of a row: its `log_attributes`, under the fields of a JSON event message (GoTrue logs JSON). */
function fieldsOf(row: LogRow): Record<string, unknown> {
  let fromMessage: Record<string, unknown> = {};
  if (row.message.trimStart().startsWith('{')) {
    try {
      const j = JSON.parse(row.message) as unknown;
      if (j && typeof j === 'object' && !Array.isArray(j)) fromMessage = j as Record<string, unknown>;
    } catch {
      /* a plain message */
    }
  }
  return { ...fromMessage, ...row.attributes };
}

function pick(f: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (f[n] !== undefined && f[n] !== null && f[n] !== '') return f[n];
  return null;
}
const str = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v));
const num = (v: unknown): number | null => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

function level(row: LogRow, f: Record<string, unknown>, fallback: string): string {
  return (str(row.severity ?? pick(f, 'level', 'severity')) ?? fallback).toUpperCase();
}

const iso = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

/** The runbook's auth entry: timestamp, level, type, user_id, action, result, ip_address, user_agent, metadata. */
export function authEntry(row: LogRow): Record<string, unknown> {
  const f = fieldsOf(row);
  const status = num(pick(f, 'status', 'response.status_code', 'status_code'));
  const error = pick(f, 'error', 'error_code', 'auth_event.error');
  const used = new Set(['level', 'severity', 'actor_id', 'auth_event.actor_id', 'user_id', 'action', 'auth_event.action', 'msg', 'remote_addr', 'ip', 'user_agent', 'header.user_agent', 'time', 'timestamp']);
  const metadata: Record<string, unknown> = { id: row.id };
  for (const [k, v] of Object.entries(f)) if (!used.has(k) && v !== null && v !== undefined && v !== '') metadata[k] = v;
  if (row.message && !row.message.trimStart().startsWith('{')) metadata.message = row.message;
  return {
    timestamp: iso(row.us),
    level: level(row, f, error ? 'ERROR' : 'INFO'),
    type: 'auth',
    user_id: str(pick(f, 'actor_id', 'auth_event.actor_id', 'user_id', 'sub')),
    action: str(pick(f, 'action', 'auth_event.action', 'msg')) ?? 'unknown',
    result: error || (status !== null && status >= 400) ? 'failure' : 'success',
    ip_address: str(pick(f, 'remote_addr', 'ip', 'ip_address')),
    user_agent: str(pick(f, 'user_agent', 'header.user_agent', 'request.headers.user_agent')),
    metadata,
  };
}

/** The runbook's API entry: method, path, status_code, duration_ms, user_id, request_id, ip_address. */
export function apiEntry(row: LogRow): Record<string, unknown> {
  const f = fieldsOf(row);
  // Edge logs' message: "GET | 200 | 1.2.3.4 | <ray> | https://<ref>.supabase.co/rest/v1/x | <agent>".
  const parts = row.message.split(' | ');
  const url = parts.length >= 5 ? parts[4]! : '';
  let pathFromMessage: string | null = null;
  try {
    if (url) pathFromMessage = new URL(url).pathname;
  } catch {
    /* not a URL */
  }
  const status = num(pick(f, 'response.status_code', 'status_code', 'status')) ?? (parts.length >= 2 ? num(parts[1]) : null);
  return {
    timestamp: iso(row.us),
    level: level(row, f, status !== null && status >= 500 ? 'ERROR' : status !== null && status >= 400 ? 'WARN' : 'INFO'),
    type: 'api',
    method: str(pick(f, 'request.method', 'method')) ?? (parts.length >= 2 ? parts[0]! : null),
    path: str(pick(f, 'request.path', 'path')) ?? pathFromMessage,
    status_code: status,
    duration_ms: num(pick(f, 'response.origin_time', 'duration_ms', 'request.duration_ms')),
    user_id: str(pick(f, 'request.sb.jwt.authorization.payload.subject', 'user_id', 'actor_id')),
    request_id: str(pick(f, 'request.headers.cf_ray', 'request_id', 'request.headers.x_request_id')) ?? (parts.length >= 4 ? parts[3]! : row.id),
    ip_address: str(pick(f, 'request.headers.cf_connecting_ip', 'request.headers.x_real_ip', 'ip_address', 'remote_addr')) ?? (parts.length >= 3 ? parts[2]! : null),
  };
}

/** Any other source: its time, level, message and attributes as they are. */
export function genericEntry(row: LogRow, type: string): Record<string, unknown> {
  const f = fieldsOf(row);
  return { timestamp: iso(row.us), level: level(row, f, 'INFO'), type, id: row.id, message: row.message, attributes: row.attributes };
}

export function entryOf(supabaseSource: string): (row: LogRow) => Record<string, unknown> {
  if (supabaseSource === 'auth_logs') return authEntry;
  if (supabaseSource === 'edge_logs') return apiEntry;
  const type = supabaseSource.replace(/_logs$/, '');
  return (row) => genericEntry(row, type);
}

/** A UTC day's rows as JSON lines, pulled as they are read. */
export async function* dayLines(opts: Omit<PullOptions, 'start' | 'end'> & { day: string }, stats?: PullStats): AsyncGenerator<Buffer> {
  const start = Date.parse(`${opts.day}T00:00:00Z`);
  const toEntry = entryOf(opts.source);
  for await (const rows of pullRows({ ...opts, start, end: start + MAX_RANGE_MS }, stats)) {
    yield Buffer.from(rows.map((r) => JSON.stringify(toEntry(r)) + '\n').join(''), 'utf8');
  }
}
