// The decisions behind the drains commands, without Heroku: desired URL, classification, plans.
import { describe, expect, it } from 'vitest';
import { classifyDrains, desiredDrainUrl, describeDrain, removePlan, sameDrainUrl, setQueryParam, tokenOfUrl, wirePlan, withToken } from '../../../src/lib/drains/plan.js';
import type { Drain } from '../../../src/lib/heroku/client.js';

const TOKEN = 'tok_0123456789abcdef~x';
const BASE = `https://abc123.lambda-url.us-east-1.on.aws/?token=${TOKEN}`;
let n = 0;
function drain(url: string, addon?: string): Drain {
  n++;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    url,
    token: `d.11111111-2222-4333-8444-${String(n).padStart(12, '0')}`,
    addon: addon ? { id: '99999999-0000-4000-8000-000000000000', name: addon } : null,
    created_at: '2024-05-01T10:00:00Z',
    updated_at: '2024-05-01T10:00:00Z',
  };
}

describe('desired drain URL', () => {
  it('adds app=<app> to the SSM URL without re-encoding the token', () => {
    expect(desiredDrainUrl(BASE, 'raxx-api-prod')).toBe(`${BASE}&app=raxx-api-prod`);
    expect(desiredDrainUrl('https://h.example/drain', 'raxx-api-prod')).toBe('https://h.example/drain?app=raxx-api-prod');
  });

  it('replaces an app already in the URL instead of adding a second one', () => {
    expect(desiredDrainUrl(`${BASE}&app=other-app`, 'raxx-api-prod')).toBe(`${BASE}&app=raxx-api-prod`);
  });

  it('finds and swaps the token in the query or the userinfo', () => {
    expect(tokenOfUrl(BASE)).toBe(TOKEN);
    expect(withToken(BASE, 'new-token-value')).toBe('https://abc123.lambda-url.us-east-1.on.aws/?token=new-token-value');
    expect(tokenOfUrl('https://:s3cret-value@h.example/d')).toBe('s3cret-value');
    expect(tokenOfUrl(withToken('https://:s3cret-value@h.example/d', 'other-secret'))).toBe('other-secret');
    expect(setQueryParam('https://h.example/?a=1#frag', 'b', '2')).toBe('https://h.example/?a=1&b=2#frag');
  });

  it('compares drain URLs by meaning: parameter order does not matter, values do', () => {
    expect(sameDrainUrl(`${BASE}&app=x1y`, `https://abc123.lambda-url.us-east-1.on.aws/?app=x1y&token=${TOKEN}`)).toBe(true);
    expect(sameDrainUrl(`${BASE}&app=x1y`, `${BASE}&app=x1z`)).toBe(false);
    expect(sameDrainUrl('https://H.example:443/d?a=1', 'https://h.example/d?a=1')).toBe(true);
  });
});

describe('classification', () => {
  const desired = desiredDrainUrl(BASE, 'raxx-api-prod');
  const drains = [
    drain(desired),
    drain(withToken(desired, 'old-token-value')),
    drain(desiredDrainUrl(BASE, 'raxx-console-prod')),
    drain(`https://abc123.lambda-url.us-east-1.on.aws/?app=raxx-api-prod&token=${TOKEN}`),
    drain('https://logs.papertrailapp.com:12345/?token=3rdparty'),
    drain('https://old-url.lambda-url.us-east-1.on.aws/?token=abc&app=raxx-api-prod'),
    drain('syslog+tls://logs.example.com:6514', 'papertrail-shaped-12345'),
  ];
  const classified = classifyDrains(drains, desired);

  it('marks current, stale (other token, other app, duplicate), foreign and add-on drains', () => {
    expect(classified.map((d) => [d.class, d.reason])).toEqual([
      ['current', undefined],
      ['stale', 'other token'],
      ['stale', 'app=raxx-console-prod'],
      ['stale', 'duplicate'],
      ['foreign', undefined],
      ['foreign', undefined],
      ['addon', undefined],
    ]);
  });

  it('wire: nothing to add when current exists; --prune removes only stale drains', () => {
    const plain = wirePlan('raxx-api-prod', classified, desired, { prune: false });
    expect(plain.add).toBeUndefined();
    expect(plain.remove).toEqual([]);
    const pruned = wirePlan('raxx-api-prod', classified, desired, { prune: true });
    expect(pruned.remove.map((d) => d.drain.id)).toEqual([drains[1]!.id, drains[2]!.id, drains[3]!.id]);
    expect(pruned.keep.map((d) => d.class)).toEqual(['current', 'foreign', 'foreign', 'addon']);
  });

  it('wire: adds the desired URL when there is no current drain', () => {
    const plan = wirePlan('raxx-api-prod', classifyDrains([drains[1]!], desired), desired, { prune: false });
    expect(plan.add).toBe(desired);
  });

  it('remove: --all takes the receiver drains, --include-foreign everything but add-on drains, --id one', () => {
    expect(removePlan('a', classified, { kind: 'all', includeForeign: false }).remove.map((d) => d.class)).toEqual(['current', 'stale', 'stale', 'stale']);
    const wide = removePlan('a', classified, { kind: 'all', includeForeign: true });
    expect(wide.remove).toHaveLength(6);
    expect(wide.skipped.map((s) => s.drain.class)).toEqual(['addon']);
    expect(removePlan('a', classified, { kind: 'stale' }).remove).toHaveLength(3);
    expect(removePlan('a', classified, { kind: 'id', id: drains[4]!.id }).remove.map((d) => d.drain.id)).toEqual([drains[4]!.id]);
    const addon = removePlan('a', classified, { kind: 'id', id: drains[6]!.id });
    expect(addon.remove).toEqual([]);
    expect(addon.skipped[0]?.why).toMatch(/remove the add-on/);
  });

  it('describes a drain with its token and query masked, app kept', () => {
    const d = describeDrain(classified[0]!);
    expect(d.url).toBe('https://abc123.lambda-url.us-east-1.on.aws/?token=****&app=raxx-api-prod');
    expect(d.token).toBe('d.****');
    expect(JSON.stringify(d)).not.toContain(TOKEN);
  });

  it('without the SSM URL nothing is current or stale', () => {
    expect(classifyDrains(drains, undefined).map((d) => d.class)).toEqual(['foreign', 'foreign', 'foreign', 'foreign', 'foreign', 'foreign', 'addon']);
  });
});
