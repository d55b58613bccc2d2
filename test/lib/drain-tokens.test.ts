// Which tokens a rotation keeps accepting, from every mix of function, SSM and drains that a
// hand, a killed run or a forgotten drain can leave. The rule under test: a token the function
// accepts now and a drain carries is never dropped before its drains moved; the drains' token is
// accepted again when the function refuses it; no finding names a token.
import { describe, expect, it } from 'vitest';
import { planTokens, type TokenState } from '../../src/lib/drains/tokens.js';

const APPS = ['raxx-api-prod', 'raxx-console-prod', 'raxx-velvet-prod'];
const S = 'token-ssm-and-drains-0001';
const F = 'token-set-by-hand-0002';
const Q = 'token-stale-0003';
const N = 'token-new-from-a-run-0004';
const X = 'token-in-ssm-by-hand-0005';

/** One drain per app, carrying the token given for it. */
const drains = (...tokens: (string | undefined)[]) => tokens.map((token, i) => ({ app: APPS[i]!, token }));
const state = (s: Partial<TokenState>): TokenState => ({ current: S, previous: undefined, urlToken: S, ssmToken: S, drains: drains(S, S, S), ...s });

interface Row {
  name: string;
  state: TokenState;
  kind: 'rotate' | 'repair' | 'resume';
  /** rotate/repair: the token kept beside the new one; resume: [new, old]. */
  keep: string | undefined | [string, string];
  refused?: string[][];
  findings?: RegExp[];
}

const rows: Row[] = [
  { name: 'all in line', state: state({}), kind: 'rotate', keep: S, findings: [] },
  { name: 'no drain at all, all in line', state: state({ drains: [] }), kind: 'rotate', keep: S, findings: [] },
  {
    name: "the function's token changed by hand",
    state: state({ current: F }),
    kind: 'repair',
    keep: S,
    findings: [/SSM drain_url carries a token the function refuses/, /the drains of raxx-api-prod, raxx-console-prod, raxx-velvet-prod carry a token the function refuses/],
  },
  {
    name: "the function's token changed by hand, DRAIN_TOKEN_PREVIOUS stale",
    state: state({ current: F, previous: Q }),
    kind: 'repair',
    keep: S,
    findings: [/carry a token the function refuses/, /DRAIN_TOKEN_PREVIOUS is a token no drain carries/],
  },
  { name: 'the function has no DRAIN_TOKEN', state: state({ current: undefined }), kind: 'repair', keep: S, findings: [/has no DRAIN_TOKEN/] },
  { name: 'SSM changed by hand (both parameters)', state: state({ urlToken: X, ssmToken: X }), kind: 'repair', keep: S, findings: [/SSM drain_url carries a token the function refuses/] },
  { name: 'SSM drain_token alone differs', state: state({ ssmToken: X }), kind: 'repair', keep: S, findings: [/drain_token differs from the token in drain_url/] },
  { name: 'SSM drain_url without a token', state: state({ urlToken: undefined }), kind: 'repair', keep: S, findings: [/drain_url carries no token/] },
  {
    name: "one app's drain left on a refused token",
    state: state({ drains: drains(Q, S, S) }),
    kind: 'repair',
    keep: S,
    refused: [['raxx-api-prod']],
    findings: [/the drains of raxx-api-prod carry a token the function refuses/],
  },
  { name: 'a rotation killed after its function step (drains still old)', state: state({ current: N, previous: S }), kind: 'resume', keep: [N, S], findings: [] },
  { name: 'a rotation killed while wiring (some apps new, some old)', state: state({ current: N, previous: S, urlToken: N, ssmToken: N, drains: drains(N, S, S) }), kind: 'resume', keep: [N, S], findings: [] },
  { name: 'a rotation killed in its grace wait (DRAIN_TOKEN_PREVIOUS no drain carries)', state: state({ current: N, previous: S, urlToken: N, ssmToken: N, drains: drains(N, N, N) }), kind: 'resume', keep: [N, S], findings: [] },
  {
    name: 'a rotation killed while wiring, then SSM changed by hand',
    state: state({ current: N, previous: S, urlToken: X, ssmToken: X, drains: drains(N, S, S) }),
    kind: 'resume',
    keep: [N, S],
    findings: [/SSM drain_url carries a token the function refuses/],
  },
  {
    name: "a rotation killed before wiring, then the function's DRAIN_TOKEN changed by hand",
    state: state({ current: F, previous: Q, urlToken: N, ssmToken: N, drains: drains(Q, Q, Q) }),
    kind: 'repair',
    keep: Q,
  },
  {
    name: 'three tokens in use, two accepted: the two are kept, the third waits for its new drain',
    state: state({ current: N, previous: S, drains: drains(N, S, Q) }),
    kind: 'resume',
    keep: [N, S],
    refused: [['raxx-velvet-prod']],
    findings: [/carry 3 different tokens; the function accepts two at a time/],
  },
  {
    name: 'three tokens in use, one accepted: that one is kept',
    state: state({ drains: drains(Q, X, S) }),
    kind: 'repair',
    keep: S,
    refused: [['raxx-api-prod'], ['raxx-console-prod']],
  },
  {
    name: 'tokens in use all refused: the one on the most apps is kept',
    state: state({ current: F, drains: drains(Q, X, X) }),
    kind: 'repair',
    keep: X,
    refused: [['raxx-api-prod']],
  },
  { name: 'tokens in use all refused, a tie: the one SSM names is kept', state: state({ current: F, urlToken: X, ssmToken: X, drains: drains(Q, X) }), kind: 'repair', keep: X, refused: [['raxx-api-prod']] },
  { name: 'no drain, the function changed by hand: what the function takes is kept', state: state({ current: F, drains: [] }), kind: 'repair', keep: F },
  { name: 'DRAIN_TOKEN_PREVIOUS is the drains\' token, DRAIN_TOKEN set by hand: finish towards it', state: state({ current: F, previous: S }), kind: 'resume', keep: [F, S], findings: [] },
  {
    name: 'a drain without a token is no token in use',
    state: state({ current: F, drains: drains(undefined, S, S) }),
    kind: 'repair',
    keep: S,
    refused: [],
  },
  {
    name: 'two drains on one app count once for the app, twice as drains',
    state: state({ current: F, drains: [{ app: APPS[0]!, token: Q }, { app: APPS[0]!, token: Q }, { app: APPS[1]!, token: X }] }),
    kind: 'repair',
    keep: Q,
    refused: [['raxx-console-prod']],
  },
];

describe('planTokens: which tokens a rotation keeps accepting', () => {
  for (const row of rows) {
    it(row.name, () => {
      const plan = planTokens(row.state);
      expect(plan.kind).toBe(row.kind);
      if (plan.kind === 'resume') expect([plan.newToken, plan.oldToken]).toEqual(row.keep);
      else expect(plan.keep).toBe(row.keep);
      if (row.refused) expect(plan.refused.map((g) => g.apps)).toEqual(row.refused);
      if (row.findings) {
        if (row.findings.length === 0) expect(plan.findings).toEqual([]);
        for (const f of row.findings) expect(plan.findings.some((x) => f.test(x)), `${f} in ${JSON.stringify(plan.findings)}`).toBe(true);
      }
      for (const f of plan.findings) for (const t of [S, F, Q, N, X]) expect(f).not.toContain(t);

      // The safety rule, for every row: what the function accepts during the run includes
      // every token a drain carries that it accepts now.
      const during = plan.kind === 'resume' ? [plan.newToken, plan.oldToken] : [plan.keep];
      const acceptedNow = [row.state.current, row.state.previous].filter(Boolean);
      for (const d of row.state.drains) if (d.token && acceptedNow.includes(d.token)) expect(during).toContain(d.token);
    });
  }
});
