// A local Heroku Platform API: apps, log drains and config vars, behaving as the public schema
// (heroku/platform-api) and the Dev Center reference describe it. Reached by heroku-client
// (and so by the CLI) through HEROKU_API_URL.
//
// What it holds to:
// - `Accept: application/vnd.heroku+json; version=3` on every request, else 406 not_acceptable;
// - auth by `Authorization: Bearer <token>`, or Basic with the token as password (heroku-client
//   sends `:<token>`), else 401 unauthorized;
// - errors as JSON `{ id, message }`;
// - a rate-limit pool: `RateLimit-Remaining` on every response, 429 rate_limit when empty;
// - Range paging of lists: a cut list answers 206 with `Next-Range: id ]<last id>..; max=<n>`,
//   which the client sends back as `Range` (heroku-client starts with `Range: id ..; max=1000`).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { APP_NAME_PATTERN } from '@raxx/log-format/object-key';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The most a Range may ask for, and the page size when no Range is sent (Dev Center: Ranges). */
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 200;

export interface HerokuAppRef {
  id: string;
  name: string;
}

export interface HerokuAddonRef {
  id: string;
  name: string;
}

export interface HerokuDrain {
  id: string;
  url: string;
  token: string;
  addon: HerokuAddonRef | null;
  app: HerokuAppRef;
  created_at: string;
  updated_at: string;
}

export interface HerokuApiCall {
  method: string;
  /** The request path as sent (still URL-encoded), query string included. */
  path: string;
  status: number;
  /** Parsed JSON request body, when there was one. */
  body?: unknown;
  /** The Range header the request carried, if any. */
  range?: string;
}

export interface FailNextOptions {
  /** Only requests with this method (e.g. 'POST'). */
  method?: string;
  /** Only requests whose path contains this string. */
  pathIncludes?: string;
  /** Error body to answer with; default `{ id, message }` for the status. */
  body?: unknown;
}

export interface StartHerokuApiOptions {
  /** The API key that authenticates (default: a random one, see `token`). */
  token?: string;
  /** Apps that exist from the start. */
  apps?: string[];
  /** Largest page a list answers with; lists longer than this answer 206 (default 1000). */
  pageSize?: number;
  /** Requests left in the rate-limit pool (default 4500, Heroku's pool per account). */
  rateLimit?: number;
  /** Pool refill per minute (Heroku: about 75). Default 0, so tests are deterministic. */
  refillPerMinute?: number;
}

export interface HerokuApiServer {
  /** Base URL for heroku-client's `host` and HEROKU_API_URL, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  token: string;
  /** Every request answered, in order. */
  calls: HerokuApiCall[];
  resetCalls(): void;
  addApp(name: string, configVars?: Record<string, string>): HerokuAppRef;
  /** Adds a drain as if created earlier (by an add-on when `addon` is given). */
  addDrain(app: string, url: string, opts?: { addon?: string | { id?: string; name: string } }): HerokuDrain;
  drains(app: string): HerokuDrain[];
  configVars(app: string): Record<string, string>;
  /** Merges like PATCH /config-vars: a null value deletes the var. */
  setConfigVars(app: string, vars: Record<string, string | null>): void;
  /** The next `count` matching requests fail with `status` (5xx, 429, …) before reaching a route. */
  failNext(count: number, status: number, opts?: FailNextOptions): void;
  setRateLimitRemaining(n: number): void;
  rateLimitRemaining(): number;
  /** Headers added to every later response, e.g. Heroku's `Warning-Message`. */
  setResponseHeaders(headers: Record<string, string>): void;
  stop(): Promise<void>;
}

interface AppState {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  configVars: Record<string, string>;
  drains: HerokuDrain[];
}

interface FailRule extends FailNextOptions {
  remaining: number;
  status: number;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const ERROR_IDS: Record<number, [string, string]> = {
  400: ['bad_request', 'Bad request.'],
  401: ['unauthorized', 'Invalid credentials provided.'],
  403: ['forbidden', 'You do not have access to that resource.'],
  404: ['not_found', 'Not found.'],
  406: ['not_acceptable', 'Not acceptable.'],
  409: ['conflict', 'Conflict.'],
  416: ['requested_range_not_satisfiable', 'Requested range not satisfiable.'],
  422: ['invalid_params', 'Invalid params.'],
  423: ['locked', 'Locked.'],
  429: ['rate_limit', 'Your account reached the API rate limit\nPlease wait a few minutes before making new requests'],
  500: ['internal_server_error', 'Internal server error.'],
  502: ['bad_gateway', 'Bad gateway.'],
  503: ['service_unavailable', 'Service unavailable.'],
  504: ['gateway_timeout', 'Gateway timeout.'],
};

function errorFor(status: number): [string, string] {
  return ERROR_IDS[status] ?? [status >= 500 ? 'internal_server_error' : 'bad_request', `HTTP ${status}`];
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Accept must name Heroku's media type with version 3 (3.x variants included). */
function acceptable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (type?.toLowerCase() !== 'application/vnd.heroku+json') return false;
    return params.some((p) => /^version\s*=\s*"?3(\.[\w.-]+)?"?$/i.test(p));
  });
}

function credentials(auth: string | undefined): string | undefined {
  if (!auth) return undefined;
  const m = /^(\w+)\s+(.+)$/.exec(auth.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'bearer') return m[2]!.trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2]!.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

interface ParsedRange {
  attr: string;
  first?: string;
  firstExclusive: boolean;
  last?: string;
  lastExclusive: boolean;
  max?: number;
  order: 'asc' | 'desc';
}

/** `id ]abc..; max=10` → parts; undefined when it is not a Range of this API's form. */
export function parseRange(header: string): ParsedRange | undefined {
  const [spec, ...params] = header.split(';').map((s) => s.trim());
  const m = /^([a-z_]+)\s*(\]?)([^.\s]*)\.\.([^[\s]*)(\[?)$/i.exec(spec ?? '');
  if (!m) return undefined;
  const range: ParsedRange = {
    attr: m[1]!,
    firstExclusive: m[2] === ']',
    lastExclusive: m[5] === '[',
    order: 'asc',
  };
  if (m[3]) range.first = m[3];
  if (m[4]) range.last = m[4];
  for (const p of params) {
    if (!p) continue;
    const [k, v] = p.split('=').map((s) => s.trim());
    if (k === 'max') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) return undefined;
      range.max = n;
    } else if (k === 'order') {
      if (v !== 'asc' && v !== 'desc') return undefined;
      range.order = v;
    }
  }
  return range;
}

function validDrainUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length === 0) return false;
  try {
    const u = new URL(url);
    return ['http:', 'https:', 'syslog:', 'syslog+tls:'].includes(u.protocol) && u.hostname.length > 0;
  } catch {
    return false;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startHerokuApi(opts: StartHerokuApiOptions = {}): Promise<HerokuApiServer> {
  const token = opts.token ?? randomUUID();
  const pageSize = Math.max(1, Math.min(opts.pageSize ?? MAX_PAGE, MAX_PAGE));
  const refillPerMinute = opts.refillPerMinute ?? 0;
  const poolMax = opts.rateLimit ?? 4500;
  let pool = poolMax;
  let lastRefill = Date.now();
  const apps = new Map<string, AppState>();
  const calls: HerokuApiCall[] = [];
  const failRules: FailRule[] = [];
  let extraHeaders: Record<string, string> = {};

  function refill(): void {
    if (refillPerMinute <= 0) return;
    const now = Date.now();
    const add = Math.floor(((now - lastRefill) / 60_000) * refillPerMinute);
    if (add > 0) {
      pool = Math.min(Math.max(pool, poolMax), pool + add);
      lastRefill = now;
    }
  }

  function addApp(name: string, configVars: Record<string, string> = {}): HerokuAppRef {
    if (!APP_NAME_PATTERN.test(name)) throw new Error(`invalid Heroku app name: ${name}`);
    if (apps.has(name)) throw new Error(`app exists: ${name}`);
    const now = timestamp();
    const app: AppState = { id: randomUUID(), name, createdAt: now, updatedAt: now, configVars: { ...configVars }, drains: [] };
    apps.set(name, app);
    return { id: app.id, name };
  }

  function findApp(identity: string): AppState | undefined {
    if (UUID_RE.test(identity)) {
      for (const app of apps.values()) if (app.id === identity.toLowerCase()) return app;
      return undefined;
    }
    return APP_NAME_PATTERN.test(identity) ? apps.get(identity) : undefined;
  }

  function mustApp(identity: string): AppState {
    const app = findApp(identity);
    if (!app) throw new ApiError(404, 'not_found', "Couldn't find that app.", { resource: 'app' });
    return app;
  }

  function controlApp(name: string): AppState {
    const app = findApp(name);
    if (!app) throw new Error(`no such app in the Heroku stand-in: ${name}`);
    return app;
  }

  function newDrain(app: AppState, url: string, addon: HerokuAddonRef | null): HerokuDrain {
    const now = timestamp();
    const drain: HerokuDrain = {
      id: randomUUID(),
      url,
      token: `d.${randomUUID()}`,
      addon,
      app: { id: app.id, name: app.name },
      created_at: now,
      updated_at: now,
    };
    app.drains.push(drain);
    return drain;
  }

  function appJson(app: AppState) {
    return {
      id: app.id,
      name: app.name,
      created_at: app.createdAt,
      updated_at: app.updatedAt,
      region: { id: '59accabd-516d-4f0e-83e6-6e3757701145', name: 'us' },
      stack: { id: '69bee368-352b-4bd0-9b7c-819d860a2588', name: 'heroku-24' },
      web_url: `https://${app.name}-0123456789ab.herokuapp.com/`,
      git_url: `https://git.heroku.com/${app.name}.git`,
      maintenance: false,
    };
  }

  /** Answers a list the way the API does: ordered by id, cut to a page, 206 + Next-Range. */
  function sendList<T extends { id: string }>(req: IncomingMessage, items: T[]): { status: number; body: T[]; headers: Record<string, string> } {
    const headers: Record<string, string> = { 'Accept-Ranges': 'id' };
    const header = req.headers.range;
    let range: ParsedRange = { attr: 'id', firstExclusive: false, lastExclusive: false, order: 'asc' };
    if (header) {
      const parsed = parseRange(header);
      if (!parsed || parsed.attr !== 'id' || parsed.order !== 'asc') {
        throw new ApiError(416, 'requested_range_not_satisfiable', `Requested range is invalid or not supported: ${header}. Accept-Ranges: id`);
      }
      range = parsed;
    }
    const max = Math.min(range.max ?? DEFAULT_PAGE, MAX_PAGE, pageSize);
    const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const inRange = sorted.filter((it) => {
      if (range.first !== undefined && (range.firstExclusive ? it.id <= range.first : it.id < range.first)) return false;
      if (range.last !== undefined && (range.lastExclusive ? it.id >= range.last : it.id > range.last)) return false;
      return true;
    });
    const page = inRange.slice(0, max);
    if (page.length > 0) headers['Content-Range'] = `id ${page[0]!.id}..${page[page.length - 1]!.id}`;
    if (inRange.length > page.length) {
      headers['Next-Range'] = `id ]${page[page.length - 1]!.id}..; max=${max}`;
      return { status: 206, body: page, headers };
    }
    return { status: 200, body: page, headers };
  }

  function findDrain(app: AppState, identity: string): HerokuDrain {
    const drain = app.drains.find((d) => d.id === identity || d.url === identity || d.token === identity);
    if (!drain) throw new ApiError(404, 'not_found', "Couldn't find that log drain.", { resource: 'log-drain' });
    return drain;
  }

  interface Answer {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
  }

  function route(req: IncomingMessage, method: string, rawPath: string, body: unknown): Answer {
    const q = rawPath.indexOf('?');
    const pathOnly = q < 0 ? rawPath : rawPath.slice(0, q);
    const seg = pathOnly.split('/').filter(Boolean);

    if (seg.length === 1 && seg[0] === 'account' && method === 'GET') {
      return { status: 200, body: { id: '2b4b2bbf-d6cb-4f2a-9a5a-0f6c8b2b8d4e', email: 'ops@raxx.test', name: 'Raxx Ops' } };
    }
    if (seg[0] !== 'apps') throw new ApiError(404, 'not_found', 'The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), and did you specify your intended version with the `Accept` header?');
    if (seg.length === 1 && method === 'GET') {
      const list = [...apps.values()].map(appJson);
      return sendList(req, list);
    }
    const appId = decodeURIComponent(seg[1] ?? '');
    if (seg.length === 2 && method === 'GET') return { status: 200, body: appJson(mustApp(appId)) };

    if (seg[2] === 'config-vars' && seg.length === 3) {
      const app = mustApp(appId);
      if (method === 'GET') return { status: 200, body: { ...app.configVars } };
      if (method === 'PATCH') {
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          throw new ApiError(422, 'invalid_params', 'Config vars must be an object of strings.');
        }
        for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
          if (v !== null && typeof v !== 'string') throw new ApiError(422, 'invalid_params', `Config var ${k} must be a string or null.`);
        }
        for (const [k, v] of Object.entries(body as Record<string, string | null>)) {
          if (v === null) delete app.configVars[k];
          else app.configVars[k] = v;
        }
        app.updatedAt = timestamp();
        return { status: 200, body: { ...app.configVars } };
      }
    }

    if (seg[2] === 'log-drains') {
      const app = mustApp(appId);
      if (seg.length === 3 && method === 'GET') return sendList(req, app.drains);
      if (seg.length === 3 && method === 'POST') {
        const url = (body as { url?: unknown } | null)?.url;
        if (url === undefined || url === null || url === '') throw new ApiError(422, 'invalid_params', 'Missing required params: url');
        if (!validDrainUrl(url)) throw new ApiError(422, 'invalid_params', 'Url is invalid');
        if (app.drains.some((d) => d.url === url)) throw new ApiError(422, 'invalid_params', 'Url has already been taken');
        return { status: 201, body: newDrain(app, url, null) };
      }
      if (seg.length >= 4) {
        // The identity is a drain id, token or URL; a URL arrives URL-encoded, so everything
        // after `/log-drains/` (an unencoded `?` included) is the identity.
        const marker = `/log-drains/`;
        const raw = rawPath.slice(rawPath.indexOf(marker) + marker.length);
        let identity: string;
        try {
          identity = decodeURIComponent(raw);
        } catch {
          identity = raw;
        }
        const drain = findDrain(app, identity);
        if (method === 'GET') return { status: 200, body: drain };
        if (method === 'DELETE') {
          if (drain.addon) {
            throw new ApiError(
              422,
              'invalid_params',
              `Log drains added by add-ons can only be removed by removing the add-on. Remove the add-on ${drain.addon.name} instead.`,
            );
          }
          app.drains = app.drains.filter((d) => d !== drain);
          return { status: 200, body: drain };
        }
      }
    }
    throw new ApiError(404, 'not_found', 'The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), and did you specify your intended version with the `Accept` header?');
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url ?? '/';
    const call: HerokuApiCall = { method, path, status: 0 };
    if (req.headers.range) call.range = req.headers.range;
    let rateLimitHeader: number | undefined;

    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      calls.push(call);
      refill();
      const payload = JSON.stringify(body);
      res.writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(payload)),
        'RateLimit-Remaining': String(rateLimitHeader ?? pool),
        'Request-Id': randomUUID(),
        ...extraHeaders,
        ...headers,
      });
      res.end(payload);
    };
    const sendError = (status: number, id: string, message: string, extra: Record<string, unknown> = {}) =>
      send(status, { id, message, ...extra });

    let text: string;
    try {
      text = await readBody(req);
    } catch {
      res.destroy();
      return;
    }

    if (!acceptable(req.headers.accept)) {
      return sendError(
        406,
        'not_acceptable',
        'Please specify a version along with Heroku\'s API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`.',
      );
    }
    if (credentials(req.headers.authorization) !== token) {
      return sendError(401, 'unauthorized', 'Invalid credentials provided.');
    }
    refill();
    if (pool <= 0) {
      return sendError(429, 'rate_limit', ERROR_IDS[429]![1]);
    }
    pool -= 1;

    const rule = failRules.find(
      (r) =>
        r.remaining > 0 &&
        (r.method === undefined || r.method.toUpperCase() === method) &&
        (r.pathIncludes === undefined || path.includes(r.pathIncludes)),
    );
    if (rule) {
      rule.remaining -= 1;
      if (rule.remaining === 0) failRules.splice(failRules.indexOf(rule), 1);
      if (rule.status === 429) rateLimitHeader = 0;
      const [id, message] = errorFor(rule.status);
      return send(rule.status, rule.body ?? { id, message });
    }

    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        return sendError(400, 'bad_request', 'Invalid JSON in request body.');
      }
      call.body = body;
    }

    try {
      const answer = route(req, method, path, body);
      send(answer.status, answer.body, answer.headers);
    } catch (err) {
      if (err instanceof ApiError) return sendError(err.status, err.id, err.message, err.extra);
      sendError(500, 'internal_server_error', `stand-in error: ${String(err)}`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  for (const name of opts.apps ?? []) addApp(name);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    calls,
    resetCalls() {
      calls.length = 0;
    },
    addApp,
    addDrain(appName, url, drainOpts = {}) {
      const app = controlApp(appName);
      let addon: HerokuAddonRef | null = null;
      if (typeof drainOpts.addon === 'string') addon = { id: randomUUID(), name: drainOpts.addon };
      else if (drainOpts.addon) addon = { id: drainOpts.addon.id ?? randomUUID(), name: drainOpts.addon.name };
      return structuredClone(newDrain(app, url, addon));
    },
    drains(appName) {
      return structuredClone(controlApp(appName).drains);
    },
    configVars(appName) {
      return { ...controlApp(appName).configVars };
    },
    setConfigVars(appName, vars) {
      const app = controlApp(appName);
      for (const [k, v] of Object.entries(vars)) {
        if (v === null) delete app.configVars[k];
        else app.configVars[k] = v;
      }
    },
    failNext(count, status, failOpts = {}) {
      if (count > 0) failRules.push({ ...failOpts, remaining: count, status });
    },
    setRateLimitRemaining(n) {
      pool = n;
      lastRefill = Date.now();
    },
    rateLimitRemaining() {
      refill();
      return pool;
    },
    setResponseHeaders(headers) {
      extraHeaders = { ...headers };
    },
    stop() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
