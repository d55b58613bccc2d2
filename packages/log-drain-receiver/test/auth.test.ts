import { describe, expect, it } from 'vitest';
import { authenticate, offeredTokens } from '../src/auth.js';
import { parseEvent, type FunctionUrlEvent } from '../src/event.js';

function event(query: string, headers: Record<string, string> = {}): FunctionUrlEvent {
  const ev = parseEvent({ version: '2.0', rawQueryString: query, headers, requestContext: { http: { method: 'POST' } } });
  if (!ev) throw new Error('fixture is not an event');
  return ev;
}
const basic = (userinfo: string) => ({ Authorization: `Basic ${Buffer.from(userinfo).toString('base64')}` });

describe('offeredTokens', () => {
  it('reads ?token=, Bearer and the Basic-auth password', () => {
    expect(offeredTokens(event('app=a&token=q%2Bq'))).toEqual(['q+q']);
    expect(offeredTokens(event('', { authorization: 'bearer  b-tok ' }))).toEqual(['b-tok']);
    expect(offeredTokens(event('', basic('drain:p:with:colons')))).toEqual(['p:with:colons']);
    expect(offeredTokens(event('token=q', { authorization: 'Bearer b' }))).toEqual(['q', 'b']);
  });

  it('offers nothing for empty values, a Basic user without password, or other schemes', () => {
    expect(offeredTokens(event('token='))).toEqual([]);
    expect(offeredTokens(event('', basic('only-a-user')))).toEqual([]);
    expect(offeredTokens(event('', basic('drain:')))).toEqual([]);
    expect(offeredTokens(event('', { authorization: 'Digest abc' }))).toEqual([]);
    expect(offeredTokens(event('', { authorization: 'Bearer' }))).toEqual([]);
  });
});

describe('authenticate', () => {
  it('accepts the current or the previous token from any place', () => {
    const tokens = { current: 'cur', previous: 'prev' };
    expect(authenticate(event('token=cur'), tokens)).toEqual({ ok: true, tokenPresent: true });
    expect(authenticate(event('', basic('x:prev')), tokens)).toEqual({ ok: true, tokenPresent: true });
    expect(authenticate(event('token=wrong', { authorization: 'Bearer cur' }), tokens).ok).toBe(true);
    expect(authenticate(event('token=wrong'), tokens)).toEqual({ ok: false, tokenPresent: true });
    expect(authenticate(event(''), tokens)).toEqual({ ok: false, tokenPresent: false });
  });

  it('follows the tokens through many rotations: only the configured ones match', () => {
    for (let i = 1; i <= 10; i++) {
      const tokens = { current: `t${i}`, previous: `t${i - 1}` };
      expect(authenticate(event(`token=t${i}`), tokens).ok).toBe(true);
      expect(authenticate(event(`token=t${i - 1}`), tokens).ok).toBe(true);
      expect(authenticate(event(`token=t${i - 2}`), tokens).ok).toBe(false);
    }
  });

  it('never accepts anything against an unset previous token', () => {
    expect(authenticate(event('token=x'), { current: 'cur' }).ok).toBe(false);
    expect(authenticate(event('token=x'), { current: 'cur', previous: '' }).ok).toBe(false);
  });
});
