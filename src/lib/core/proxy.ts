// The operator's proxy: HTTPS_PROXY / HTTP_PROXY (either case) for every call that leaves the
// laptop, except the hosts NO_PROXY names. Behind a corporate proxy a direct connection only
// times out, with nothing to say why. One rule for every client: the AWS SDK's and Heroku's
// (node:http agents), fetch (undici's dispatcher) and the lean S3 GET (s3-socket.ts).
import type { Agent } from 'node:http';
import { registerSecret } from './secrets.js';

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  return (env[name] ?? env[name.toLowerCase()])?.trim() || undefined;
}

/**
 * Whether NO_PROXY exempts a host: `*`, or a comma/space list of names (a name also covers its
 * subdomains; a leading `.` or `*.` is the same), optionally with a port, and IP literals.
 */
export function noProxy(url: URL, env: Env): boolean {
  const list = read(env, 'NO_PROXY');
  if (!list) return false;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return list.split(/[\s,]+/).some((entry) => {
    if (!entry) return false;
    if (entry === '*') return true;
    const e = entry.toLowerCase();
    // `[::1]:8080`, `::1` (a bare IPv6 address has no port), `host:8080`, `host`.
    const m = /^\[(.*)\](?::(\d+))?$/.exec(e) ?? (e.split(':').length > 2 ? [e, e, undefined] : /^(.*?)(?::(\d+))?$/.exec(e)!);
    if (m[2] && m[2] !== port) return false;
    const name = m[1].replace(/^\*?\./, '');
    return host === name || host.endsWith(`.${name}`);
  });
}

/** The proxy a request to `target` goes through, or undefined for a direct connection. */
export function proxyFor(target: string | URL, env: Env): URL | undefined {
  const url = typeof target === 'string' ? new URL(target) : target;
  const raw = url.protocol === 'https:' ? (read(env, 'HTTPS_PROXY') ?? read(env, 'HTTP_PROXY')) : read(env, 'HTTP_PROXY');
  if (!raw || noProxy(url, env)) return undefined;
  try {
    const proxy = new URL(raw.includes('://') ? raw : `http://${raw}`);
    // A proxy password is a secret like any other: never printed, --debug included.
    if (proxy.password) registerSecret(decodeURIComponent(proxy.password));
    return proxy;
  } catch {
    return undefined;
  }
}

/** A node:http(s) agent that goes through the proxy for `target`, or undefined when none applies. */
export async function proxyAgent(target: string | URL, env: Env, opts: { keepAlive?: boolean; maxSockets?: number } = {}): Promise<Agent | undefined> {
  const url = typeof target === 'string' ? new URL(target) : target;
  const proxy = proxyFor(url, env);
  if (!proxy) return undefined;
  if (url.protocol === 'https:') {
    const { HttpsProxyAgent } = await import('https-proxy-agent');
    return new HttpsProxyAgent(proxy, opts);
  }
  const { HttpProxyAgent } = await import('http-proxy-agent');
  return new HttpProxyAgent(proxy, opts);
}

/** fetch() that honours the proxy variables of `env` (undici's EnvHttpProxyAgent, given them explicitly). */
export async function proxiedFetch(env: Env): Promise<typeof fetch> {
  const httpProxy = read(env, 'HTTP_PROXY');
  const httpsProxy = read(env, 'HTTPS_PROXY');
  if (!httpProxy && !httpsProxy) return fetch;
  const undici = await import('undici');
  const dispatcher = new undici.EnvHttpProxyAgent({ ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy: read(env, 'NO_PROXY') ?? '' });
  return (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => undici.fetch(input as never, { ...(init as object), dispatcher });
}
