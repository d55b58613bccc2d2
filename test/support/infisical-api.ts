// A local Infisical API: what raxx-ops uses of it, behaving as Infisical's API reference
// describes it. Reached through attachments.infisical.apiUrl.
//
// What it holds to:
// - `POST /api/v1/auth/universal-auth/login` with `{clientId, clientSecret}` answers
//   `{accessToken, expiresIn, accessTokenMaxTTL, tokenType: "Bearer"}`; wrong credentials 401;
// - every other call needs `Authorization: Bearer <access token>` (a login's, or a token given
//   up front as INFISICAL_TOKEN would be), else 401;
// - `GET /api/v4/secrets/{name}?projectId&environment&secretPath` → `{secret: {...}}`, 404 when the
//   project, environment, folder or secret does not exist;
// - `PATCH /api/v4/secrets/{name}` and `POST /api/v4/secrets/{name}` with `{projectId,
//   environment, secretPath, secretValue}`: update (404 when missing) and create (400 when it
//   exists); the folder's trailing "/" is trimmed as Infisical does;
// - `PATCH /api/v4/secrets/batch` with `{projectId, environment, secretPath, mode, secrets:
//   [{secretKey, secretValue}]}`: all or nothing; mode `upsert` creates the missing ones,
//   `failOnNotFound` (the default) answers 404 for them;
// - an identity may be limited to some environments: elsewhere 403;
// - errors as JSON `{statusCode, message, error}`.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InfisicalCall {
  method: string;
  /** Path without the query. */
  path: string;
  status: number;
  /** The secret named, for secrets calls. */
  secret?: string;
}

export interface StartInfisicalOptions {
  clientId?: string;
  clientSecret?: string;
  projectId?: string;
  /** Environments that exist in the project (default prod and staging). */
  environments?: string[];
  /** Folders that exist, in every environment (default the attachments runbook's). */
  folders?: string[];
  /** Environments the identity may read and edit (default all). */
  allowed?: string[];
}

export interface InfisicalApiServer {
  url: string;
  clientId: string;
  clientSecret: string;
  projectId: string;
  /** An access token that works without a login (what INFISICAL_TOKEN holds). */
  token: string;
  calls: InfisicalCall[];
  /** The secret's value, as the vault holds it now. */
  secret(environment: string, path: string, name: string): string | undefined;
  setSecret(environment: string, path: string, name: string, value: string): void;
  /** Revokes every access token (a login gets a new one). */
  revokeTokens(): void;
  stop(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const NAMES: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function folder(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

export async function startInfisicalApi(opts: StartInfisicalOptions = {}): Promise<InfisicalApiServer> {
  const clientId = opts.clientId ?? randomUUID();
  const clientSecret = opts.clientSecret ?? randomUUID().replace(/-/g, '');
  const projectId = opts.projectId ?? randomUUID();
  const environments = new Set(opts.environments ?? ['prod', 'staging']);
  const folders = new Set((opts.folders ?? ['/MooseQuest/aws/support-attachments']).map(folder));
  const allowed = opts.allowed ? new Set(opts.allowed) : undefined;
  const tokens = new Set<string>([`st.${randomUUID()}`]);
  const fixedToken = [...tokens][0]!;
  const secrets = new Map<string, { value: string; version: number; id: string; createdAt: string; updatedAt: string }>();
  const calls: InfisicalCall[] = [];
  const keyOf = (env: string, path: string, name: string) => `${env}\u0000${folder(path)}\u0000${name}`;

  async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (chunks.length === 0) return {};
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new ApiError(400, 'body is not JSON');
    }
  }

  function where(q: Record<string, unknown>): { env: string; path: string } {
    const env = typeof q.environment === 'string' ? q.environment : '';
    const path = typeof q.secretPath === 'string' ? q.secretPath : '/';
    if (q.projectId !== projectId) throw new ApiError(404, `Project with ID '${String(q.projectId)}' not found`);
    if (!environments.has(env)) throw new ApiError(404, `Environment with slug '${env}' in project with ID ${projectId} not found`);
    if (allowed && !allowed.has(env)) throw new ApiError(403, 'You are not allowed to access secrets in this environment');
    if (folder(path) !== '/' && !folders.has(folder(path))) throw new ApiError(404, `Folder with path '${path}' in environment with slug '${env}' not found`);
    return { env, path };
  }

  function secretJson(env: string, name: string, s: { value: string; version: number; id: string; createdAt: string; updatedAt: string }) {
    return { id: s.id, _id: s.id, workspace: projectId, environment: env, version: s.version, type: 'shared', secretKey: name, secretValue: s.value, secretComment: '', createdAt: s.createdAt, updatedAt: s.updatedAt };
  }

  async function handle(req: IncomingMessage): Promise<{ status: number; json: unknown }> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    if (method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
      const b = await body(req);
      if (b.clientId !== clientId || b.clientSecret !== clientSecret) throw new ApiError(401, 'Invalid credentials');
      const accessToken = `eyJ.${randomUUID()}`;
      tokens.add(accessToken);
      return { status: 200, json: { accessToken, expiresIn: 7200, accessTokenMaxTTL: 43200, tokenType: 'Bearer' } };
    }
    const now = new Date().toISOString();
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!auth || !tokens.has(auth)) throw new ApiError(401, 'Token missing or invalid');
    if (method === 'PATCH' && url.pathname === '/api/v4/secrets/batch') {
      const b = await body(req);
      const { env, path } = where(b);
      const list = Array.isArray(b.secrets) ? (b.secrets as { secretKey?: unknown; secretValue?: unknown }[]) : undefined;
      if (!list || list.some((x) => typeof x.secretKey !== 'string' || typeof x.secretValue !== 'string')) throw new ApiError(400, 'secrets: Required');
      const mode = b.mode ?? 'failOnNotFound';
      if (mode !== 'upsert' && mode !== 'failOnNotFound') throw new ApiError(400, `mode: Invalid enum value '${typeof mode === 'string' ? mode : JSON.stringify(mode)}'`);
      if (mode === 'failOnNotFound') for (const x of list) if (!secrets.has(keyOf(env, path, x.secretKey as string))) throw new ApiError(404, `Secret with name '${String(x.secretKey)}' not found`);
      const out = list.map((x) => {
        const k = keyOf(env, path, x.secretKey as string);
        const s = secrets.get(k);
        if (s) Object.assign(s, { value: x.secretValue, version: s.version + 1, updatedAt: now });
        else secrets.set(k, { value: x.secretValue as string, version: 1, id: randomUUID(), createdAt: now, updatedAt: now });
        return secretJson(env, x.secretKey as string, secrets.get(k)!);
      });
      return { status: 200, json: { secrets: out } };
    }
    const m = /^\/api\/v4\/secrets\/([^/]+)$/.exec(url.pathname);
    if (!m) throw new ApiError(404, `Route ${method}:${url.pathname} not found`);
    const name = decodeURIComponent(m[1]!);
    if (method === 'GET') {
      const { env, path } = where(Object.fromEntries(url.searchParams));
      const s = secrets.get(keyOf(env, path, name));
      if (!s) throw new ApiError(404, `Secret with name '${name}' not found`);
      return { status: 200, json: { secret: secretJson(env, name, s) } };
    }
    const b = await body(req);
    const { env, path } = where(b);
    if (typeof b.secretValue !== 'string') throw new ApiError(400, 'secretValue: Required');
    const k = keyOf(env, path, name);
    const s = secrets.get(k);
    if (method === 'PATCH') {
      if (!s) throw new ApiError(404, `Secret with name '${name}' not found`);
      Object.assign(s, { value: b.secretValue, version: s.version + 1, updatedAt: now });
      return { status: 200, json: { secret: secretJson(env, name, s) } };
    }
    if (method === 'POST') {
      if (s) throw new ApiError(400, 'Secret already exist');
      const created = { value: b.secretValue, version: 1, id: randomUUID(), createdAt: now, updatedAt: now };
      secrets.set(k, created);
      return { status: 200, json: { secret: secretJson(env, name, created) } };
    }
    throw new ApiError(404, `Route ${method}:${url.pathname} not found`);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const secret = /^\/api\/v4\/secrets\/([^/]+)$/.exec(path)?.[1];
    const answer = (status: number, json: unknown) => {
      calls.push({ method: req.method ?? 'GET', path, status, ...(secret ? { secret: decodeURIComponent(secret) } : {}) });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(json));
    };
    handle(req).then(
      (r) => answer(r.status, r.json),
      (err: unknown) => {
        const status = err instanceof ApiError ? err.status : 500;
        answer(status, { statusCode: status, message: (err as Error).message, error: NAMES[status] ?? 'Internal Server Error' });
      },
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    projectId,
    token: fixedToken,
    calls,
    secret: (env, path, name) => secrets.get(keyOf(env, path, name))?.value,
    setSecret(env, path, name, value) {
      const now = new Date().toISOString();
      const s = secrets.get(keyOf(env, path, name));
      if (s) Object.assign(s, { value, version: s.version + 1, updatedAt: now });
      else secrets.set(keyOf(env, path, name), { value, version: 1, id: randomUUID(), createdAt: now, updatedAt: now });
    },
    revokeTokens: () => tokens.clear(),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
