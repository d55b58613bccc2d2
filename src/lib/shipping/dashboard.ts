// The log-shipping runbook's Monitoring API and status page, as one request handler with no
// server of its own: `logs dashboard` puts it behind node:http on loopback. Routes:
//   GET  /                       the status page (HTML, no external assets, refreshes itself)
//   GET  /api/logs/health        {"status": "healthy"|"warning"|"critical", reasons, …}
//   GET  /api/logs/status        the report as JSON (?days=7|30)
//   GET  /api/logs/report        the report as text
//   GET  /api/logs/supabase      ?source=S&date=D[&limit=N]: the shipped day's entries from S3
//   POST /api/logs/ship          {source, date}: ships a Supabase day; needs the bearer token
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash, timingSafeEqual } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { Settings } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { redact } from '../core/secrets.js';
import { formatBytes } from '../core/sizes.js';
import { splitBytes } from '../logs/text.js';
import { shippedKey } from './layout.js';
import { buildReport, renderReport, usd, type ShippingReport } from './report.js';
import { checkPulledDay, shipPulledDay } from './pulled-day.js';

export const TOKEN_ENV = 'RAXX_OPS_DASHBOARD_TOKEN';
/** The page reloads itself this often. */
export const REFRESH_SECONDS = 60;
const MAX_LINES = 10_000;

export interface DashboardRequest {
  method: string;
  /** Path and query, e.g. `/api/logs/status?days=30`. */
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

export interface DashboardResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface DashboardDeps {
  s3(): Promise<S3Client>;
  config: Settings;
  env: NodeJS.ProcessEnv;
  now(): number;
  endpoint: string;
  signal: AbortSignal;
  /** `dashboard` (the local server) or the function's name. */
  via: string;
  onWarn?: (text: string) => void;
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): DashboardResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(value, null, 2) + '\n',
});
const problem = (status: number, error: string, hint?: string, headers: Record<string, string> = {}) => json(status, { error, ...(hint ? { hint } : {}) }, headers);

export async function handleDashboard(req: DashboardRequest, deps: DashboardDeps): Promise<DashboardResponse> {
  const url = new URL(req.url, 'http://dashboard');
  const route = `${req.method.toUpperCase()} ${url.pathname.replace(/\/+$/, '') || '/'}`;
  const known = ['/', '/api/logs/health', '/api/logs/status', '/api/logs/report', '/api/logs/supabase', '/api/logs/ship'];
  try {
    switch (route) {
      case 'GET /':
        return page(await report(deps, daysOf(url)));
      case 'GET /api/logs/health': {
        const r = await report(deps, 7);
        return json(200, { status: r.health, reasons: r.reasons, checkedAt: r.generatedAt, days: r.days, logs: r.rows.map((x) => ({ kind: x.kind, name: x.name, required: x.required, health: x.health, missing: x.missing })) });
      }
      case 'GET /api/logs/status':
        return json(200, await report(deps, daysOf(url)));
      case 'GET /api/logs/report':
        return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: renderReport(await report(deps, daysOf(url))) };
      case 'GET /api/logs/supabase':
        return await shippedDay(url, deps);
      case 'POST /api/logs/ship':
        return await ship(req, deps);
      default: {
        const path = url.pathname.replace(/\/+$/, '') || '/';
        if (known.includes(path)) return problem(405, `${req.method} is not allowed on ${path}`, path === '/api/logs/ship' ? 'POST it' : 'GET it', { allow: path === '/api/logs/ship' ? 'POST' : 'GET' });
        return problem(404, `no such endpoint: ${path}`, `endpoints: ${known.join(', ')}`);
      }
    }
  } catch (err) {
    if (err instanceof UserError) return problem(err.exitCode === 2 ? 400 : 502, redact(err.message), err.hint);
    deps.onWarn?.(`dashboard: ${redact((err as Error).message)}`);
    return problem(500, 'internal error', 'see the server log');
  }
}

function daysOf(url: URL): number {
  const d = url.searchParams.get('days');
  if (d === null) return 7;
  if (d !== '7' && d !== '30') throw new BadRequest('days must be 7 or 30');
  return Number(d);
}

class BadRequest extends UserError {
  readonly exitCode = 2 as const;
}

async function report(deps: DashboardDeps, days: number): Promise<ShippingReport> {
  return buildReport({ s3: await deps.s3(), config: deps.config, now: deps.now(), days, signal: deps.signal, endpoint: deps.endpoint });
}

/** The runbook's "GET /api/logs/supabase": a shipped day's entries, read back from S3. */
async function shippedDay(url: URL, deps: DashboardDeps): Promise<DashboardResponse> {
  const source = url.searchParams.get('source') ?? '';
  const date = url.searchParams.get('date') ?? '';
  const limitText = url.searchParams.get('limit') ?? '1000';
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LINES) throw new BadRequest(`limit must be 1-${MAX_LINES}`);
  const declared = deps.config.logSources.find((s) => s.name === source);
  if (!declared) throw new BadRequest(`unknown source "${source}"`, { hint: `declared sources: ${deps.config.logSources.map((s) => s.name).join(', ') || 'none'}` });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) throw new BadRequest(`date must be a UTC day, YYYY-MM-DD`);
  const bucket = declared.bucket ?? deps.config.drain.bucket;
  const key = shippedKey(declared.layout, deps.config.drain.keyPrefix, source, date);
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const s3 = await deps.s3();
  let body: Uint8Array;
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: deps.signal });
    body = await got.Body!.transformToByteArray();
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return problem(404, `${source} ${date} has not been shipped`, `POST /api/logs/ship {"source": "${source}", "date": "${date}"}, or raxx-ops logs ship ${source} --date ${date}`);
    throw err;
  }
  const limit = Number(limitText);
  const entries: unknown[] = [];
  let total = 0;
  splitBytes(gunzipSync(body), {
    line(l) {
      if (l === '') return;
      total += 1;
      if (entries.length >= limit) return;
      try {
        entries.push(JSON.parse(l));
      } catch {
        entries.push(l);
      }
    },
    result: () => undefined,
  });
  return json(200, { source, date, bucket, key, total, truncated: total > limit, entries });
}

/** Same length digests, compared in constant time: the token's length is not leaked either. */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

async function ship(req: DashboardRequest, deps: DashboardDeps): Promise<DashboardResponse> {
  const expected = deps.env[TOKEN_ENV];
  if (!expected) return problem(403, 'manual shipping is disabled', `set ${TOKEN_ENV} where the dashboard runs to enable POST /api/logs/ship`);
  const auth = req.headers.authorization ?? '';
  const given = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
  if (!given || !tokenMatches(given, expected)) return problem(401, 'a valid bearer token is needed', `send Authorization: Bearer <${TOKEN_ENV}>`, { 'www-authenticate': 'Bearer' });
  let body: { source?: unknown; date?: unknown };
  try {
    body = JSON.parse(req.body || '{}') as typeof body;
  } catch {
    throw new BadRequest('the body is not JSON', { hint: '{"source": "auth", "date": "YYYY-MM-DD"}' });
  }
  if (typeof body !== 'object' || body === null || typeof body.source !== 'string') throw new BadRequest('the body needs "source"', { hint: '{"source": "auth", "date": "YYYY-MM-DD"}' });
  const now = deps.now();
  const date = typeof body.date === 'string' ? body.date : new Date(now - 86_400_000).toISOString().slice(0, 10);
  checkPulledDay(deps.config, body.source, date, now);
  try {
    const run = await shipPulledDay({ s3: await deps.s3(), config: deps.config, env: deps.env, source: body.source, day: date, now, signal: deps.signal, endpoint: deps.endpoint, via: deps.via, ...(deps.onWarn ? { onWarn: deps.onWarn } : {}) });
    return json(200, run);
  } catch (err) {
    if (err instanceof UserError) return problem(err.exitCode === 2 ? 400 : 502, `${body.source} ${date} failed: ${redact(err.message)}`, err.hint);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// The status page: server-rendered, inline CSS, no script, reloaded by the browser itself.

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function page(r: ShippingReport): DashboardResponse {
  const now = Date.parse(r.generatedAt);
  const head = r.days.map((d) => `<th scope="col">${esc(d.slice(5))}</th>`).join('');
  const rows = r.rows
    .map((row) => {
      const cells = row.days
        .map((d) => {
          const label = d.missing ? (row.kind === 'source' && row.required ? 'MISSING' : 'missing') : 'present';
          const cls = d.missing ? (row.kind === 'source' && row.required ? 'bad' : 'warn') : 'ok';
          const detail = d.missing ? '' : `<span class="detail">${d.entries !== null ? `${d.entries} entries` : `${d.objects} obj`} · ${esc(formatBytes(d.bytes))}</span>`;
          return `<td class="cell ${cls}" data-day="${esc(d.day)}" data-state="${d.missing ? 'missing' : 'present'}" title="${esc(row.name)} ${esc(d.day)}: ${label}"><span class="label">${d.missing ? '✗' : '✓'} ${label}</span>${detail}</td>`;
        })
        .join('');
      const fresh = row.newestDay ? `${row.newestDay} (${Math.max(0, Math.round((now - Date.parse(`${row.newestDay}T00:00:00Z`) - 86_400_000) / 3_600_000))} h ago)` : 'none in window';
      const run = row.lastRun ? `<span class="run ${row.lastRun.outcome === 'failed' ? 'bad' : 'ok'}">${esc(row.lastRun.outcome)}</span> ${esc(row.lastRun.day)} at ${esc(row.lastRun.startedAt.slice(0, 16).replace('T', ' '))} UTC${row.lastRun.error ? `<br><span class="err">${esc(row.lastRun.error)}</span>` : ''}` : row.kind === 'source' ? 'none recorded' : '—';
      return (
        `<tr data-name="${esc(row.name)}"><th scope="row">${esc(row.name)}<br><span class="kind">${row.kind === 'source' ? (row.required ? 'source · required' : 'source · optional') : 'drain app'}</span></th>` +
        `<td class="health ${row.health}">${row.health}</td>${cells}` +
        `<td>${row.missing.length ? esc(row.missing.join(', ')) : 'none'}</td><td>${esc(formatBytes(row.bytes))}</td><td>${esc(fresh)}</td><td>${run}</td></tr>`
      );
    })
    .join('\n');
  const buckets = r.buckets.map((b) => `<li>s3://${esc(b.bucket)}: ${b.objects} objects, ${esc(formatBytes(b.bytes))}${b.partial ? ' at least' : ''}, ~${usd(b.monthlyUsd)}/month</li>`).join('');
  const other = r.days.length === 7 ? '<a href="/?days=30">last 30 days</a>' : '<a href="/?days=7">last 7 days</a>';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log shipping — ${r.health}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.3rem;margin:0 0 .5rem}
.banner{padding:.6rem .9rem;border-radius:6px;font-weight:600;margin-bottom:1rem}
.banner.healthy{background:#dff5e1;color:#14532d}.banner.warning{background:#fff4d6;color:#713f12}.banner.critical{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
.cell{min-width:5.5rem}.cell .label{display:block;font-weight:600}.cell .detail{font-size:.8rem;color:#3b4148}
.ok{background:#dff5e1}.warn{background:#fff4d6}.bad{background:#fde2e1}
.health.healthy{background:#dff5e1}.health.warning{background:#fff4d6}.health.critical{background:#fde2e1;font-weight:700}
.kind{font-weight:400;font-size:.8rem;color:#57606a}.err{font-size:.8rem;color:#7f1d1d}.run.bad{font-weight:700}
footer{color:#57606a;font-size:.85rem}
</style></head>
<body>
<h1>Log shipping status</h1>
<div class="banner ${r.health}" id="health" data-status="${r.health}">Health: ${r.health.toUpperCase()}${r.reasons.length ? `<ul>${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : ' — all expected logs present'}</div>
<table id="grid"><thead><tr><th scope="col">log</th><th scope="col">health</th>${head}<th scope="col">missing dates</th><th scope="col">size</th><th scope="col">freshness (newest day)</th><th scope="col">last run</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Storage</h2><ul>${buckets}</ul>
<footer>UTC days ${esc(r.days[0] ?? '')} to ${esc(r.days[r.days.length - 1] ?? '')} · generated ${esc(r.generatedAt)} · refreshes every ${REFRESH_SECONDS} s · ${other} · <a href="/api/logs/report">text report</a></footer>
</body></html>
`;
  return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': PAGE_CSP, 'x-content-type-options': 'nosniff' }, body: html };
}
