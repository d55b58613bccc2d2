// What an app's log drains should be, and what each existing one is. Pure functions: the
// commands fetch the drains (one list per app) and the SSM drain URL, then act on the plans
// computed here, so the decisions are testable without Heroku.
import type { Drain } from '../heroku/client.js';
import { maskUrl } from '../core/secrets.js';

/**
 * current: exactly the desired drain (SSM drain URL + app=<app>);
 * stale: the receiver endpoint (same scheme, host and path) with another token or app, or a
 *        second copy of the current one;
 * foreign: anything else (a third-party drain, a previous endpoint);
 * addon: created by an add-on, removable only by removing the add-on.
 */
export type DrainClass = 'current' | 'stale' | 'foreign' | 'addon';

export interface ClassifiedDrain {
  drain: Drain;
  class: DrainClass;
  /** Why a drain is stale: 'other token', 'app=<other app>' or 'no app', 'duplicate', 'other query'. */
  reason?: string | undefined;
}

/** The drain URL an app should have: the SSM drain URL with `app=<app>` in its query. */
export function desiredDrainUrl(drainUrl: string, app: string): string {
  return setQueryParam(drainUrl, 'app', app);
}

/** The token a drain URL carries: its `token` query value, else the password of its userinfo. */
export function tokenOfUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    const q = u.searchParams.get('token');
    if (q) return q;
    if (u.password) return decodeURIComponent(u.password);
  } catch {
    // not a URL: no token
  }
  return undefined;
}

/** The same URL carrying another token, in the place the current one is (query or userinfo). */
export function withToken(url: string, token: string): string {
  const u = new URL(url);
  if (u.searchParams.has('token') || !u.password) return setQueryParam(url, 'token', token);
  u.password = encodeURIComponent(token);
  return u.toString();
}

/**
 * Sets one query parameter without re-encoding the others (a URLSearchParams round trip would
 * rewrite characters of the token, and Heroku compares URLs as strings).
 */
export function setQueryParam(url: string, key: string, value: string): string {
  const hashAt = url.indexOf('#');
  const base = hashAt < 0 ? url : url.slice(0, hashAt);
  const hash = hashAt < 0 ? '' : url.slice(hashAt);
  const qAt = base.indexOf('?');
  const head = qAt < 0 ? base : base.slice(0, qAt);
  const pairs = qAt < 0 ? [] : base.slice(qAt + 1).split('&').filter((p) => p !== '');
  const encoded = `${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
  let done = false;
  const out: string[] = [];
  for (const pair of pairs) {
    if (safeDecode(pair.split('=')[0] ?? '') === key) {
      if (!done) out.push(encoded);
      done = true;
    } else {
      out.push(pair);
    }
  }
  if (!done) out.push(encoded);
  return `${head}?${out.join('&')}${hash}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

interface Parsed {
  endpoint: string;
  userinfo: string;
  query: string[];
}

function parse(url: string): Parsed | undefined {
  try {
    const u = new URL(url);
    const query = [...u.searchParams.entries()].map(([k, v]) => `${k}=${v}`).sort();
    return { endpoint: `${u.protocol}//${u.host}${u.pathname}`, userinfo: `${u.username}:${u.password}`, query };
  } catch {
    return undefined;
  }
}

/** Equal as drains: same endpoint, credentials and query parameters (in any order). */
export function sameDrainUrl(a: string, b: string): boolean {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) return a === b;
  return pa.endpoint === pb.endpoint && pa.userinfo === pb.userinfo && pa.query.join('&') === pb.query.join('&');
}

/**
 * Classifies an app's drains against its desired URL. Without a desired URL (the SSM drain
 * URL was not needed or not readable), receiver drains cannot be told apart: everything is
 * foreign or addon.
 */
export function classifyDrains(drains: Drain[], desired: string | undefined): ClassifiedDrain[] {
  const wanted = desired === undefined ? undefined : parse(desired);
  let haveCurrent = false;
  return drains.map((drain) => {
    if (drain.addon) return { drain, class: 'addon' };
    if (!desired || !wanted) return { drain, class: 'foreign' };
    const got = parse(drain.url);
    if (!got || got.endpoint !== wanted.endpoint) return { drain, class: 'foreign' };
    if (sameDrainUrl(drain.url, desired)) {
      if (haveCurrent) return { drain, class: 'stale', reason: 'duplicate' };
      haveCurrent = true;
      return { drain, class: 'current' };
    }
    return { drain, class: 'stale', reason: staleReason(drain.url, desired) };
  });
}

function staleReason(url: string, desired: string): string {
  const token = tokenOfUrl(url);
  if (token !== tokenOfUrl(desired)) return 'other token';
  const app = safeParam(url, 'app');
  if (app !== safeParam(desired, 'app')) return app ? `app=${app}` : 'no app';
  return 'other query';
}

function safeParam(url: string, key: string): string | null {
  try {
    return new URL(url).searchParams.get(key);
  } catch {
    return null;
  }
}

export interface WirePlan {
  app: string;
  desired: string;
  /** The URL to POST, when the app has no current drain. */
  add: string | undefined;
  /** Stale drains to DELETE (only with --prune). */
  remove: ClassifiedDrain[];
  /** What is left as it is: the current drain, foreign and add-on drains, stale ones without --prune. */
  keep: ClassifiedDrain[];
}

export function wirePlan(app: string, drains: ClassifiedDrain[], desired: string, opts: { prune: boolean }): WirePlan {
  const hasCurrent = drains.some((d) => d.class === 'current');
  const remove = opts.prune ? drains.filter((d) => d.class === 'stale') : [];
  return {
    app,
    desired,
    add: hasCurrent ? undefined : desired,
    remove,
    keep: drains.filter((d) => !remove.includes(d)),
  };
}

export function planChanges(plan: WirePlan): number {
  return (plan.add ? 1 : 0) + plan.remove.length;
}

export type RemoveSelector = { kind: 'stale' } | { kind: 'all'; includeForeign: boolean } | { kind: 'id'; id: string };

export interface RemovePlan {
  app: string;
  remove: ClassifiedDrain[];
  /** Drains the selector matched but that cannot be removed here (add-on drains). */
  skipped: { drain: ClassifiedDrain; why: string }[];
}

export function removePlan(app: string, drains: ClassifiedDrain[], selector: RemoveSelector): RemovePlan {
  const plan: RemovePlan = { app, remove: [], skipped: [] };
  for (const d of drains) {
    let match: boolean;
    switch (selector.kind) {
      case 'stale':
        match = d.class === 'stale';
        break;
      case 'all':
        match = d.class === 'current' || d.class === 'stale' || (selector.includeForeign && d.class !== 'addon');
        if (selector.includeForeign && d.class === 'addon') plan.skipped.push({ drain: d, why: addonOnly(d) });
        break;
      case 'id':
        match = d.drain.id === selector.id || d.drain.token === selector.id;
        if (match && d.class === 'addon') {
          plan.skipped.push({ drain: d, why: addonOnly(d) });
          match = false;
        }
        break;
    }
    if (match) plan.remove.push(d);
  }
  return plan;
}

function addonOnly(d: ClassifiedDrain): string {
  return `created by the add-on ${d.drain.addon?.name ?? '(unnamed)'}; remove the add-on to remove it`;
}

/** A drain fit to print or put in JSON: URL query values, credentials and the token masked. */
export function describeDrain(d: ClassifiedDrain) {
  return {
    id: d.drain.id,
    class: d.class,
    ...(d.reason ? { reason: d.reason } : {}),
    url: maskUrl(d.drain.url),
    token: d.drain.token ? maskDrainToken(d.drain.token) : null,
    addon: d.drain.addon?.name ?? null,
    created_at: d.drain.created_at,
  };
}

/** `d.<uuid>` → `d.****`: the kind of token stays readable, never its value. */
export function maskDrainToken(token: string): string {
  const dot = token.indexOf('.');
  return dot > 0 ? `${token.slice(0, dot + 1)}****` : '****';
}

/**
 * Drains the classifier calls foreign or add-on that still go to the receiver's host (another
 * path, or an add-on pointing at it): they carry a token too, and a rotation would leave them
 * on one the function refuses. Rotation names them and removes the ones it can.
 */
export function receiverStrays(drains: ClassifiedDrain[], receiverUrl: string): ClassifiedDrain[] {
  let host: string;
  try {
    host = new URL(receiverUrl).host;
  } catch {
    return [];
  }
  return drains.filter((d) => {
    if (d.class !== 'foreign' && d.class !== 'addon') return false;
    try {
      return new URL(d.drain.url).host === host;
    } catch {
      return false;
    }
  });
}
