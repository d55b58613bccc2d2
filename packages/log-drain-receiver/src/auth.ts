// Who may post: the drain URL carries a shared secret (DRAIN_TOKEN), as `?token=`, a Bearer
// header, or the password of the URL's userinfo (Logplex sends it as Basic auth). During a
// rotation DRAIN_TOKEN_PREVIOUS is accepted too, so no batch is refused while drains move.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DrainTokens } from './config.js';
import { header, queryParam, type FunctionUrlEvent } from './event.js';

export interface AuthResult {
  ok: boolean;
  /** Whether the request offered any token at all (for the log: never the token itself). */
  tokenPresent: boolean;
}

/** The tokens a request offers, empty ones left out. */
export function offeredTokens(event: FunctionUrlEvent): string[] {
  const offered: string[] = [];
  const query = queryParam(event, 'token');
  if (query) offered.push(query);
  const auth = header(event, 'authorization')?.trim();
  if (auth) {
    const space = auth.indexOf(' ');
    const scheme = (space === -1 ? auth : auth.slice(0, space)).toLowerCase();
    const value = space === -1 ? '' : auth.slice(space + 1).trim();
    if (scheme === 'bearer' && value) offered.push(value);
    if (scheme === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const password = colon === -1 ? '' : decoded.slice(colon + 1);
      if (password) offered.push(password);
    }
  }
  return offered;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

// The expected tokens change only on rotation, so their digests are kept rather than made per
// request. A few entries: the current and previous token, and whatever replaced them.
const expectedDigests = new Map<string, Buffer>();
function expectedDigest(token: string): Buffer {
  let d = expectedDigests.get(token);
  if (d === undefined) {
    if (expectedDigests.size >= 4) expectedDigests.clear();
    d = sha256(token);
    expectedDigests.set(token, d);
  }
  return d;
}

/** Equal-length digests compared in constant time, so neither length nor content leaks by timing. */
function sameSecret(offered: Buffer, expected: string | undefined): boolean {
  return expected ? timingSafeEqual(offered, expectedDigest(expected)) : false;
}

export function authenticate(event: FunctionUrlEvent, tokens: DrainTokens): AuthResult {
  const offered = offeredTokens(event);
  let ok = false;
  for (const t of offered) {
    const digest = sha256(t);
    // Both comparisons always run: which token matched is not observable either.
    const current = sameSecret(digest, tokens.current);
    const previous = sameSecret(digest, tokens.previous);
    ok = ok || current || previous;
  }
  return { ok, tokenPresent: offered.length > 0 };
}
